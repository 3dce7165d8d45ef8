"""Fan-out of one long export across worker Lambdas: task messages, work keys, and the table writes.

The worker that claims a long job splits it: one task message per video chunk and one for the audio
of the whole timeline, all carrying the job's attempt. Each task has a lease item of its own
(``task#<jobId>#<attempt>#<task>``) claimed and heart-beaten like a job, so a dead chunk worker's task
is taken over after one lease. A finished task adds its name to the job's ``doneTasks`` set under a
condition that refuses a name already there; the add that completes the set names the joiner, and the
join itself is claimed with a lease (``joinLeaseUntil``, ``joinClaims``) so a joiner that dies is
replaced and two joiners never run at once. Every write is conditioned on the job still RUNNING under
the attempt that split it: a task of a superseded attempt can never change the job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from export_common.jobs import JobMessage, JobStatus
from export_common.table import TASK_KEY_PREFIX, JobRepository, is_condition_failure, job_key, update_if

WORK_KEY_PREFIX: Final = "work/"
"""Chunks and the audio track of fanned-out jobs, in the exports bucket (a short lifecycle rule)."""
DEFAULT_WORK_EXPIRATION_DAYS: Final = 1
AUDIO_TASK: Final = "audio"
MAX_CHUNKS_LIMIT: Final = 100
"""The largest chunk count a deployment may configure (FANOUT_MAX_CHUNKS)."""


class TaskKind(StrEnum):
    CHUNK = "chunk"
    AUDIO = "audio"


class TaskMessage(BaseModel):
    """The body of a fan-out task message (same queue as job messages, told apart by ``task``)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    job_id: str = Field(alias="jobId", min_length=1, max_length=64)
    attempt: int = Field(ge=1)  # the job attempt that split the job
    task: TaskKind
    index: int | None = Field(default=None, ge=0, lt=MAX_CHUNKS_LIMIT)
    start_frame: int | None = Field(default=None, alias="startFrame", ge=0)
    end_frame: int | None = Field(default=None, alias="endFrame", ge=1)
    sent_at_ms: int = Field(alias="sentAt", ge=0)  # when the split sent it: queue-to-start latency

    @model_validator(mode="after")
    def _chunk_fields_match_the_kind(self) -> TaskMessage:
        chunk_fields = (self.index, self.start_frame, self.end_frame)
        if self.task is TaskKind.CHUNK:
            if None in chunk_fields:
                raise ValueError("a chunk task needs index, startFrame and endFrame")
            if self.end_frame <= self.start_frame:  # type: ignore[operator]
                raise ValueError("endFrame must be after startFrame")
        elif chunk_fields != (None, None, None):
            raise ValueError("the audio task takes no index or frames")
        return self

    @property
    def name(self) -> str:
        """The task's name in ``doneTasks`` and in its lease item: ``chunk-3`` or ``audio``."""
        return AUDIO_TASK if self.task is TaskKind.AUDIO else f"chunk-{self.index}"


def is_task_body(body: str) -> bool:
    """Cheap test before parsing: only task messages carry a ``task`` field."""
    return '"task"' in body


type QueueMessage = JobMessage | TaskMessage


def parse_queue_message(body: str) -> QueueMessage:
    """A job-queue body as the message it is, a job or a fan-out task (pydantic's ValidationError when it
    is neither); the worker parses each body once, with this."""
    model: type[JobMessage] | type[TaskMessage] = TaskMessage if is_task_body(body) else JobMessage
    return model.model_validate_json(body)


def chunk_key(job_id: str, index: int) -> str:
    """Deterministic: a retried chunk replaces its own file."""
    return f"{WORK_KEY_PREFIX}{job_id}/{index}.mp4"


def audio_key(job_id: str) -> str:
    return f"{WORK_KEY_PREFIX}{job_id}/audio.m4a"


def task_names(chunks: int) -> set[str]:
    """Every task of a job split into ``chunks`` chunks: the set ``doneTasks`` must reach."""
    return {f"chunk-{i}" for i in range(chunks)} | {AUDIO_TASK}


@dataclass(frozen=True)
class TaskClaim:
    """A claim of one task: its ``claims`` count identifies it (a later claim supersedes it)."""

    claims: int
    queued_at_ms: int
    started_at_ms: int


@dataclass(frozen=True)
class TaskState:
    claims: int
    lease_until: int

    def lease_is_live(self, now: float) -> bool:
        return self.lease_until >= int(now)


@dataclass(frozen=True)
class Finished:
    """What a finished task's add to ``doneTasks`` found: whether it counted, and the set's size."""

    counted: bool
    done: int
    total: int

    @property
    def complete(self) -> bool:
        return self.done >= self.total


def _now_ms() -> int:
    return int(time.time() * 1000)


class FanoutRepository:
    """The fan-out's writes to the jobs table: the split, task leases, chunk progress, the join claim."""

    def __init__(self, jobs: JobRepository):
        self._jobs = jobs
        self._table = jobs.table
        self._ttl_seconds = jobs.ttl_seconds

    # ------------------------------------------------------------------ job item
    def start(self, job_id: str, attempt: int, *, chunks: int, total_frames: int) -> bool:
        """Records the split on the job of this attempt; clears what an earlier attempt's split left."""
        return self._jobs.update_owned(
            job_id,
            attempt,
            "SET chunks = :n, fanoutTasks = :tasks, totalFrames = :frames, chunkFrames = :zeros, "
            "updatedAt = :now REMOVE doneTasks, joinLeaseUntil",
            {
                ":n": chunks,
                ":tasks": chunks + 1,
                ":frames": total_frames,
                ":zeros": {str(i): 0 for i in range(chunks)},
            },
        )

    def report_chunk_frames(self, job_id: str, attempt: int, index: int, frames: int) -> bool:
        """Stores one chunk's rendered frames, then the job's progress over all chunks (never lowered).

        False when the attempt no longer owns the job. Two writes: DynamoDB cannot sum a map.
        """
        item = self._jobs.update_owned_item(
            job_id,
            attempt,
            "SET chunkFrames.#i = :f, updatedAt = :now",
            {":f": frames},
            names={"#i": str(index)},
        )
        if item is None:
            return False
        total = int(item.get("totalFrames", 0)) or 1
        rendered = sum(int(v) for v in dict(item.get("chunkFrames", {})).values())
        # below 1: the job is complete only when the join wrote its final state
        progress = Decimal(str(round(min(rendered / total, 0.99), 3)))
        self._jobs.update_owned(
            job_id,
            attempt,
            "SET progress = :p, updatedAt = :now",
            {":p": progress},
            extra_condition="(attribute_not_exists(progress) OR progress < :p)",
        )
        return True

    def finish_task(self, job_id: str, attempt: int, name: str) -> Finished | None:
        """Adds ``name`` to ``doneTasks`` unless it is there; None when the attempt no longer owns the job."""
        item = self._jobs.update_owned_item(
            job_id,
            attempt,
            "ADD doneTasks :name SET updatedAt = :now",
            {":name": {name}, ":one": name},
            extra_condition="NOT contains(doneTasks, :one)",
        )
        if item is not None:
            return Finished(True, len(item.get("doneTasks", ())), int(item["fanoutTasks"]))
        current = self._job_item(job_id)
        if (
            current is None
            or current.get("status") != JobStatus.RUNNING.value
            or current.get("attempt") != attempt
        ):
            return None
        return Finished(False, len(current.get("doneTasks", ())), int(current["fanoutTasks"]))

    def claim_join(self, job_id: str, attempt: int, *, lease_seconds: int, now: float) -> int | None:
        """Claims the join once every task is done, unless a live joiner holds it; returns its number."""
        now_s = int(now)
        claimed = self._jobs.update_owned_item(
            job_id,
            attempt,
            "SET joinLeaseUntil = :lease, leaseUntil = :lease, updatedAt = :now ADD joinClaims :one",
            {":lease": now_s + lease_seconds, ":one": 1, ":now_s": now_s},
            extra_condition=(
                "attribute_exists(doneTasks) AND size(doneTasks) = fanoutTasks "
                "AND (attribute_not_exists(joinLeaseUntil) OR joinLeaseUntil < :now_s)"
            ),
            returning="UPDATED_NEW",
        )
        return None if claimed is None else int(claimed["joinClaims"])

    def extend_join_lease(
        self, job_id: str, attempt: int, join_claim: int, lease_seconds: int, *, now: float
    ) -> bool:
        """The joiner's heartbeat (the job's lease too); False when another joiner took over."""
        lease = int(now) + lease_seconds
        return self._jobs.update_owned(
            job_id,
            attempt,
            "SET joinLeaseUntil = :lease, leaseUntil = :lease, updatedAt = :now",
            {":lease": lease, ":claim": join_claim},
            extra_condition="joinClaims = :claim",
        )

    # ------------------------------------------------------------------ task items
    def claim_task(
        self,
        job_id: str,
        attempt: int,
        name: str,
        *,
        lease_seconds: int,
        now: float,
        max_attempts: int,
        sent_at_ms: int,
    ) -> TaskClaim | None:
        """A new claim of a task: never claimed, or its lease ran out and it has claims left."""
        now_s = int(now)
        try:
            result = self._table.update_item(
                Key={"pk": self._task_pk(job_id, attempt, name)},
                UpdateExpression=(
                    "SET leaseUntil = :lease, expiresAt = :expires, "
                    "queuedAt = if_not_exists(queuedAt, :sent), "
                    "startedAt = if_not_exists(startedAt, :started) ADD claims :one"
                ),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (leaseUntil < :now_s AND claims < :max_attempts)"
                ),
                ExpressionAttributeValues={
                    ":lease": now_s + lease_seconds,
                    ":expires": now_s + self._ttl_seconds,
                    ":sent": sent_at_ms,
                    ":started": _now_ms(),
                    ":one": 1,
                    ":now_s": now_s,
                    ":max_attempts": max_attempts,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        item: dict[str, Any] = dict(result["Attributes"])
        return TaskClaim(int(item["claims"]), int(item["queuedAt"]), int(item["startedAt"]))

    def task_state(self, job_id: str, attempt: int, name: str) -> TaskState | None:
        item = self._table.get_item(
            Key={"pk": self._task_pk(job_id, attempt, name)}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        state: dict[str, Any] = dict(item)
        return TaskState(int(state.get("claims", 0)), int(state.get("leaseUntil", 0)))

    def extend_task_lease(
        self, job_id: str, attempt: int, name: str, claims: int, lease_seconds: int, *, now: float
    ) -> bool:
        """A task's heartbeat; False when a later claim of the task superseded this one."""
        return self._update_task(
            job_id,
            attempt,
            name,
            claims,
            update="SET leaseUntil = :lease",
            values={":lease": int(now) + lease_seconds},
        )

    def release_task(self, job_id: str, attempt: int, name: str, claims: int) -> bool:
        """Ends this claim's lease now, so the task's next delivery claims it at once."""
        return self._update_task(
            job_id, attempt, name, claims, update="SET leaseUntil = :zero", values={":zero": 0}
        )

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _task_pk(job_id: str, attempt: int, name: str) -> str:
        return f"{TASK_KEY_PREFIX}{job_id}#{attempt}#{name}"

    def _job_item(self, job_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key=job_key(job_id), ConsistentRead=True).get("Item")
        return dict(item) if item else None

    def _update_task(
        self, job_id: str, attempt: int, name: str, claims: int, *, update: str, values: dict[str, Any]
    ) -> bool:
        return update_if(
            self._table,
            Key={"pk": self._task_pk(job_id, attempt, name)},
            UpdateExpression=update,
            ConditionExpression="claims = :claims",
            ExpressionAttributeValues={":claims": claims, **values},
        )
