"""One job message, from the queue to a final job state: the worker's logic, free of Lambda and SQS types.

``process_message`` either returns (the message is done: acknowledge it) or raises ``ItemFailedError``
(report the item failed: SQS delivers it again, or moves it to the DLQ after the redrive limit).
Every transition goes through ``JobRepository``'s conditional updates, so redeliveries, takeovers
and late writes of a dead attempt can never produce a second final state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import ValidationError

from export_common.errors import ErrorCode
from export_common.jobs import Job, JobError, JobMessage, JobOutput, JobRepository, output_key
from export_worker.budget import TimeBudget
from export_worker.failures import JobFailedError, PoisonMessageError, RetryLaterError
from export_worker.progress import ProgressReporter
from export_worker.redelivery import backoff_seconds, clamp_visibility
from export_worker.settings import WorkerSettings
from export_worker.storage import AssetRef, download_assets, upload_output
from export_worker.workdir import job_work_dir
from render.errors import RenderError, RenderTimeoutError
from render.model import ExportRequest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)

RETRIES_EXHAUSTED_MESSAGE = "the export could not be completed after {n} attempts; please try again later"
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
        timeout_seconds: float = 840,
        ffmpeg: str = "ffmpeg",
        ffprobe: str = "ffprobe",
        scratch_dir: Path | None = None,
    ) -> RenderOutcome: ...


class Outcome(StrEnum):
    SUCCEEDED = "SUCCEEDED"  # this delivery rendered the job
    FAILED = "FAILED"  # this delivery marked the job FAILED
    SKIPPED = "SKIPPED"  # nothing to do: already final, unknown job, or superseded
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


@dataclass(frozen=True)
class Delivery:
    """The SQS facts of one record the logic needs."""

    body: str
    receive_count: int
    remaining_seconds: Callable[[], float]
    invocation_seconds: float  # remaining time when the invocation started


def process_message(delivery: Delivery, deps: WorkerDeps) -> RecordResult:
    job_id: str | None = None
    try:
        job_id = _parse(delivery.body)
        return _process(job_id, delivery, deps)
    except PoisonMessageError as error:
        logger.error("poison message: not a job message", extra={"detail": str(error)[:300]})
        result = RecordResult(
            Outcome.RETRY,
            reason="poison message",
            retry_after_seconds=backoff_seconds(delivery.receive_count),
        )
        raise ItemFailedError(result) from error
    except RetryLaterError as error:
        result = _on_retry_later(job_id, error, delivery, deps)
        raise ItemFailedError(result) from error
    except ItemFailedError:
        raise
    except Exception as error:  # transient AWS errors and bugs alike: retry, then give up cleanly
        logger.exception("processing failed; the message will be retried")
        result = RecordResult(
            Outcome.RETRY,
            job_id=job_id,
            reason=f"error: {type(error).__name__}",
            retry_after_seconds=backoff_seconds(delivery.receive_count),
        )
        if job_id is not None and _is_last_receive(delivery, deps):
            result = _give_up(job_id, None, delivery, deps)
        raise ItemFailedError(result) from error


def _parse(body: str) -> str:
    try:
        return JobMessage.model_validate_json(body).job_id
    except ValidationError as error:
        raise PoisonMessageError(str(error)) from error


def _is_last_receive(delivery: Delivery, deps: WorkerDeps) -> bool:
    return delivery.receive_count >= deps.settings.max_receive_count


def _give_up(job_id: str, attempt: int | None, delivery: Delivery, deps: WorkerDeps) -> RecordResult:
    """Last receive: the job ends FAILED now, since SQS will not deliver this message again."""
    error = JobError(
        code=ErrorCode.RETRIES_EXHAUSTED.value,
        message=RETRIES_EXHAUSTED_MESSAGE.format(n=delivery.receive_count),
    )
    try:
        marked = deps.repo.mark_failed(job_id, error, attempt=attempt)
    except Exception:
        logger.exception("could not mark the job FAILED; the DLQ consumer will")
        marked = False
    logger.error("retries exhausted; the message goes to the DLQ", extra={"marked_failed": marked})
    return RecordResult(
        Outcome.FAILED if marked else Outcome.RETRY,
        job_id=job_id,
        attempt=attempt,
        error_code=error.code if marked else None,
        reason="retries exhausted",
    )


def _on_retry_later(
    job_id: str | None, error: RetryLaterError, delivery: Delivery, deps: WorkerDeps
) -> RecordResult:
    if job_id is not None and _is_last_receive(delivery, deps) and error.reason != "job busy":
        return _give_up(job_id, None, delivery, deps)
    # "job busy" at the last receive: another attempt holds a live lease and ends the job itself;
    # if it dies, the DLQ consumer fails the job once the lease expired.
    logger.info(
        "released for a later delivery",
        extra={"reason": error.reason, "retry_after_seconds": error.retry_after_seconds},
    )
    return RecordResult(
        Outcome.RETRY, job_id=job_id, reason=error.reason, retry_after_seconds=error.retry_after_seconds
    )


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

    request = _request_of(job, deps)
    if request is None:
        return RecordResult(Outcome.FAILED, job_id=job_id, error_code=ErrorCode.INVALID_JOB.value)

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

    claimed = deps.repo.claim(job_id, lease_seconds=deps.settings.job_lease_seconds, now=deps.clock())
    if claimed is None:
        current = deps.repo.get(job_id)
        if current is None or current.status.is_final:
            return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="finished by another delivery")
        # another attempt holds a live lease: look again when it has run out
        lease_left = (current.lease_until or 0) - deps.clock()
        raise RetryLaterError("job busy", retry_after_seconds=clamp_visibility(lease_left + 1))
    logger.info("job claimed", extra={"attempt": claimed.attempt, "render_timeout": round(render_timeout, 1)})
    return _run_claimed(
        claimed, request=request, render_timeout=render_timeout, budget=budget, delivery=delivery, deps=deps
    )


def _request_of(job: Job, deps: WorkerDeps) -> ExportRequest | None:
    """The job's request, or None after marking the job FAILED (the API validated it, so: a bug)."""
    try:
        return ExportRequest.model_validate(job.request_body())
    except (ValidationError, ValueError) as exc:
        logger.error("stored request is not valid", extra={"detail": str(exc)[:500]})
        reason = JobError(code=ErrorCode.INVALID_JOB.value, message="the job's export request is invalid")
        deps.repo.mark_failed(job.job_id, reason)
        return None


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
    upload_margin = deps.settings.upload_margin_seconds
    used_timeout = [render_timeout]

    def timeout_now() -> float:
        """The claim-time timeout, shortened by what the downloads took."""
        used_timeout[0] = max(1.0, min(render_timeout, delivery.remaining_seconds() - upload_margin))
        return used_timeout[0]

    try:
        with job_work_dir(deps.settings.work_dir) as work:
            result = _render_and_upload(
                job_id, attempt, request=request, render_timeout=timeout_now, work=work, deps=deps
            )
    except RenderTimeoutError as error:
        _log_render_error(error)
        if budget.timeout_was_ours(used_timeout[0]) and not _is_last_receive(delivery, deps):
            _release(job_id, attempt, deps)
            raise RetryLaterError(
                "render stopped by the invocation's time budget", retry_after_seconds=0
            ) from error
        return _fail(job_id, attempt, error.code, RENDER_TIMEOUT_MESSAGE, deps)
    except RenderError as error:
        _log_render_error(error)
        return _fail(job_id, attempt, error.code, error.message, deps)
    except JobFailedError as error:
        logger.warning("job failed", extra={"code": error.code, "detail": error.log_detail})
        return _fail(job_id, attempt, error.code, error.message, deps)
    except Exception:
        # transient: at the last receive give up now, else hand the job back for the next delivery
        if _is_last_receive(delivery, deps):
            logger.exception("processing failed at the last receive")
            raise ItemFailedError(_give_up(job_id, attempt, delivery, deps)) from None
        _release(job_id, attempt, deps)
        raise
    return result


def _render_and_upload(
    job_id: str,
    attempt: int,
    *,
    request: ExportRequest,
    render_timeout: Callable[[], float],
    work: Path,
    deps: WorkerDeps,
) -> RecordResult:
    settings = deps.settings
    assets_dir = work / "in"
    refs = _used_assets(request)
    downloaded = download_assets(
        deps.s3, settings.assets_bucket_name, refs, assets_dir, max_bytes=settings.max_upload_bytes
    )
    logger.info("assets downloaded", extra={"assets": len(refs), "bytes": downloaded})
    output_path = work / "out.mp4"
    reporter = ProgressReporter(deps.repo, job_id, attempt)
    rendered = deps.render(
        request,
        assets_dir,
        output_path,
        on_progress=reporter,
        timeout_seconds=render_timeout(),
        ffmpeg=settings.ffmpeg,
        ffprobe=settings.ffprobe,
        scratch_dir=work,
    )
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
    if not deps.repo.mark_succeeded(job_id, attempt, output):
        # Another attempt took over (our lease expired). The key is deterministic, so the object
        # is a render of this same job; the owner of the job writes its final state.
        logger.warning("job no longer owned by this attempt; final state left to the owner")
        return RecordResult(Outcome.SKIPPED, job_id=job_id, attempt=attempt, reason="superseded")
    logger.info(
        "job succeeded",
        extra={"output": output.model_dump(by_alias=True), "progress_writes": reporter.writes},
    )
    return RecordResult(Outcome.SUCCEEDED, job_id=job_id, attempt=attempt, render=rendered)


def _used_assets(request: ExportRequest) -> list[AssetRef]:
    """The assets the enabled clips use, once per key (unused uploads are not downloaded)."""
    names = {a.s3Key: a.src for a in request.assets}
    return [AssetRef(src=names.get(key, key), s3_key=key) for key in request.used_asset_keys()]


def _fail(job_id: str, attempt: int, code: str, message: str, deps: WorkerDeps) -> RecordResult:
    marked = deps.repo.mark_failed(job_id, JobError(code=code, message=message), attempt=attempt)
    if not marked:
        logger.warning("job no longer owned by this attempt; failure not recorded", extra={"code": code})
        return RecordResult(Outcome.SKIPPED, job_id=job_id, attempt=attempt, reason="superseded")
    logger.warning("job failed", extra={"code": code, "error_message": message})
    return RecordResult(Outcome.FAILED, job_id=job_id, attempt=attempt, error_code=code)


def _release(job_id: str, attempt: int, deps: WorkerDeps) -> None:
    """RUNNING → QUEUED so the next delivery can claim at once; if this fails the lease expires instead."""
    try:
        released = deps.repo.release(job_id, attempt)
    except Exception:
        logger.warning("release failed; the lease will expire instead", exc_info=True)
        return
    logger.info("job released", extra={"released": released})


def _log_render_error(error: RenderError) -> None:
    logger.warning(
        "render failed",
        extra={"code": error.code, "error_message": error.message, "stderr_tail": error.stderr_tail[-2000:]},
    )
