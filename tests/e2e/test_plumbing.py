"""The stack's two paths into Lambda run inside LocalStack: API Gateway proxy and SQS event source mapping."""

from __future__ import annotations

import json
import time
import uuid

import boto3

from export_common.jobs import JobStatus, job_message_body
from export_common.table import JobRepository
from tests.e2e.conftest import one_clip_request
from tests.e2e.stack import Stack


def test_health_answers_through_api_gateway(stack: Stack) -> None:
    response = stack.request("GET", "/health", sign=False)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert all(state == "ok" for state in body["checks"].values()), body


def test_a_queued_message_reaches_the_worker_through_the_event_source_mapping(stack: Stack) -> None:
    """A job put straight on the queue (no API) is picked up by the worker, which records the outcome."""
    dynamodb = boto3.resource("dynamodb", endpoint_url=stack.endpoint_url, region_name="us-east-1")
    jobs = JobRepository(dynamodb.Table(stack.outputs["jobs_table_name"]))
    job_id = str(uuid.uuid4())
    request = one_clip_request("gone.mp4", f"assets/{uuid.uuid4()}.mp4")
    jobs.create(job_id, json.dumps(request), "direct")
    stack.client("sqs").send_message(
        QueueUrl=stack.outputs["job_queue_url"], MessageBody=job_message_body(job_id)
    )

    deadline = time.monotonic() + 120
    job = jobs.get(job_id)
    while job is not None and not job.status.is_final and time.monotonic() < deadline:
        time.sleep(0.5)
        job = jobs.get(job_id)
    assert job is not None and job.status is JobStatus.FAILED, job
    assert job.error is not None and job.error.code == "ASSET_MISSING"
    assert "/tmp" not in job.error.message
