"""One queue message, from its body to a flow: the worker's logic, free of Lambda and SQS types.

``process_message`` parses the body once and hands it to the flow it belongs to: a task message to the
fan-out flow (``export_worker.fanout``), a job message to the fan-out split when the engine cuts its
output in chunks, else to the single pass (``export_worker.single_pass``). Both flows build on the
attempt core (``export_worker.attempt``); this module is the only one that knows both. What a delivery
returns or raises, and why, is described there.
"""

from __future__ import annotations

import logging

from export_common.jobs import JobStatus
from export_common.messages import TaskMessage
from export_worker import fanout, single_pass
from export_worker.attempt import (
    Delivery,
    ItemFailedError,
    Outcome,
    RecordResult,
    WorkerDeps,
    finish_cancel,
    invalid_job,
    request_of,
)
from export_worker.failures import PoisonMessageError, RetryLaterError
from export_worker.redelivery import backoff_seconds

logger = logging.getLogger(__name__)


def process_message(delivery: Delivery, deps: WorkerDeps) -> RecordResult:
    job_id: str | None = None
    try:
        message = delivery.message
        job_id = message.job_id
        if isinstance(message, TaskMessage):
            return fanout.process_task(message, delivery, deps)
        return _process_job(job_id, delivery, deps)
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


def _process_job(job_id: str, delivery: Delivery, deps: WorkerDeps) -> RecordResult:
    job = deps.repo.get(job_id)
    if job is None:
        # The API writes the job before it sends the message: a missing job expired (TTL) or never
        # existed, and no retry can change that. Acknowledge instead of filling the DLQ.
        logger.warning("job not found; message acknowledged")
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="job not found")
    if job.status in (JobStatus.CANCELLING, JobStatus.CANCELLED):
        # cancelled while queued (its message dropped without rendering), or by a worker that died
        # before it finished the cancel: remove what an earlier attempt may have written, end it
        return finish_cancel(job, deps)
    if job.status.is_final:
        logger.info("job already final; redelivery acknowledged", extra={"status": job.status.value})
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason=f"already {job.status.value}")

    request = request_of(job, deps)
    if request is None:
        return invalid_job(job_id)
    windows = fanout.plan(request, deps)
    if len(windows) > 1:
        return fanout.split(job_id, windows, deps)
    return single_pass.render_job(job_id, request, delivery, deps)
