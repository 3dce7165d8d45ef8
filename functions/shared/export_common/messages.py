"""The job queue's message bodies: a job message (``export_common.jobs.JobMessage``) or a fan-out task.

The worker that claims a long job splits it: one task message per chunk (its frames and the sound under
them), all carrying the job's attempt (``export_worker.fanout``). A job split by an earlier version also
has one task for the audio of the whole timeline, which the worker still renders and joins. The table
writes of the fan-out are ``export_common.table.FanoutRepository``; its S3 keys ``export_common.keys``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from export_common.jobs import JobMessage

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


def task_names(chunks: int, *, audio_task: bool = False) -> set[str]:
    """Every task of a job split into ``chunks`` chunks: the set ``doneTasks`` must reach (with
    `audio_task`, a split of an earlier version, which had one)."""
    return {f"chunk-{i}" for i in range(chunks)} | ({AUDIO_TASK} if audio_task else set())
