"""One callbacks-queue message: wait, watch, or run one delivery attempt of a job's webhook.

A message ``{jobId, attempt, notBefore?}`` is handled as follows:

* before ``notBefore``: sent again with the remaining delay (at most SQS's 15 minutes at a time);
* job gone, or created without a ``callbackUrl``: dropped;
* job not ended yet (the safety message sent at creation): sent again after ``watch_seconds``;
* webhook already DELIVERED or FAILED, or this attempt already taken: dropped (a duplicate);
* otherwise attempt ``attempt`` is claimed on the job record, the job's outcome is signed and POSTed,
  and the result recorded: DELIVERED on 2xx, else RETRYING with the next attempt queued (that message
  is sent *before* the record says RETRYING, so a crash in between repeats an attempt, never loses one),
  or FAILED after the last attempt.

Every outcome is a return (the message is done); an exception (AWS unavailable) makes SQS deliver the
message again, and a claimed attempt whose function died is taken over once its lease has run out.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from export_callbacks.sender import SendResult
from export_common.callbacks import (
    MAX_SQS_DELAY_SECONDS,
    CallbackMessage,
    CallbackNotifier,
    CallbackSchedule,
    callback_path,
    outcome_fields,
)
from export_common.jobs import CallbackState, Job
from export_common.signing import DELIVERY_ID_HEADER, signed_headers
from export_common.table import CallbackStore, JobRepository

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

Poster = Callable[[str, bytes, dict[str, str]], SendResult]
"""``(url, body, signed headers) -> SendResult``: ``export_callbacks.sender.post_webhook`` bound to the
policy and limits; tests pass a recording fake."""

WEBHOOK_FIELDS = (
    "jobId",
    "status",
    "error",
    "errorCode",
    "downloadUrl",
    "downloadUrlExpiresAt",
    "output",
    "posterKey",
    "posterUrl",
    "usage",
)


class Step(StrEnum):
    WAITED = "WAITED"  # sent again for later (notBefore, or the job has not ended)
    DROPPED = "DROPPED"  # nothing to do: no webhook, already done, or a duplicate
    DELIVERED = "DELIVERED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


@dataclass
class DeliveryDeps:
    jobs: JobRepository
    store: CallbackStore
    queue: CallbackNotifier
    s3: S3Client
    secret: Callable[[], str]
    post: Poster
    schedule: CallbackSchedule
    exports_bucket: str
    download_expiry_seconds: int
    watch_seconds: int
    lease_seconds: int
    clock: Callable[[], float] = field(default=time.time)


def webhook_body(job: Job, deps: DeliveryDeps) -> bytes:
    """``{jobId, status, error?, errorCode?, downloadUrl?, downloadUrlExpiresAt?, output?, posterKey?,
    posterUrl?, usage}`` as sent."""
    fields: dict[str, Any] = {"jobId": job.job_id, "status": job.status.value}
    fields |= outcome_fields(
        job,
        deps.s3,
        exports_bucket=deps.exports_bucket,
        download_expiry_seconds=deps.download_expiry_seconds,
        now=deps.clock(),
    )
    return json.dumps({k: fields[k] for k in WEBHOOK_FIELDS if k in fields}, separators=(",", ":")).encode()


def process_callback(body: str, deps: DeliveryDeps) -> Step:
    try:
        message = CallbackMessage.model_validate_json(body)
    except ValidationError:
        logger.error("poison message: not a callback message; dropped", extra={"body_prefix": body[:200]})
        return Step.DROPPED
    now = deps.clock()
    if message.not_before is not None and message.not_before > now:
        deps.queue.send(
            message, delay_seconds=int(min(message.not_before - now + 0.999, MAX_SQS_DELAY_SECONDS))
        )
        return Step.WAITED
    job = deps.jobs.get(message.job_id)
    if job is None or job.callback_url is None or job.callback is None:
        return Step.DROPPED
    if not job.status.is_final:
        deps.queue.send(message, delay_seconds=deps.watch_seconds)
        return Step.WAITED
    record = job.callback
    # claimable: the previous attempt ended, or this one's holder died (the claim checks its lease)
    next_in_line = record.attempts == message.attempt - 1
    taken_over = record.attempts == message.attempt and record.state is CallbackState.DELIVERING
    if record.state.is_final or not (next_in_line or taken_over):
        logger.info("duplicate or stale callback message; dropped", extra={"attempt": message.attempt})
        return Step.DROPPED
    if not deps.store.claim(job.job_id, message.attempt, lease_seconds=deps.lease_seconds):
        return Step.DROPPED
    return _attempt(job, job.callback_url, record.delivery_id, message.attempt, deps)


def _attempt(job: Job, url: str, delivery_id: str, attempt: int, deps: DeliveryDeps) -> Step:
    body = webhook_body(job, deps)
    headers = signed_headers(deps.secret(), "POST", callback_path(url), body, now_ms=int(deps.clock() * 1000))
    headers[DELIVERY_ID_HEADER] = delivery_id
    result = deps.post(url, body, headers)
    log = {"attempt": attempt, "http_status": result.status, "reason": result.error}
    if result.delivered:
        deps.store.finish(
            job.job_id, attempt, CallbackState.DELIVERED, last_status=result.status, last_error=None
        )
        logger.info("webhook delivered", extra=log)
        return Step.DELIVERED
    if attempt >= deps.schedule.max_attempts:
        deps.store.finish(
            job.job_id, attempt, CallbackState.FAILED, last_status=result.status, last_error=result.error
        )
        logger.warning("webhook failed for good", extra=log)
        return Step.FAILED
    delay = deps.schedule.delay_after(attempt)
    due = int(deps.clock()) + delay
    deps.queue.send(
        CallbackMessage(job_id=job.job_id, attempt=attempt + 1, not_before=due), delay_seconds=delay
    )
    deps.store.finish(
        job.job_id,
        attempt,
        CallbackState.RETRYING,
        last_status=result.status,
        last_error=result.error,
        next_attempt_at=due,
    )
    logger.info("webhook attempt failed; retry queued", extra={**log, "retry_in_seconds": delay})
    return Step.RETRYING
