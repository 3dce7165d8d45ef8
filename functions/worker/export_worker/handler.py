"""Lambda entry points: translate SQS events into ``process_message`` calls and results into metrics.

``lambda_handler`` consumes the job queue (partial batch failures); ``dlq_lambda_handler`` consumes
its DLQ (see ``export_worker.dlq``). Clients and settings are created once per cold start, lazily,
so importing this module needs no AWS configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from export_common import aws
from export_common.callbacks import CallbackNotifier
from export_common.messages import parse_queue_message
from export_common.table import JobRepository
from export_worker.attempt import Delivery, ItemFailedError, WorkerDeps, delete_job_files
from export_worker.dlq import process_dead_letter
from export_worker.engine import FfmpegEngine, RenderEngine
from export_worker.failures import PoisonMessageError
from export_worker.metrics import METRICS_NAMESPACE, record_result
from export_worker.process import process_message
from export_worker.redelivery import queue_url_from_arn
from export_worker.settings import WorkerSettings

logger = Logger()
metrics = Metrics()
# POWERTOOLS_METRICS_NAMESPACE (set by Terraform) wins; the alarms and dashboard read the same namespace
metrics.namespace = metrics.namespace or METRICS_NAMESPACE
aws.route_logs(logger, ["export_worker", "render", "export_common"])

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
dlq_processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

_deps: WorkerDeps | None = None
_invocation_seconds = 0.0


def build_deps(
    settings: WorkerSettings,
    engine: RenderEngine | None = None,
    *,
    session: boto3.session.Session | None = None,
) -> WorkerDeps:
    """The real dependencies: boto3 reads AWS_ENDPOINT_URL itself, so LocalStack needs no branch here."""
    clients = aws.AwsClients(endpoint_url=settings.aws_endpoint_url, session=session)
    # the heartbeat thread gets a session and a table resource of its own (resources are not thread-safe)
    lease_table = aws.AwsClients(endpoint_url=settings.aws_endpoint_url).table(
        settings.jobs_table_name, aws.HEARTBEAT_CONFIG
    )
    sqs = clients.sqs(aws.HEARTBEAT_CONFIG)  # clients are thread-safe: the heartbeat shares this one
    return WorkerDeps(
        settings=settings,
        repo=JobRepository(clients.table(settings.jobs_table_name), ttl_days=settings.job_ttl_days),
        s3=clients.s3(),
        engine=engine or FfmpegEngine(ffmpeg=settings.ffmpeg, ffprobe=settings.ffprobe),
        sqs=sqs,
        lease_repo=JobRepository(lease_table, ttl_days=settings.job_ttl_days),
        callbacks=CallbackNotifier(sqs, settings.callback_queue_url) if settings.callback_queue_url else None,
    )


def set_deps(deps: WorkerDeps | None) -> None:
    """Replaces the cold-start dependencies (tests); None rebuilds them from the environment."""
    global _deps  # noqa: PLW0603 -- one cache per cold start is the point
    _deps = deps


def get_deps() -> WorkerDeps:
    global _deps  # noqa: PLW0603
    if _deps is None:
        _deps = build_deps(WorkerSettings.from_env())
    return _deps


def _job_id_for_log(body: str) -> str | None:
    try:
        return parse_queue_message(body).job_id
    except ValidationError:
        return None


def _schedule_redelivery(deps: WorkerDeps, record: SQSRecord, seconds: int | None) -> None:
    """Shortens the wait of a message handed back on purpose (see ``export_worker.redelivery``)."""
    if seconds is None or deps.sqs is None:
        return
    try:
        deps.sqs.change_message_visibility(
            QueueUrl=queue_url_from_arn(record.event_source_arn),
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=seconds,
        )
    except Exception:  # the message still comes back, only later
        logger.warning("could not change the message's visibility", exc_info=True)
        return
    logger.info("redelivery scheduled", extra={"retry_after_seconds": seconds})


def _visibility_extender(deps: WorkerDeps, record: SQSRecord) -> Callable[[int], None] | None:
    """ChangeMessageVisibility of this record's message, for the heartbeat (None without SQS)."""
    sqs = deps.sqs
    if sqs is None:
        return None
    try:
        queue_url = queue_url_from_arn(record.event_source_arn)
    except ValueError:
        logger.warning("record without a queue ARN; its visibility cannot be extended")
        return None
    receipt_handle = record.receipt_handle

    def extend(seconds: int) -> None:
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

    return extend


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """One job message; raising reports the item failed (SQS redelivers it, then moves it to the DLQ)."""
    logger.append_keys(message_id=record.message_id)
    try:
        deps = get_deps()
        delivery = Delivery(
            body=record.body,
            receive_count=int(record.attributes.approximate_receive_count),
            remaining_seconds=lambda: lambda_context.get_remaining_time_in_millis() / 1000.0,
            invocation_seconds=_invocation_seconds,
            extend_visibility=_visibility_extender(deps, record),
        )
        with suppress(PoisonMessageError):  # parsed once: process_message reads the same message
            logger.append_keys(job_id=delivery.message.job_id)
        try:
            result = process_message(delivery, deps)
        except ItemFailedError as failure:
            record_result(metrics, failure.result)
            _schedule_redelivery(deps, record, failure.result.retry_after_seconds)
            raise
        record_result(metrics, result)
        logger.info("message done", extra={"outcome": result.outcome.value, "reason": result.reason})
    finally:
        logger.remove_keys(["job_id", "message_id"])


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _invocation_seconds  # noqa: PLW0603 -- the time a fresh record would have, for the budget
    _invocation_seconds = context.get_remaining_time_in_millis() / 1000.0
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


def dlq_record_handler(record: SQSRecord) -> None:
    logger.append_keys(job_id=_job_id_for_log(record.body), message_id=record.message_id)
    try:
        deps = get_deps()
        try:
            result = process_dead_letter(
                record.body,
                deps.repo,
                max_receive_count=deps.settings.max_receive_count,
                clock=deps.clock,
                callbacks=deps.callbacks,
                delete_job_files=lambda job_id: delete_job_files(job_id, deps),
            )
        except ItemFailedError as failure:
            logger.info("job still leased; DLQ message comes back", extra={"reason": failure.result.reason})
            raise
        record_result(metrics, result)
    finally:
        logger.remove_keys(["job_id", "message_id"])


@metrics.log_metrics
@logger.inject_lambda_context
def dlq_lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=dlq_record_handler, processor=dlq_processor, context=context
    )
