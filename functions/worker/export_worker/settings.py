"""The worker's configuration, read once per cold start from the environment Terraform sets.

Logic never reads ``os.environ``: it receives a ``WorkerSettings`` (tests build one directly).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from export_common.limits import (
    DEFAULT_JOB_HEARTBEAT_SECONDS,
    DEFAULT_JOB_LEASE_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_RECEIVE_COUNT,
    MAX_ATTEMPTS_LIMIT,
)
from export_common.settings import ServiceSettings
from export_worker.redelivery import MAX_VISIBILITY_SECONDS
from render import limits


class WorkerSettings(ServiceSettings):
    """The worker's (and its DLQ consumer's) settings: the common part and its own."""

    # A RUNNING job's lease and its message's visibility both run this long past the last heartbeat:
    # a crashed attempt's job is claimable again, and its message visible again, within this time.
    job_lease_seconds: int = Field(
        DEFAULT_JOB_LEASE_SECONDS, alias="JOB_LEASE_SECONDS", gt=0, le=MAX_VISIBILITY_SECONDS
    )
    # how often a running attempt extends its lease and its message's visibility; a cancelled render
    # stops at its next beat
    heartbeat_seconds: float = Field(DEFAULT_JOB_HEARTBEAT_SECONDS, alias="JOB_HEARTBEAT_SECONDS", gt=0)
    # attempts that really started (claims) before the job ends FAILED; counted on the job record
    max_attempts: int = Field(DEFAULT_MAX_ATTEMPTS, alias="MAX_ATTEMPTS", ge=1, le=MAX_ATTEMPTS_LIMIT)
    # the queue's redrive maxReceiveCount: a safety net above the attempts (the DLQ consumer logs it)
    max_receive_count: int = Field(DEFAULT_MAX_RECEIVE_COUNT, alias="MAX_RECEIVE_COUNT", ge=1)
    # where per-job temp dirs are made; None = the system temp dir (/tmp on Lambda)
    work_dir: Path | None = Field(None, alias="WORK_DIR")
    # the size of that storage (the Lambda's ephemeral storage): a task that would need more fails with
    # STORAGE_EXCEEDED before it fetches anything; None: only the free space found is checked
    ephemeral_storage_mb: int | None = Field(None, alias="EPHEMERAL_STORAGE_MB", gt=0)
    # the job's own render limit; the invocation's remaining time may bound it further
    render_timeout_seconds: float = Field(limits.RENDER_TIMEOUT_SECONDS, alias="RENDER_TIMEOUT_SECONDS", gt=0)
    # time kept after the render for the upload and the final state write
    upload_margin_seconds: float = Field(60.0, alias="UPLOAD_MARGIN_SECONDS", ge=0)
    # where the completion webhooks of ended jobs are queued; None: this deployment sends none
    callback_queue_url: str | None = Field(None, alias="CALLBACK_QUEUE_URL")
    # fan-out (export_worker.fanout; its settings are common, the API's quote reads them too): the split
    # sends the task messages to the job queue
    job_queue_url: str | None = Field(None, alias="JOB_QUEUE_URL", min_length=1)
    ffmpeg: str = Field("ffmpeg", alias="FFMPEG_PATH", min_length=1)
    ffprobe: str = Field("ffprobe", alias="FFPROBE_PATH", min_length=1)

    @model_validator(mode="after")
    def _a_missed_heartbeat_is_survivable(self) -> WorkerSettings:
        if self.heartbeat_seconds * 2 > self.job_lease_seconds:
            raise ValueError("JOB_LEASE_SECONDS must be at least twice JOB_HEARTBEAT_SECONDS")
        return self
