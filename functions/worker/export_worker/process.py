"""One job message, from the queue to a final job state: the worker's logic, free of Lambda and SQS types.

``process_message`` either returns (the message is done: acknowledge it) or raises ``ItemFailedError``
(report the item failed: SQS delivers it again, or moves it to the DLQ after the redrive limit).
Every transition goes through ``JobRepository``'s conditional updates, so redeliveries, takeovers
and late writes of a dead attempt can never produce a second final state.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import ValidationError

from export_common.callbacks import CallbackNotifier
from export_common.ending import end_job
from export_common.errors import ErrorCode
from export_common.fanout import QueueMessage, TaskMessage, parse_queue_message
from export_common.jobs import Job, JobError, JobOutput, output_key
from export_common.table import JobRepository
from export_worker.budget import TimeBudget
from export_worker.failures import JobFailedError, LeaseLostError, PoisonMessageError, RetryLaterError
from export_worker.heartbeat import Heartbeat
from export_worker.progress import ProgressReporter
from export_worker.redelivery import backoff_seconds, clamp_visibility
from export_worker.settings import WorkerSettings
from export_worker.storage import AssetRef, download_assets, upload_output
from export_worker.workdir import job_work_dir
from render import limits
from render.errors import RenderError, RenderTimeoutError
from render.model import ExportRequest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from export_worker.fanout import FanoutEngine

logger = logging.getLogger(__name__)


def retries_exhausted_message(attempts: int) -> str:
    plural = "" if attempts == 1 else "s"
    return f"the export could not be completed after {attempts} attempt{plural}; please try again later"


# why a delivery hands its message back: another attempt holds the job under a live lease (a log label)
JOB_BUSY = "job busy"
NEVER_STARTED_MESSAGE = "the export could not be started; please try again later"
TRANSIENT_RETRY_MESSAGE = "the export hit a temporary error; retrying"
RENDER_TIMEOUT_MESSAGE = "the render did not finish within the worker's time limit"


class RenderOutcome(Protocol):
    """What ``render.pipeline.render_export`` returns (``RenderResult``)."""

    @property
    def duration_seconds(self) -> float: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def render_seconds(self) -> float: ...


class Renderer(Protocol):
    """The signature of ``render.pipeline.render_export``; tests may pass a counting wrapper."""

    def __call__(
        self,
        request: ExportRequest,
        assets_dir: Path,
        output_path: Path,
        *,
        on_progress: Callable[[float], None] | None = None,
        timeout_seconds: float = limits.RENDER_TIMEOUT_SECONDS,
        ffmpeg: str = "ffmpeg",
        ffprobe: str = "ffprobe",
        scratch_dir: Path | None = None,
    ) -> RenderOutcome: ...


class Outcome(StrEnum):
    SUCCEEDED = "SUCCEEDED"  # this delivery rendered the job
    FAILED = "FAILED"  # this delivery marked the job FAILED
    SKIPPED = "SKIPPED"  # nothing to do: already final, unknown job, or superseded
    DROPPED = "DROPPED"  # not a job or task message (poison): dropped at once, never retried
    SPLIT = "SPLIT"  # this delivery fanned the job out into task messages (export_worker.fanout)
    TASK_DONE = "TASK_DONE"  # this delivery rendered one task of a fanned-out job (not the last)
    RETRY = "RETRY"  # not finished: the message comes back (or goes to the DLQ)


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


@dataclass
class WorkerDeps:
    settings: WorkerSettings
    repo: JobRepository
    s3: S3Client
    render: Renderer
    clock: Callable[[], float] = field(default=time.time)
    sqs: SQSClient | None = None  # to hasten the redelivery of released messages (None: don't)
    # the heartbeat thread's own repository (boto3 resources are not shared across threads); None: repo
    lease_repo: JobRepository | None = None
    callbacks: CallbackNotifier | None = None  # queues completion webhooks; None: none are sent
    # the render library's fan-out functions (None: render.fanout, imported when first needed)
    fanout: FanoutEngine | None = None


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


def process_message(delivery: Delivery, deps: WorkerDeps) -> RecordResult:
    job_id: str | None = None
    try:
        message = delivery.message
        job_id = message.job_id
        if isinstance(message, TaskMessage):
            from export_worker import fanout  # noqa: PLC0415 -- it builds on this module

            return fanout.process_task(message, delivery, deps)
        return _process(job_id, delivery, deps)
    except PoisonMessageError as error:
        # No retry can make it a job message, and it names no job to fail: dropped at once, with the
        # evidence in the log (and the PoisonMessages metric), instead of cycling through every receive.
        logger.error(
            "poison message: not a job message; dropped",
            extra={"body_prefix": delivery.body[:200], "detail": str(error)[:300]},
        )
        return RecordResult(Outcome.DROPPED, reason="poison message")
    except RetryLaterError as error:
        logger.info(
            "released for a later delivery",
            extra={"reason": error.reason, "retry_after_seconds": error.retry_after_seconds},
        )
        result = RecordResult(
            Outcome.RETRY, job_id=job_id, reason=error.reason, retry_after_seconds=error.retry_after_seconds
        )
        raise ItemFailedError(result) from error
    except ItemFailedError:
        raise
    except Exception as error:  # before any claim (reading the job, claiming it): no attempt was used
        logger.exception("processing failed; the message will be retried")
        result = RecordResult(
            Outcome.RETRY,
            job_id=job_id,
            reason=f"error: {type(error).__name__}",
            retry_after_seconds=backoff_seconds(delivery.receive_count),
        )
        raise ItemFailedError(result) from error


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


def _not_claimed(job_id: str, deps: WorkerDeps) -> RecordResult:
    """Why the claim was refused: finished, held by a live attempt, or out of attempts."""
    current = deps.repo.get(job_id)
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


def _process(job_id: str, delivery: Delivery, deps: WorkerDeps) -> RecordResult:
    job = deps.repo.get(job_id)
    if job is None:
        # The API writes the job before it sends the message: a missing job expired (TTL) or never
        # existed, and no retry can change that. Acknowledge instead of filling the DLQ.
        logger.warning("job not found; message acknowledged")
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="job not found")
    if job.status.is_final:
        logger.info("job already final; redelivery acknowledged", extra={"status": job.status.value})
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason=f"already {job.status.value}")

    request = request_of(job, deps)
    if request is None:
        return RecordResult(Outcome.FAILED, job_id=job_id, error_code=ErrorCode.INVALID_JOB.value)

    from export_worker import fanout  # noqa: PLC0415 -- it builds on this module

    windows = fanout.plan(request, deps)
    if len(windows) > 1:
        # a long export: this delivery only splits it; the chunks render on other workers
        claimed = _claim(job_id, deps)
        if claimed is None:
            return _not_claimed(job_id, deps)
        try:
            return fanout.split_job(claimed, windows, deps)
        except Exception as error:
            logger.exception("split failed; the job is released", extra={"attempt": claimed.attempt})
            last_error = JobError(code=ErrorCode.INTERNAL_ERROR.value, message=TRANSIENT_RETRY_MESSAGE)
            _release(job_id, claimed.attempt, deps, last_error=last_error)
            result = RecordResult(
                Outcome.RETRY,
                job_id=job_id,
                attempt=claimed.attempt,
                reason=f"split failed: {type(error).__name__}",
                retry_after_seconds=backoff_seconds(claimed.attempt),
            )
            raise ItemFailedError(result) from error

    budget = TimeBudget(
        remaining_seconds=delivery.remaining_seconds(),
        invocation_seconds=delivery.invocation_seconds,
        upload_margin_seconds=deps.settings.upload_margin_seconds,
        render_cap_seconds=deps.settings.render_timeout_seconds,
    )
    output_seconds = request.to_composition().duration
    render_timeout = budget.render_timeout(output_seconds)
    if render_timeout is None:
        # a fresh invocation has the whole timeout: come back at once
        raise RetryLaterError("not enough time left in this invocation", retry_after_seconds=0)

    claimed = _claim(job_id, deps)
    if claimed is None:
        return _not_claimed(job_id, deps)
    logger.info("job claimed", extra={"attempt": claimed.attempt, "render_timeout": round(render_timeout, 1)})
    return _run_claimed(
        claimed, request=request, render_timeout=render_timeout, budget=budget, delivery=delivery, deps=deps
    )


def _claim(job_id: str, deps: WorkerDeps) -> Job | None:
    """A new attempt of the job (see ``JobRepository.claim``), or None when it is not claimable."""
    return deps.repo.claim(
        job_id,
        lease_seconds=deps.settings.job_lease_seconds,
        now=deps.clock(),
        max_attempts=deps.settings.max_attempts,
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


def _heartbeat(job_id: str, attempt: int, delivery: Delivery, deps: WorkerDeps) -> Heartbeat:
    lease_repo = deps.lease_repo or deps.repo

    def extend_lease() -> bool:
        return lease_repo.extend_lease(job_id, attempt, deps.settings.job_lease_seconds, now=deps.clock())

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


def _run_claimed(
    job: Job,
    *,
    request: ExportRequest,
    render_timeout: float,
    budget: TimeBudget,
    delivery: Delivery,
    deps: WorkerDeps,
) -> RecordResult:
    job_id, attempt = job.job_id, job.attempt
    last_attempt = attempt >= deps.settings.max_attempts
    upload_margin = deps.settings.upload_margin_seconds
    used_timeout = [render_timeout]

    def timeout_now() -> float:
        """The claim-time timeout, shortened by what the downloads took."""
        used_timeout[0] = max(1.0, min(render_timeout, delivery.remaining_seconds() - upload_margin))
        return used_timeout[0]

    shorten_visibility(delivery, deps)
    heartbeat = _heartbeat(job_id, attempt, delivery, deps)
    try:
        with job_work_dir(deps.settings.work_dir) as work, heartbeat:
            output, rendered, progress_writes = _render_and_upload(
                job_id,
                attempt,
                request=request,
                render_timeout=timeout_now,
                work=work,
                deps=deps,
                lost=heartbeat.lost,
            )
    except LeaseLostError:
        # another attempt took the job over (this one's lease ran out): it owns the outcome now
        logger.warning("job no longer owned by this attempt; work abandoned")
        return RecordResult(Outcome.SKIPPED, job_id=job_id, attempt=attempt, reason="superseded")
    except RenderTimeoutError as error:
        log_render_error(error)
        if budget.timeout_was_ours(used_timeout[0]) and not last_attempt:
            _release(job_id, attempt, deps)
            raise RetryLaterError(
                "render stopped by the invocation's time budget", retry_after_seconds=0
            ) from error
        return fail_job(job_id, attempt, error.code, RENDER_TIMEOUT_MESSAGE, deps)
    except RenderError as error:
        log_render_error(error)
        if error.transient:
            return _retry_transient_render(job_id, attempt, error, deps)
        return fail_job(job_id, attempt, error.code, error.message, deps)
    except JobFailedError as error:
        logger.warning("job failed", extra={"code": error.code, "detail": error.log_detail})
        return fail_job(job_id, attempt, error.code, error.message, deps)
    except Exception as error:
        # transient (S3, DynamoDB, a bug): the next attempt may do better, unless this was the last
        logger.exception("attempt failed", extra={"attempt": attempt, "last_attempt": last_attempt})
        if last_attempt:
            message = retries_exhausted_message(attempt)
            return fail_job(job_id, attempt, ErrorCode.RETRIES_EXHAUSTED.value, message, deps)
        last_error = JobError(code=ErrorCode.INTERNAL_ERROR.value, message=TRANSIENT_RETRY_MESSAGE)
        _release(job_id, attempt, deps, last_error=last_error)
        result = RecordResult(
            Outcome.RETRY,
            job_id=job_id,
            attempt=attempt,
            reason=f"error: {type(error).__name__}",
            retry_after_seconds=backoff_seconds(attempt),
        )
        raise ItemFailedError(result) from error
    return _succeed(job_id, attempt, output, rendered=rendered, progress_writes=progress_writes, deps=deps)


def _retry_transient_render(job_id: str, attempt: int, error: RenderError, deps: WorkerDeps) -> RecordResult:
    """A render stopped by the system (killed, out of memory): the next attempt, or FAILED after the last."""
    if attempt >= deps.settings.max_attempts:
        plural = "" if attempt == 1 else "s"
        message = f"{error.message} in {attempt} attempt{plural}; a shorter or smaller export may succeed"
        return fail_job(job_id, attempt, error.code, message, deps)
    _release(
        job_id, attempt, deps, last_error=JobError(code=error.code, message=f"{error.message}; retrying")
    )
    raise ItemFailedError(
        RecordResult(
            Outcome.RETRY,
            job_id=job_id,
            attempt=attempt,
            reason=f"transient render failure: {error.code}",
            retry_after_seconds=backoff_seconds(attempt),
        )
    )


def _render_and_upload(
    job_id: str,
    attempt: int,
    *,
    request: ExportRequest,
    render_timeout: Callable[[], float],
    work: Path,
    deps: WorkerDeps,
    lost: threading.Event,
) -> tuple[JobOutput, RenderOutcome, int]:
    settings = deps.settings
    assets_dir = work / "in"
    refs = asset_refs(request, request.used_asset_keys())
    downloaded = download_assets(
        deps.s3, settings.assets_bucket_name, refs, assets_dir, max_bytes=settings.max_upload_bytes
    )
    logger.info("assets downloaded", extra={"assets": len(refs), "bytes": downloaded})
    output_path = work / "out.mp4"
    reporter = ProgressReporter(deps.repo, job_id, attempt)

    def on_progress(value: float) -> None:
        # raising here stops the render (the executor kills ffmpeg): the job belongs to another attempt
        if lost.is_set() or reporter.lost_ownership:
            raise LeaseLostError
        reporter(value)

    if lost.is_set():
        raise LeaseLostError
    rendered = deps.render(
        request,
        assets_dir,
        output_path,
        on_progress=on_progress,
        timeout_seconds=render_timeout(),
        ffmpeg=settings.ffmpeg,
        ffprobe=settings.ffprobe,
        scratch_dir=work,
    )
    if lost.is_set() or reporter.lost_ownership:
        raise LeaseLostError
    key = output_key(job_id)
    size = upload_output(deps.s3, output_path, settings.exports_bucket_name, key)
    output = JobOutput(
        key=key,
        duration_seconds=round(rendered.duration_seconds, 3),
        size_bytes=size,
        width=rendered.width,
        height=rendered.height,
        render_seconds=round(rendered.render_seconds, 3),
    )
    return output, rendered, reporter.writes


def _succeed(
    job_id: str,
    attempt: int,
    output: JobOutput,
    *,
    rendered: RenderOutcome,
    progress_writes: int,
    deps: WorkerDeps,
) -> RecordResult:
    if not end_job(deps.repo, job_id, output, attempt=attempt, callbacks=deps.callbacks):
        # Another attempt took over (our lease expired). The key is deterministic, so the object
        # is a render of this same job; the owner of the job writes its final state.
        logger.warning("job no longer owned by this attempt; final state left to the owner")
        return RecordResult(Outcome.SKIPPED, job_id=job_id, attempt=attempt, reason="superseded")
    logger.info(
        "job succeeded",
        extra={"output": output.model_dump(by_alias=True), "progress_writes": progress_writes},
    )
    return RecordResult(Outcome.SUCCEEDED, job_id=job_id, attempt=attempt, render=rendered)


def asset_refs(request: ExportRequest, keys: list[str]) -> list[AssetRef]:
    """The assets to download (only those used: unused uploads are not), named as the client named them."""
    names = {a.s3Key: a.src for a in request.assets}
    return [AssetRef(src=names.get(key, key), s3_key=key) for key in keys]


def fail_job(job_id: str, attempt: int, code: str, message: str, deps: WorkerDeps) -> RecordResult:
    error = JobError(code=code, message=message)
    marked = end_job(deps.repo, job_id, error, attempt=attempt, callbacks=deps.callbacks)
    if not marked:
        logger.warning("job no longer owned by this attempt; failure not recorded", extra={"code": code})
        return RecordResult(Outcome.SKIPPED, job_id=job_id, attempt=attempt, reason="superseded")
    logger.warning("job failed", extra={"code": code, "error_message": message})
    return RecordResult(Outcome.FAILED, job_id=job_id, attempt=attempt, error_code=code)


def _release(job_id: str, attempt: int, deps: WorkerDeps, *, last_error: JobError | None = None) -> None:
    """RUNNING → QUEUED so the next delivery can claim at once; if this fails the lease expires instead."""
    try:
        released = deps.repo.release(job_id, attempt, last_error=last_error)
    except Exception:
        logger.warning("release failed; the lease will expire instead", exc_info=True)
        return
    logger.info("job released", extra={"released": released})


def log_render_error(error: RenderError) -> None:
    logger.warning(
        "render failed",
        extra={"code": error.code, "error_message": error.message, "stderr_tail": error.stderr_tail[-2000:]},
    )
