"""The one place where a job reaches a final state, SUCCEEDED, FAILED or CANCELLED, whichever path ends it.

Single-pass renders, fan-out joins, failed chunks, exhausted retries, the DLQ consumer, cancels (the API
for a queued job, the worker for a running one) and the API (a job it could not queue) all end a job
through ``end_job``, so whatever must happen once per finished
job (a log line, the completion webhook) happens here and nowhere else.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from export_common.jobs import Cancellation, JobError, JobOutput, JobStatus

if TYPE_CHECKING:
    from export_common.callbacks import CallbackNotifier
    from export_common.table import JobRepository

logger = logging.getLogger(__name__)


def end_job(
    repo: JobRepository,
    job_id: str,
    result: JobOutput | JobError | Cancellation,
    *,
    attempt: int | None,
    abandoned: bool = False,
    now: float | None = None,
    callbacks: CallbackNotifier | None = None,
) -> bool:
    """Writes the final state, conditioned as the caller's situation requires; False when refused.

    ``attempt``: the attempt that owns the RUNNING job (None: any unfinished job, for a job whose stored
    request is unusable). ``abandoned``: the job is held by nobody (its lease ran out, or it is QUEUED)
    and still at ``attempt`` (a job out of attempts, a dead letter). ``callbacks``: queues the job's
    completion webhook once the final state is written (None: the caller sends none). A
    ``Cancellation`` ends the job from the state it names, whatever ``attempt`` is.
    """
    status = JobStatus.FAILED
    if isinstance(result, Cancellation):
        status = JobStatus.CANCELLED
        ended = repo.mark_cancelled(job_id, from_status=result.from_status)
    elif isinstance(result, JobOutput):
        status = JobStatus.SUCCEEDED
        if attempt is None:
            raise ValueError("a success belongs to an attempt")
        ended = repo.mark_succeeded(job_id, attempt, result)
    elif abandoned:
        if attempt is None:
            raise ValueError("an abandoned job is failed at the attempt its caller saw")
        ended = repo.fail_abandoned(job_id, result, attempt=attempt, now=now)
    else:
        ended = repo.mark_failed(job_id, result, attempt=attempt)
    if ended:
        logger.info("job ended", extra={"status": status.value, "attempt": attempt})
        if callbacks is not None:
            callbacks.job_ended(job_id)
    return ended
