"""Lambda entry point of the webhook delivery function (callbacks queue, partial batch failures).

Settings and clients are created once per cold start, lazily, so importing this module needs no AWS
configuration. The logic is ``export_callbacks.delivery``; the HTTP side ``export_callbacks.sender``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from export_callbacks.delivery import DeliveryDeps, process_callback
from export_callbacks.sender import SendResult, post_webhook
from export_callbacks.settings import CallbackSettings
from export_common import aws
from export_common.callbacks import CallbackNotifier
from export_common.table import CallbackStore, JobRepository

logger = Logger()
aws.route_logs(logger, ["export_callbacks", "export_common"])

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def build_deps(settings: CallbackSettings, session: boto3.session.Session | None = None) -> DeliveryDeps:
    """The real dependencies; boto3 reads AWS_ENDPOINT_URL itself, so LocalStack needs no branch here."""
    clients = aws.AwsClients(endpoint_url=settings.aws_endpoint_url, session=session)
    table = clients.table(settings.jobs_table_name)
    s3 = clients.s3()
    secrets = clients.secrets(settings.webhook_secret_arn, ttl_seconds=settings.secret_cache_seconds)
    policy = settings.policy()

    def post(url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        return post_webhook(
            url,
            body,
            headers,
            policy=policy,
            timeout_seconds=settings.timeout_seconds,
            max_response_bytes=settings.max_response_bytes,
        )

    return DeliveryDeps(
        jobs=JobRepository(table),
        store=CallbackStore(table),
        queue=CallbackNotifier(clients.sqs(), settings.callback_queue_url),
        s3=s3,
        secret=secrets.current,
        post=post,
        schedule=settings.schedule(),
        exports_bucket=settings.exports_bucket_name,
        download_expiry_seconds=settings.download_url_expiry_seconds,
        watch_seconds=settings.watch_seconds,
        lease_seconds=settings.lease_seconds,
    )


@cache
def _deps() -> DeliveryDeps:
    return build_deps(CallbackSettings.from_env())


def record_handler(record: SQSRecord) -> None:
    """One message; raising reports it failed, and SQS delivers it again."""
    step = process_callback(record.body, _deps())
    logger.info("callback message done", extra={"step": step.value, "message_id": record.message_id})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
