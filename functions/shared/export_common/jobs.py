"""Export jobs: their states, their record (``Job``) and their queue message.

Every read and state transition of a job is a conditional update in ``export_common.table``
(``JobRepository``); the table layout is described in ``docs/architecture.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JobStatus(StrEnum):
    """``QUEUED → RUNNING → SUCCEEDED | FAILED``, and the cancel (``DELETE /export/{jobId}``): a QUEUED
    job ends CANCELLED at once; a RUNNING one becomes CANCELLING until its worker has stopped and removed
    what it wrote, then CANCELLED. Only ``export_common.table.JobRepository`` moves a job between them."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
"""The terminal states: every one is written by ``export_common.ending.end_job``, once per job."""


@dataclass(frozen=True)
class Cancellation:
    """The outcome of a cancelled job, for ``end_job``: it ends CANCELLED from ``from_status`` (QUEUED:
    the API, its message still waiting; CANCELLING: the worker, after stopping and cleaning up)."""

    from_status: JobStatus


class JobError(BaseModel):
    """Why a job failed, in words a client may show."""

    code: str
    message: str


class CallbackState(StrEnum):
    """Where a job's completion webhook stands (``callbackUrl`` given at ``POST /export``)."""

    PENDING = "PENDING"  # the job has not ended, or its first attempt has not started
    DELIVERING = "DELIVERING"  # an attempt is in flight (``leaseUntil``)
    RETRYING = "RETRYING"  # the last attempt failed; the next one is queued for ``nextAttemptAt``
    DELIVERED = "DELIVERED"  # the receiver answered 2xx
    FAILED = "FAILED"  # every attempt failed

    @property
    def is_final(self) -> bool:
        return self in (CallbackState.DELIVERED, CallbackState.FAILED)


class CallbackRecord(BaseModel):
    """The webhook's delivery state, kept on the job record (map attribute ``callback``)."""

    model_config = ConfigDict(populate_by_name=True)

    state: CallbackState = CallbackState.PENDING
    attempts: int = 0
    delivery_id: str = Field(alias="deliveryId")
    last_status: int | None = Field(default=None, alias="lastStatus")
    last_error: str | None = Field(default=None, alias="lastError")
    lease_until: int | None = Field(default=None, alias="leaseUntil")
    next_attempt_at: int | None = Field(default=None, alias="nextAttemptAt")


class JobOutput(BaseModel):
    """Where the rendered file is and what it is."""

    model_config = ConfigDict(populate_by_name=True)

    key: str
    duration_seconds: float = Field(alias="durationSeconds")
    size_bytes: int = Field(alias="sizeBytes")
    width: int
    height: int
    render_seconds: float = Field(alias="renderSeconds")


class Job(BaseModel):
    """One export job as stored in the jobs table."""

    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    status: JobStatus
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    expires_at: int = Field(alias="expiresAt")
    request: str
    request_hash: str = Field(alias="requestHash")
    attempt: int = 0
    lease_until: int | None = Field(default=None, alias="leaseUntil")
    progress: float | None = None
    error: JobError | None = None
    # the transient failure that ended the previous attempt (set on release; the job is retried)
    last_error: JobError | None = Field(default=None, alias="lastError")
    output: JobOutput | None = None
    callback_url: str | None = Field(default=None, alias="callbackUrl")
    callback: CallbackRecord | None = None
    # fan-out (export_common.table.FanoutRepository): the chunk count, how many tasks the split sent
    # (chunks + audio), the names of those finished, and how often the join was claimed
    chunks: int | None = None
    fanout_tasks: int | None = Field(default=None, alias="fanoutTasks")
    done_tasks: frozenset[str] | None = Field(default=None, alias="doneTasks")
    join_claims: int | None = Field(default=None, alias="joinClaims")

    def lease_is_live(self, now: float) -> bool:
        """True while a RUNNING attempt holds the job (its heartbeat keeps extending the lease)."""
        return self.status is JobStatus.RUNNING and (self.lease_until or 0) >= int(now)

    def request_body(self) -> dict[str, Any]:
        """The validated ``POST /export`` body this job was created from."""
        body: dict[str, Any] = json.loads(self.request)
        return body


class JobMessage(BaseModel):
    """The body of a job-queue message."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    job_id: str = Field(alias="jobId", min_length=1, max_length=64)


def job_message_body(job_id: str) -> str:
    return JobMessage(job_id=job_id).model_dump_json(by_alias=True)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
