"""DLQ consumer: the backstop that ends a job whose message SQS gave up on.

The worker marks a job FAILED itself at the last receive, but it cannot when that last attempt was
killed (timeout, crash). Messages reaching the DLQ are handled here: a job still QUEUED or RUNNING
with an expired lease ends FAILED; a job RUNNING under a live lease is left to its owner and the
DLQ message comes back later (it is reported failed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import ValidationError

from export_common.errors import ErrorCode
from export_common.jobs import JobError, JobMessage, JobRepository, JobStatus
from export_worker.process import RETRIES_EXHAUSTED_MESSAGE, ItemFailedError, Outcome, RecordResult

logger = logging.getLogger(__name__)


def process_dead_letter(
    body: str, repo: JobRepository, *, max_receive_count: int, clock: Callable[[], float] = time.time
) -> RecordResult:
    try:
        job_id = JobMessage.model_validate_json(body).job_id
    except ValidationError:
        logger.error("poison message reached the DLQ; dropped", extra={"body_prefix": body[:200]})
        return RecordResult(Outcome.SKIPPED, reason="poison message")
    job = repo.get(job_id)
    if job is None or job.status.is_final:
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="nothing to do")
    if job.status is JobStatus.RUNNING and (job.lease_until or 0) >= clock():
        raise ItemFailedError(RecordResult(Outcome.RETRY, job_id=job_id, reason="job busy"))
    error = JobError(
        code=ErrorCode.RETRIES_EXHAUSTED.value, message=RETRIES_EXHAUSTED_MESSAGE.format(n=max_receive_count)
    )
    # a RUNNING job is failed only if the same (dead) attempt still holds it
    attempt = job.attempt if job.status is JobStatus.RUNNING else None
    if repo.mark_failed(job_id, error, attempt=attempt):
        logger.error("job failed from the DLQ", extra={"status_before": job.status.value})
        return RecordResult(Outcome.FAILED, job_id=job_id, attempt=attempt, error_code=error.code)
    return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="changed meanwhile")
