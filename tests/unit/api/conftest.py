"""Fixtures of the API tests: a moto-backed stack (buckets, queue, secret, jobs table)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from export_api.app import ExportApi
from export_api.handler import build_services
from export_api.settings import Settings

from .api_stack import REGION, SECRET, Stack, timeline_request


@pytest.fixture
def stack(jobs_table: Any) -> Stack:
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("assets-bucket", "exports-bucket"):
        s3.create_bucket(Bucket=bucket)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    callbacks_url = sqs.create_queue(QueueName="callbacks")["QueueUrl"]
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="signing", SecretString=SECRET)["ARN"]
    settings = Settings(
        jobs_table_name=jobs_table.name,
        job_queue_url=queue_url,
        assets_bucket_name="assets-bucket",
        exports_bucket_name="exports-bucket",
        signing_secret_arn=arn,
        service_version="1.2.3-test",
        max_upload_bytes=10 * 1024 * 1024,
        callback_queue_url=callbacks_url,
        callback_watch_seconds=0,  # the safety message visible at once (moto hides delayed ones)
    )
    services = build_services(settings, session=boto3._get_default_session())  # shares loaded models
    return Stack(settings, services, ExportApi(lambda: services), jobs_table, s3, sqs, secrets)


@pytest.fixture
def make_request() -> Callable[..., dict[str, Any]]:
    return timeline_request


@pytest.fixture
def now_ms() -> Callable[[], int]:
    return lambda: int(time.time() * 1000)
