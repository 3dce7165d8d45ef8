"""``callbackUrl`` at ``POST /export``: refused with a readable 400, or stored with a safety message."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from export_common.callbacks import CallbackMessage
from export_common.jobs import CallbackRecord, CallbackState, JobOutput, JobStatus
from export_common.table import JobRepository
from tests.unit.api.api_stack import Stack, error_code


def _callback_messages(stack: Stack) -> list[dict[str, Any]]:
    url = stack.settings.callback_queue_url
    assert url is not None
    got = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def _request(stack: Stack, make_request: Callable[..., dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = make_request("clip.mp4")
    for asset in body["assets"]:
        stack.upload(asset["s3Key"])
    return body | extra


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "must use https"),
        ("https://10.0.0.8/x", "public address"),
        ("https://169.254.169.254/latest", "public address"),
        ("https://[::ffff:127.0.0.1]/x", "public address"),
        ("https://u:p@hooks.example.com/x", "credentials"),
    ],
)
def test_a_refused_callback_url_is_a_400_naming_the_field(
    stack: Stack, make_request: Callable[..., dict[str, Any]], url: str, reason: str
) -> None:
    reply = stack.call("POST", "/export", _request(stack, make_request, callbackUrl=url))

    assert reply.status == 400, reply.body
    assert error_code(reply) == "INVALID_CALLBACK_URL"
    assert reason in reply.body["error"]
    assert reply.body["details"][0]["path"] == "callbackUrl"
    assert stack.messages() == []  # no job was queued


def test_an_accepted_callback_is_stored_pending_and_watched(
    stack: Stack, make_request: Callable[..., dict[str, Any]]
) -> None:
    url = "https://hooks.example.com/export?tenant=1"
    reply = stack.call("POST", "/export", _request(stack, make_request, callbackUrl=url))
    assert reply.status == 202, reply.body
    job_id = reply.body["jobId"]

    job = JobRepository(stack.table).get(job_id)
    assert job is not None and job.callback_url == url
    assert job.callback is not None and job.callback.state is CallbackState.PENDING
    assert [CallbackMessage.model_validate(m).job_id for m in _callback_messages(stack)] == [job_id]

    status = stack.call("GET", f"/export/{job_id}")
    assert status.body["callback"] == {"state": "PENDING", "attempts": 0, "lastStatus": None}


def test_without_a_callback_nothing_is_watched_and_get_shows_no_callback(
    stack: Stack, make_request: Callable[..., dict[str, Any]]
) -> None:
    reply = stack.call("POST", "/export", _request(stack, make_request))
    assert reply.status == 202
    assert _callback_messages(stack) == []
    assert "callback" not in stack.call("GET", f"/export/{reply.body['jobId']}").body


def test_get_reports_the_delivery_state(stack: Stack, make_request: Callable[..., dict[str, Any]]) -> None:
    reply = stack.call(
        "POST", "/export", _request(stack, make_request, callbackUrl="https://hooks.example.com/x")
    )
    job_id = reply.body["jobId"]
    repo = JobRepository(stack.table)
    claimed = repo.claim(job_id, lease_seconds=60)
    assert claimed is not None
    output = JobOutput(key=f"exports/{job_id}.mp4", durationSeconds=1, sizeBytes=10, width=2, height=2,
                       renderSeconds=1)  # fmt: skip
    assert repo.mark_succeeded(job_id, claimed.attempt, output)
    record = CallbackRecord(delivery_id="d", state=CallbackState.RETRYING, attempts=2, last_status=503,
                            last_error="HTTP 503", next_attempt_at=1_900_000_000)  # fmt: skip
    stack.table.update_item(
        Key={"pk": f"job#{job_id}"},
        UpdateExpression="SET callback = :c",
        ExpressionAttributeValues={":c": record.model_dump(by_alias=True, exclude_none=True)},
    )

    body = stack.call("GET", f"/export/{job_id}").body
    assert body["status"] == JobStatus.SUCCEEDED
    assert body["callback"] == {
        "state": "RETRYING",
        "attempts": 2,
        "lastStatus": 503,
        "lastError": "HTTP 503",
        "nextAttemptAt": "2030-03-17T17:46:40Z",
    }
