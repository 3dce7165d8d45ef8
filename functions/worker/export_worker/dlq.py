"""DLQ consumer: the backstop that ends a job whose message SQS gave up on.

The worker ends every job itself, also one whose last attempt died (the next delivery fails it), so a
job message reaches the DLQ only when SQS's receive limit, a safety net far above the job's attempts,
ran out first: a worker that cannot start at all, for example. Messages reaching the DLQ are handled
here: a job still QUEUED or RUNNING with an expired lease ends FAILED; a job RUNNING under a live
lease is left to its owner and the DLQ message comes back later (it is reported failed). A CANCELLING job
nobody holds any more ends CANCELLED, once what it wrote is deleted (``delete_job_files``: the export and
the fan-out parts a worker that died in the middle of the cancel left).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import ValidationError

from export_common.callbacks import CallbackNotifier
from export_common.ending import end_job
from export_common.errors import ErrorCode
from export_common.jobs import Cancellation, JobError, JobStatus
from export_common.messages import parse_queue_message
from export_common.table import JobRepository
from export_worker.attempt import (
    JOB_BUSY,
    NEVER_STARTED_MESSAGE,
    ItemFailedError,
    Outcome,
    RecordResult,
    retries_exhausted_message,
)

logger = logging.getLogger(__name__)


def process_dead_letter(
    body: str,
    repo: JobRepository,
    *,
    max_receive_count: int,
    clock: Callable[[], float] = time.time,
    callbacks: CallbackNotifier | None = None,
    delete_job_files: Callable[[str], int] | None = None,
) -> RecordResult:
    """One dead letter; ``callbacks`` queues the webhook of a job it ends, ``delete_job_files`` removes what
    a cancelled job wrote (it raises when S3 refuses: the dead letter comes back)."""
    try:
        job_id = parse_queue_message(body).job_id
    except ValidationError:
        logger.error("poison message reached the DLQ; dropped", extra={"body_prefix": body[:200]})
        return RecordResult(Outcome.DROPPED, reason="poison message")
    job = repo.get(job_id)
    if job is None or job.status.is_final:
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="nothing to do")
    now = clock()
    if job.lease_is_live(now) or (job.status is JobStatus.CANCELLING and (job.lease_until or 0) >= int(now)):
        raise ItemFailedError(RecordResult(Outcome.RETRY, job_id=job_id, reason=JOB_BUSY))
    if job.status is JobStatus.CANCELLING:
        deleted = delete_job_files(job_id) if delete_job_files is not None else 0
        if deleted:
            logger.info("cancelled job's files deleted from the DLQ", extra={"deleted": deleted})
        cancelled = Cancellation(from_status=JobStatus.CANCELLING)
        if end_job(repo, job_id, cancelled, attempt=None, callbacks=callbacks):
            logger.warning("cancelled job ended from the DLQ", extra={"attempts": job.attempt})
            return RecordResult(Outcome.CANCELLED, job_id=job_id, attempt=job.attempt, reason="cancelled")
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="changed meanwhile")
    message = retries_exhausted_message(job.attempt) if job.attempt else NEVER_STARTED_MESSAGE
    error = JobError(code=ErrorCode.RETRIES_EXHAUSTED.value, message=message)
    # only if nobody claimed the job since it was read (that attempt then ends it)
    if end_job(repo, job_id, error, attempt=job.attempt, abandoned=True, now=now, callbacks=callbacks):
        logger.error(
            "job failed from the DLQ",
            extra={
                "status_before": job.status.value,
                "attempts": job.attempt,
                "max_receive_count": max_receive_count,
            },
        )
        return RecordResult(Outcome.FAILED, job_id=job_id, attempt=job.attempt, error_code=error.code)
    return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="changed meanwhile")
