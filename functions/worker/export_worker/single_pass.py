"""The single-pass flow: one delivery claims a job, renders it whole, uploads it and ends it.

Built on the attempt core (``export_worker.attempt``); the fan-out flow (``export_worker.fanout``) is
its sibling, and neither imports the other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from export_common.errors import ErrorCode
from export_common.jobs import JobError, JobOutput
from export_common.keys import output_key, poster_key
from export_worker.attempt import (
    RENDER_TIMEOUT_MESSAGE,
    TRANSIENT_RETRY_MESSAGE,
    Delivery,
    RecordResult,
    UsageMeter,
    WorkerDeps,
    asset_refs,
    check_owned,
    claim,
    fail_exhausted,
    fail_job,
    job_heartbeat,
    log_render_error,
    lost_or_cancelled,
    not_claimed,
    progress_callback,
    release,
    retry,
    shorten_visibility,
    succeed,
    upload_result,
)
from export_worker.budget import TimeBudget
from export_worker.engine import RenderOutcome, RenderRun
from export_worker.failures import JobFailedError, LeaseLostError, RetryLaterError
from export_worker.progress import ProgressReporter
from export_worker.redelivery import backoff_seconds
from export_worker.sources import open_sources
from export_worker.workdir import job_work_dir
from render.errors import RenderError, RenderTimeoutError
from render.model import ExportRequest

logger = logging.getLogger(__name__)


def render_job(job_id: str, request: ExportRequest, delivery: Delivery, deps: WorkerDeps) -> RecordResult:
    """Claims the job when this invocation has the time to render it, then renders it."""
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

    claimed = claim(job_id, deps)
    if claimed is None:
        return not_claimed(job_id, deps)
    logger.info("job claimed", extra={"attempt": claimed.attempt, "render_timeout": round(render_timeout, 1)})
    job_id, attempt = claimed.job_id, claimed.attempt
    last_attempt = attempt >= deps.settings.max_attempts
    upload_margin = deps.settings.upload_margin_seconds
    used_timeout = [render_timeout]

    def timeout_now() -> float:
        """The claim-time timeout, shortened by what the downloads took."""
        used_timeout[0] = max(1.0, min(render_timeout, delivery.remaining_seconds() - upload_margin))
        return used_timeout[0]

    shorten_visibility(delivery, deps)
    heartbeat = job_heartbeat(job_id, attempt, delivery, deps)
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
        # the job was cancelled (this delivery finishes the cancel), or another attempt took it over
        # (this one's lease ran out) and owns the outcome now
        return lost_or_cancelled(job_id, attempt, deps)
    except RenderTimeoutError as error:
        log_render_error(error)
        if budget.timeout_was_ours(used_timeout[0]) and not last_attempt:
            release(job_id, attempt, deps)
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
            return fail_exhausted(job_id, attempt, attempt, deps)
        last_error = JobError(code=ErrorCode.INTERNAL_ERROR.value, message=TRANSIENT_RETRY_MESSAGE)
        release(job_id, attempt, deps, last_error=last_error)
        reason = f"error: {type(error).__name__}"
        raise retry(job_id, attempt, reason, backoff_seconds(attempt)) from error
    return succeed(job_id, attempt, output, rendered, deps, progress_writes=progress_writes)


def _retry_transient_render(job_id: str, attempt: int, error: RenderError, deps: WorkerDeps) -> RecordResult:
    """A render stopped by the system (killed, out of memory): the next attempt, or FAILED after the last."""
    if attempt >= deps.settings.max_attempts:
        plural = "" if attempt == 1 else "s"
        message = f"{error.message} in {attempt} attempt{plural}; a shorter or smaller export may succeed"
        return fail_job(job_id, attempt, error.code, message, deps)
    release(job_id, attempt, deps, last_error=JobError(code=error.code, message=f"{error.message}; retrying"))
    raise retry(job_id, attempt, f"transient render failure: {error.code}", backoff_seconds(attempt))


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
    out_format = request.output.format
    # an audio-only export reads only what may sound
    keys = request.used_asset_keys() if out_format.has_video else deps.engine.task_asset_keys(request, None)
    with UsageMeter(job_id, deps) as meter:
        refs = asset_refs(request, keys)
        duration = request.to_composition().duration
        sources = open_sources(deps.s3, settings, refs, assets_dir, output_seconds=duration)
        reporter = ProgressReporter(deps.repo, job_id, attempt)
        check_owned(lost)
        run = RenderRun(
            timeout_seconds=render_timeout(),
            scratch_dir=work,
            on_progress=progress_callback(lost, reporter),
            read_spans=sources.read_spans,
        )
        output_path = work / f"out.{out_format.value}"
        with meter.rendering():
            rendered = deps.engine.render(request, assets_dir, output_path, run)
        check_owned(lost, reporter)
        poster = poster_key(job_id) if request.output.poster is not None else None
        output, rendered = upload_result(
            output_path, output_key(job_id, out_format.value), rendered, deps, poster_key=poster
        )
    return output, rendered, reporter.writes
