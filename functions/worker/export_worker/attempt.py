"""The attempt core: what every flow of the worker builds on, free of Lambda and SQS types.

A delivery (``Delivery``) either returns a ``RecordResult`` (the message is done: acknowledge it) or
raises ``ItemFailedError`` (report the item failed: SQS delivers it again, or moves it to the DLQ after
the redrive limit). This module holds the steps both flows (``export_worker.single_pass`` and
``export_worker.fanout``) share: claiming a job and explaining a refused claim, the lease and its
heartbeat, releasing, failing and ending a job. Every transition goes through ``JobRepository``'s
conditional updates, so redeliveries, takeovers and late writes of a dead attempt can never produce a
second final state.

Retries are counted on the job record: each claim is an attempt (``attempt`` + 1), and a job that has had
``MAX_ATTEMPTS`` of them ends FAILED at once, by the attempt that fails last or, when that one died, by
the next delivery. Deliveries that claim nothing (the job is busy, already final, or there was too little
time) cost no attempt. While an attempt runs, its heartbeat (``export_worker.heartbeat``) keeps the job's
lease and the message's visibility short and alive, so a dead attempt is taken over within one lease.
SQS's receive count only backs this up (``maxReceiveCount`` far above the attempts, then the DLQ).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from export_common.callbacks import CallbackNotifier
from export_common.ending import end_job
from export_common.errors import ErrorCode
from export_common.jobs import Cancellation, Job, JobError, JobOutput, JobStatus
from export_common.keys import job_prefixes
from export_common.messages import QueueMessage, parse_queue_message
from export_common.table import JobRepository
from export_worker.engine import RenderEngine, RenderOutcome
from export_worker.failures import LeaseLostError, PoisonMessageError, RetryLaterError
from export_worker.heartbeat import Heartbeat, Waiter
from export_worker.progress import ProgressReporter
from export_worker.redelivery import clamp_visibility
from export_worker.settings import WorkerSettings
from export_worker.storage import AssetRef, delete_prefixes, upload_output
from render.errors import RenderError
from render.model import ExportRequest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)


def retries_exhausted_message(attempts: int) -> str:
    plural = "" if attempts == 1 else "s"
    return f"the export could not be completed after {attempts} attempt{plural}; please try again later"


# why a delivery hands its message back: another attempt holds the job under a live lease (a log label)
JOB_BUSY = "job busy"
NEVER_STARTED_MESSAGE = "the export could not be started; please try again later"
TRANSIENT_RETRY_MESSAGE = "the export hit a temporary error; retrying"
RENDER_TIMEOUT_MESSAGE = "the render did not finish within the worker's time limit"


class Outcome(StrEnum):
    SUCCEEDED = "SUCCEEDED"  # this delivery rendered the job
    FAILED = "FAILED"  # this delivery marked the job FAILED
    SKIPPED = "SKIPPED"  # nothing to do: already final, unknown job, or superseded
    DROPPED = "DROPPED"  # not a job or task message (poison): dropped at once, never retried
    SPLIT = "SPLIT"  # this delivery fanned the job out into task messages (export_worker.fanout)
    TASK_DONE = "TASK_DONE"  # this delivery rendered one task of a fanned-out job (not the last)
    RETRY = "RETRY"  # not finished: the message comes back (or goes to the DLQ)
    CANCELLED = "CANCELLED"  # this delivery found the job cancelled, stopped, cleaned up and ended it


@dataclass
class RecordResult:
    outcome: Outcome
    job_id: str | None = None
    attempt: int | None = None
    error_code: str | None = None  # set when this delivery marked the job FAILED
    reason: str = ""
    render: RenderOutcome | None = None
    retry_after_seconds: int | None = None  # RETRY: deliver again after this delay (None: visibility timeout)


class ItemFailedError(Exception):
    """Report this record as failed to SQS; ``result`` says what was done before."""

    def __init__(self, result: RecordResult) -> None:
        super().__init__(result.reason)
        self.result = result


def retry(job_id: str, attempt: int | None, reason: str, retry_after_seconds: int | None) -> ItemFailedError:
    """The failure to raise when this delivery hands its message back after a claim."""
    return ItemFailedError(
        RecordResult(
            Outcome.RETRY,
            job_id=job_id,
            attempt=attempt,
            reason=reason,
            retry_after_seconds=retry_after_seconds,
        )
    )


@dataclass
class WorkerDeps:
    settings: WorkerSettings
    repo: JobRepository
    s3: S3Client
    engine: RenderEngine  # the renderer, injected once: FfmpegEngine in production, a fake in fast tests
    clock: Callable[[], float] = field(default=time.time)
    # how the heartbeat waits between beats (None: in real time); tests pass a manual clock's
    wait: Waiter | None = None
    sqs: SQSClient | None = None  # to hasten the redelivery of released messages (None: don't)
    # the heartbeat thread's own repository (boto3 resources are not shared across threads); None: repo
    lease_repo: JobRepository | None = None
    callbacks: CallbackNotifier | None = None  # queues completion webhooks; None: none are sent

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


@dataclass(frozen=True)
class Delivery:
    """The SQS facts of one record the logic needs."""

    body: str
    receive_count: int
    remaining_seconds: Callable[[], float]
    invocation_seconds: float  # remaining time when the invocation started
    # ChangeMessageVisibility of this message (seconds from now); None: the queue's timeout decides
    extend_visibility: Callable[[int], None] | None = None

    @cached_property
    def message(self) -> QueueMessage:
        """The body, parsed once for the log and the logic; PoisonMessageError when it is no message."""
        try:
            return parse_queue_message(self.body)
        except ValidationError as error:
            raise PoisonMessageError(str(error)) from error


# ------------------------------------------------------------------------------------------ claim
def claim(job_id: str, deps: WorkerDeps) -> Job | None:
    """A new attempt of the job (see ``JobRepository.claim``), or None when it is not claimable."""
    return deps.repo.claim(
        job_id,
        lease_seconds=deps.settings.job_lease_seconds,
        now=deps.clock(),
        max_attempts=deps.settings.max_attempts,
    )


def not_claimed(job_id: str, deps: WorkerDeps) -> RecordResult:
    """Why the claim was refused: finished, held by a live attempt, or out of attempts."""
    current = deps.repo.get(job_id)
    if current is not None and current.status is JobStatus.CANCELLING:
        return finish_cancel(current, deps)
    if current is None or current.status.is_final:
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="finished by another delivery")
    now = deps.clock()
    if current.lease_is_live(now):
        # another attempt holds the job and beats: look again when its lease would have run out.
        # This delivery claimed nothing, so it costs the job no attempt.
        lease_left = (current.lease_until or 0) - now
        raise RetryLaterError(JOB_BUSY, retry_after_seconds=clamp_visibility(lease_left + 1))
    if current.attempt >= deps.settings.max_attempts:
        return _exhausted(current, deps)
    raise RetryLaterError("job changed meanwhile", retry_after_seconds=0)


def _exhausted(job: Job, deps: WorkerDeps) -> RecordResult:
    """The job had all its attempts and the last one died: it ends FAILED now, by this delivery."""
    error = JobError(code=ErrorCode.RETRIES_EXHAUSTED.value, message=retries_exhausted_message(job.attempt))
    ended = end_job(
        deps.repo,
        job.job_id,
        error,
        attempt=job.attempt,
        abandoned=True,
        now=deps.clock(),
        callbacks=deps.callbacks,
    )
    if not ended:
        raise RetryLaterError("job changed meanwhile", retry_after_seconds=0)
    logger.error(
        "retries exhausted; job failed",
        extra={"attempts": job.attempt, "last_error": job.last_error.code if job.last_error else None},
    )
    return RecordResult(
        Outcome.FAILED,
        job_id=job.job_id,
        attempt=job.attempt,
        error_code=error.code,
        reason="retries exhausted",
    )


def request_of(job: Job, deps: WorkerDeps) -> ExportRequest | None:
    """The job's request, or None after marking the job FAILED (the API validated it, so: a bug)."""
    try:
        return ExportRequest.model_validate(job.request_body())
    except (ValidationError, ValueError) as exc:
        logger.error("stored request is not valid", extra={"detail": str(exc)[:500]})
        reason = JobError(code=ErrorCode.INVALID_JOB.value, message="the job's export request is invalid")
        end_job(deps.repo, job.job_id, reason, attempt=None, callbacks=deps.callbacks)
        return None


def invalid_job(job_id: str) -> RecordResult:
    """What a delivery whose job's stored request is unusable returns (``request_of`` failed it)."""
    return RecordResult(Outcome.FAILED, job_id=job_id, error_code=ErrorCode.INVALID_JOB.value)


# ------------------------------------------------------------------------------ lease and heartbeat
def lease_repo(deps: WorkerDeps) -> JobRepository:
    """The repository the heartbeat thread writes through."""
    return deps.lease_repo or deps.repo


def job_heartbeat(job_id: str, attempt: int, delivery: Delivery, deps: WorkerDeps) -> Heartbeat:
    repo = lease_repo(deps)

    def extend_lease() -> bool:
        return repo.extend_lease(job_id, attempt, deps.settings.job_lease_seconds, now=deps.clock())

    return heartbeat_of(extend_lease, delivery, deps)


def heartbeat_of(extend_lease: Callable[[], bool], delivery: Delivery, deps: WorkerDeps) -> Heartbeat:
    """A heartbeat that extends a lease (a job's, a task's or a join's), then this message's visibility."""
    settings = deps.settings
    extend = delivery.extend_visibility

    def extend_visibility() -> None:
        if extend is not None:
            extend(settings.job_lease_seconds)

    return Heartbeat(
        extend_lease=extend_lease,
        extend_visibility=extend_visibility if extend is not None else None,
        interval_seconds=settings.heartbeat_seconds,
        wait=deps.wait,
    )


def shorten_visibility(delivery: Delivery, deps: WorkerDeps) -> None:
    """From the claim on, the message comes back one lease after the last heartbeat, not after the
    queue's visibility timeout (at least the worker timeout, which an event source mapping requires)."""
    if delivery.extend_visibility is None:
        return
    try:
        delivery.extend_visibility(deps.settings.job_lease_seconds)
    except Exception:
        logger.warning("could not shorten the message's visibility", exc_info=True)


def progress_callback(lost: threading.Event, reporter: ProgressReporter | None) -> Callable[[float], None]:
    """The render's ``on_progress``: raising stops the render (the engine kills ffmpeg) once the job
    belongs to another attempt."""

    def on_progress(value: float) -> None:
        check_owned(lost, reporter)
        if reporter is not None:
            reporter(value)

    return on_progress


def check_owned(lost: threading.Event, reporter: ProgressReporter | None = None) -> None:
    """LeaseLostError when the heartbeat or a progress write found the job taken over."""
    if lost.is_set() or (reporter is not None and reporter.lost_ownership):
        raise LeaseLostError


# ------------------------------------------------------------------------------ release, fail, end
def release(job_id: str, attempt: int, deps: WorkerDeps, *, last_error: JobError | None = None) -> None:
    """RUNNING → QUEUED so the next delivery can claim at once; if this fails the lease expires instead."""
    try:
        released = deps.repo.release(job_id, attempt, last_error=last_error)
    except Exception:
        logger.warning("release failed; the lease will expire instead", exc_info=True)
        return
    logger.info("job released", extra={"released": released})


def fail_job(job_id: str, attempt: int, code: str, message: str, deps: WorkerDeps) -> RecordResult:
    error = JobError(code=code, message=message)
    marked = end_job(deps.repo, job_id, error, attempt=attempt, callbacks=deps.callbacks)
    if not marked:
        logger.warning("job no longer owned by this attempt; failure not recorded", extra={"code": code})
        return lost_or_cancelled(job_id, attempt, deps)
    logger.warning("job failed", extra={"code": code, "error_message": message})
    return RecordResult(Outcome.FAILED, job_id=job_id, attempt=attempt, error_code=code)


def fail_exhausted(job_id: str, attempt: int, attempts: int, deps: WorkerDeps) -> RecordResult:
    """The last of ``attempts`` tries failed for a passing reason: the job ends RETRIES_EXHAUSTED."""
    message = retries_exhausted_message(attempts)
    return fail_job(job_id, attempt, ErrorCode.RETRIES_EXHAUSTED.value, message, deps)


def superseded(job_id: str, attempt: int) -> RecordResult:
    return RecordResult(Outcome.SKIPPED, job_id=job_id, attempt=attempt, reason="superseded")


def lost_or_cancelled(job_id: str, attempt: int, deps: WorkerDeps) -> RecordResult:
    """A write of this attempt was refused (heartbeat, progress, a task's or the final state): the job was
    cancelled, and this delivery finishes the cancel, or another attempt took it over."""
    current = deps.repo.get(job_id)
    if current is not None and current.status in (JobStatus.CANCELLING, JobStatus.CANCELLED):
        return finish_cancel(current, deps, attempt=attempt)
    logger.warning("job no longer owned by this attempt; work abandoned")
    return superseded(job_id, attempt)


def delete_job_files(job_id: str, deps: WorkerDeps) -> int:
    """Deletes what the job wrote in the exports bucket (its export, its fan-out parts); returns how many
    objects. Raises when S3 refuses one."""
    return delete_prefixes(deps.s3, deps.settings.exports_bucket_name, job_prefixes(job_id))


def finish_cancel(job: Job, deps: WorkerDeps, *, attempt: int | None = None) -> RecordResult:
    """A cancelled job (``DELETE /export/{jobId}``): deletes what any attempt wrote (its export and its
    fan-out parts) and, when it is still CANCELLING, ends it CANCELLED with its webhook.

    Every worker that finds the job cancelled after a write of its own runs this: a chunk uploaded after
    another task ended the job is deleted by its own task. A failed delete raises, so the message comes
    back and the cancel is finished by its next delivery.
    """
    deleted = delete_job_files(job.job_id, deps)
    if job.status is not JobStatus.CANCELLING:
        logger.info("job already cancelled; its files removed", extra={"deleted": deleted})
        return RecordResult(Outcome.SKIPPED, job_id=job.job_id, attempt=attempt, reason="cancelled")
    cancellation = Cancellation(from_status=JobStatus.CANCELLING)
    if not end_job(deps.repo, job.job_id, cancellation, attempt=None, callbacks=deps.callbacks):
        return RecordResult(Outcome.SKIPPED, job_id=job.job_id, attempt=attempt, reason="cancelled")
    logger.info("job cancelled", extra={"deleted": deleted, "attempt": attempt})
    return RecordResult(Outcome.CANCELLED, job_id=job.job_id, attempt=attempt, reason="cancelled")


def upload_result(
    output_path: Path, key: str, rendered: RenderOutcome, deps: WorkerDeps, *, poster_key: str | None = None
) -> tuple[JobOutput, RenderOutcome]:
    """Uploads the finished export (and its poster, when the render wrote one) and describes it as the
    job's output; ``poster_key`` is where the poster is (a fan-out's join copied it there already)."""
    bucket = deps.settings.exports_bucket_name
    size = upload_output(deps.s3, output_path, bucket, key)
    if poster_key is not None and rendered.poster_path is not None:
        upload_output(deps.s3, rendered.poster_path, bucket, poster_key)
    output = JobOutput(
        key=key,
        duration_seconds=round(rendered.duration_seconds, 3),
        size_bytes=size,
        width=rendered.width,
        height=rendered.height,
        render_seconds=round(rendered.render_seconds, 3),
        poster_key=poster_key,
    )
    return output, rendered


@dataclass
class UsageMeter:
    """One task's usage: its duration from its start (downloads and upload included) and the time spent
    rendering; ``record`` adds both to the job (``usage`` in GET and the webhook)."""

    job_id: str
    deps: WorkerDeps
    started: float = field(default_factory=time.monotonic)
    render_seconds: float = 0.0

    @contextmanager
    def rendering(self) -> Iterator[None]:
        begun = time.monotonic()
        try:
            yield
        finally:
            self.render_seconds += time.monotonic() - begun

    def record(self) -> None:
        """Adds this task to the job's usage; a failure to write it is logged, never the task's failure."""
        seconds = time.monotonic() - self.started
        try:
            self.deps.repo.add_usage(
                self.job_id,
                render_seconds=self.render_seconds,
                gb_seconds=self.deps.settings.worker_memory_mb / 1024 * seconds,
            )
        except Exception:
            logger.warning("usage not recorded", exc_info=True)

    def __enter__(self) -> UsageMeter:
        return self

    def __exit__(self, *_: object) -> None:
        self.record()


def succeed(
    job_id: str, attempt: int, output: JobOutput, rendered: RenderOutcome, deps: WorkerDeps, **log: object
) -> RecordResult:
    """Writes SUCCEEDED for this attempt; SKIPPED when another attempt took the job over meanwhile."""
    if not end_job(deps.repo, job_id, output, attempt=attempt, callbacks=deps.callbacks):
        # Another attempt took over (our lease expired). The key is deterministic, so the object
        # is a render of this same job; the owner of the job writes its final state.
        logger.warning("job no longer owned by this attempt; final state left to the owner")
        return lost_or_cancelled(job_id, attempt, deps)
    logger.info("job succeeded", extra={"output": output.model_dump(by_alias=True), **log})
    return RecordResult(Outcome.SUCCEEDED, job_id=job_id, attempt=attempt, render=rendered)


def asset_refs(request: ExportRequest, keys: list[str]) -> list[AssetRef]:
    """The assets to download (only those used: unused uploads are not), named as the client named them."""
    names = {a.s3Key: a.src for a in request.assets}
    return [AssetRef(src=names.get(key, key), s3_key=key) for key in keys]


def log_render_error(error: RenderError) -> None:
    logger.warning(
        "render failed",
        extra={"code": error.code, "error_message": error.message, "stderr_tail": error.stderr_tail[-2000:]},
    )
