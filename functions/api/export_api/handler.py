"""Lambda entry point: settings and AWS clients created once per cold start, on first use.

Importing this module makes no AWS calls and creates no clients, which keeps the cold start small and
lets tests import it without credentials.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from export_api.app import ExportApi, Services
from export_api.auth import Authenticator, ReplayGuard
from export_api.exports import ExportService
from export_api.health import HealthChecker
from export_api.settings import Settings
from export_common import aws
from export_common.callbacks import CallbackNotifier
from export_common.table import IdempotencyStore, JobRepository

logger = Logger()
aws.route_logs(logger, ["export_common"])


def s3_config(settings: Settings) -> Config:
    """The API's S3 configuration (``export_common.aws.s3_config``)."""
    return aws.s3_config(endpoint_override=settings.aws_endpoint_url is not None)


def build_services(
    settings: Settings,
    *,
    session: boto3.session.Session | None = None,
) -> Services:
    """Wires the plain modules to boto3 clients (tests call this inside moto)."""
    clients = aws.AwsClients(endpoint_url=settings.aws_endpoint_url, session=session)
    s3 = clients.s3()
    sqs = clients.sqs()
    table = clients.table(settings.jobs_table_name)
    secrets = clients.secrets(
        settings.signing_secret_arn,
        ttl_seconds=settings.secret_cache_seconds,
        grace_seconds=settings.previous_secret_grace_seconds,
    )
    exports = ExportService(
        jobs=JobRepository(table, ttl_days=settings.job_ttl_days),
        idempotency=IdempotencyStore(table),
        s3=s3,
        sqs=sqs,
        assets_bucket=settings.assets_bucket_name,
        exports_bucket=settings.exports_bucket_name,
        queue_url=settings.job_queue_url,
        download_expiry_seconds=settings.download_url_expiry_seconds,
        max_upload_bytes=settings.max_upload_bytes,
        callback_policy=settings.callback_policy(),
        callbacks=(
            CallbackNotifier(sqs, settings.callback_queue_url, watch_seconds=settings.callback_watch_seconds)
            if settings.callback_queue_url
            else None
        ),
    )
    health = HealthChecker(
        table=table,
        s3=s3,
        sqs=sqs,
        secrets=secrets,
        assets_bucket=settings.assets_bucket_name,
        queue_url=settings.job_queue_url,
        version=settings.service_version,
    )
    return Services(
        settings=settings,
        authenticator=Authenticator(secrets, ReplayGuard(table)),
        exports=exports,
        health=health,
        s3=s3,
    )


@cache
def _services() -> Services:
    return build_services(Settings.from_env())


api = ExportApi(_services)
app = api.app


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.handle(event, context)
