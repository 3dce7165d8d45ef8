"""``DELETE /export/{jobId}`` through the handler with moto: each state's answer, races, errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from export_common.jobs import JobError, JobOutput, JobStatus
from export_common.keys import output_key
from export_common.signing import signed_headers
from export_common.table import JobRepository
from tests.unit.api.api_stack import SECRET, Stack, error_code


def _job(stack: Stack, status: JobStatus) -> str:
    repo = JobRepository(stack.table)
    job_id = str(uuid.uuid4())
    repo.create(job_id, "{}", "h", callback_url="https://hooks.example.com/x")
    if status is JobStatus.QUEUED:
        return job_id
    assert repo.claim(job_id, lease_seconds=60) is not None
    if status is JobStatus.SUCCEEDED:
        output = JobOutput(
            key=output_key(job_id), durationSeconds=1, sizeBytes=1, width=2, height=2, renderSeconds=1
        )
        assert repo.mark_succeeded(job_id, 1, output)
    elif status is JobStatus.FAILED:
        assert repo.mark_failed(job_id, JobError(code="INVALID_MEDIA", message="not a video"), attempt=1)
    return job_id


def _webhooks_queued(stack: Stack, job_id: str) -> int:
    """``job_ended`` messages for this job on the callbacks queue (the safety message is not sent here)."""
    url = stack.settings.callback_queue_url
    assert url is not None
    got = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return sum(json.loads(m["Body"])["jobId"] == job_id for m in got.get("Messages", []))


def _status(stack: Stack, job_id: str) -> str:
    return str(stack.call("GET", f"/export/{job_id}").body["status"])


def test_a_queued_job_is_cancelled_at_once_with_its_webhook(stack: Stack) -> None:
    job_id = _job(stack, JobStatus.QUEUED)
    reply = stack.call("DELETE", f"/export/{job_id}")
    assert (reply.status, reply.body) == (202, {"jobId": job_id, "status": "CANCELLED"})
    assert _status(stack, job_id) == "CANCELLED"
    assert _webhooks_queued(stack, job_id) == 1
    # a job already cancelled: 200, same body, no second webhook
    again = stack.call("DELETE", f"/export/{job_id}")
    assert (again.status, again.body) == (200, {"jobId": job_id, "status": "CANCELLED"})
    assert _webhooks_queued(stack, job_id) == 0


def test_a_running_job_becomes_cancelling_and_its_worker_ends_it(stack: Stack) -> None:
    job_id = _job(stack, JobStatus.RUNNING)
    reply = stack.call("DELETE", f"/export/{job_id}")
    assert (reply.status, reply.body) == (202, {"jobId": job_id, "status": "CANCELLING"})
    get = stack.call("GET", f"/export/{job_id}").body
    assert get["status"] == "CANCELLING" and "progress" not in get
    assert _webhooks_queued(stack, job_id) == 0  # not ended yet: the worker ends it, and queues it then
    # asked again while the worker stops: still 202 CANCELLING
    again = stack.call("DELETE", f"/export/{job_id}")
    assert (again.status, again.body["status"]) == (202, "CANCELLING")


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED])
def test_a_job_that_ended_otherwise_is_a_409(stack: Stack, status: JobStatus) -> None:
    job_id = _job(stack, status)
    reply = stack.call("DELETE", f"/export/{job_id}")
    assert (reply.status, error_code(reply)) == (409, "JOB_ALREADY_ENDED")
    assert status.value in reply.body["error"]
    assert reply.body["details"] == [{"path": "status", "message": status.value}]
    assert _status(stack, job_id) == status.value


@pytest.mark.parametrize(
    "job_id",
    [str(uuid.uuid4()), "not-a-uuid", str(uuid.uuid4()).upper(), "x" * 500, "presign"],
    ids=["another-deployment", "malformed", "upper-case", "long", "a-route-name"],
)
def test_an_unknown_or_malformed_job_is_a_404(stack: Stack, job_id: str) -> None:
    reply = stack.call("DELETE", f"/export/{job_id}")
    assert (reply.status, error_code(reply)) == (404, "NOT_FOUND")
    assert reply.body["error"] == "No export job with this id."


def test_an_unsigned_or_wrongly_signed_delete_is_a_401_and_changes_nothing(stack: Stack) -> None:
    job_id = _job(stack, JobStatus.QUEUED)
    assert error_code(stack.call("DELETE", f"/export/{job_id}", sign=False)) == "MISSING_SIGNATURE"
    assert error_code(stack.call("DELETE", f"/export/{job_id}", secret="other")) == "INVALID_SIGNATURE"
    # signed for GET, sent as DELETE
    signed_get = stack.call("DELETE", f"/export/{job_id}", sign=False, headers=_signed(stack, "GET", job_id))
    assert (signed_get.status, error_code(signed_get)) == (401, "INVALID_SIGNATURE")
    assert _status(stack, job_id) == "QUEUED"


def _signed(stack: Stack, method: str, job_id: str) -> dict[str, str]:
    return signed_headers(SECRET, method, f"/export/{job_id}", b"")


class _ClaimFirst(JobRepository):
    """A repository whose first cancel write loses to a worker's claim made just before it."""

    def __init__(self, table: Any) -> None:
        super().__init__(table)
        self.raced = False

    def mark_cancelled(self, job_id: str, *, from_status: JobStatus) -> bool:
        if not self.raced:
            self.raced = True
            assert self.claim(job_id, lease_seconds=60) is not None
        return super().mark_cancelled(job_id, from_status=from_status)


class _SucceedFirst(JobRepository):
    """A repository whose cancel write loses to the worker's success written just before it."""

    def request_cancel(self, job_id: str) -> bool:
        output = JobOutput(
            key=output_key(job_id), durationSeconds=1, sizeBytes=1, width=2, height=2, renderSeconds=1
        )
        assert self.mark_succeeded(job_id, 1, output)
        return super().request_cancel(job_id)


def test_a_claim_racing_a_queued_cancel_makes_it_cancelling(stack: Stack) -> None:
    job_id = _job(stack, JobStatus.QUEUED)
    stack.services.exports.jobs = _ClaimFirst(stack.table)
    reply = stack.call("DELETE", f"/export/{job_id}")
    assert (reply.status, reply.body["status"]) == (202, "CANCELLING")
    assert _status(stack, job_id) == "CANCELLING"


def test_a_success_racing_the_cancel_is_reported_as_it_is(stack: Stack) -> None:
    job_id = _job(stack, JobStatus.RUNNING)
    stack.services.exports.jobs = _SucceedFirst(stack.table)
    reply = stack.call("DELETE", f"/export/{job_id}")
    assert (reply.status, error_code(reply)) == (409, "JOB_ALREADY_ENDED")
    assert "SUCCEEDED" in reply.body["error"]
    assert _status(stack, job_id) == "SUCCEEDED"
