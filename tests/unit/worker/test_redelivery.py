"""Messages the worker hands back come back when the reason calls for, not after the whole visibility timeout.

The queue's visibility timeout is at least six worker timeouts; a job released on purpose must not wait
that long. These tests invoke the handler directly (unlike ``Bench.deliver``, which makes every failed
message visible at once) and look at when SQS delivers the message again.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import replace
from typing import Any

import pytest

from export_common.jobs import JobStatus, job_message_body
from export_worker import handler
from export_worker.redelivery import backoff_seconds, queue_url_from_arn
from tests.markers import requires_ffmpeg

from .conftest import Bench, FakeContext
from .test_handler import ThrottledDownloads


def test_backoff_doubles_from_30_s_up_to_15_minutes() -> None:
    assert [backoff_seconds(n) for n in range(1, 8)] == [30, 60, 120, 240, 480, 900, 900]
    assert backoff_seconds(0) == 30 and backoff_seconds(10_000) == 900


def test_queue_url_from_arn() -> None:
    arn = "arn:aws:sqs:eu-west-1:123456789012:video-export-jobs"
    assert queue_url_from_arn(arn) == "https://sqs.eu-west-1.amazonaws.com/123456789012/video-export-jobs"
    with pytest.raises(ValueError, match="not an SQS queue ARN"):
        queue_url_from_arn("arn:aws:sns:eu-west-1:123456789012:topic")


def _invoke(bench: Bench, context: FakeContext) -> tuple[list[dict[str, Any]], list[str]]:
    """One poll of the event source mapping that leaves failed messages as the handler left them."""
    messages = bench.receive()
    response = handler.lambda_handler(bench.event(messages), context)
    return messages, [f["itemIdentifier"] for f in response["batchItemFailures"]]


def _scheduled(log_stream: io.StringIO) -> list[int]:
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if line.startswith("{")]
    return [line["retry_after_seconds"] for line in lines if line.get("message") == "redelivery scheduled"]


@pytest.fixture
def with_sqs(bench: Bench) -> Bench:
    handler.set_deps(replace(bench.deps(), sqs=bench.sqs))
    return bench


@requires_ffmpeg
def test_a_job_released_for_lack_of_time_comes_back_at_once(with_sqs: Bench, log_stream: io.StringIO) -> None:
    job_id = with_sqs.create_job()
    messages, failed = _invoke(with_sqs, FakeContext(remaining_seconds=30))

    assert failed == [messages[0]["MessageId"]]
    assert with_sqs.job(job_id).status is JobStatus.QUEUED
    assert _scheduled(log_stream) == [0]
    again = with_sqs.receive()  # no waiting for the queue's 960 s visibility timeout
    assert [m["Body"] for m in again] == [messages[0]["Body"]]


def test_a_busy_job_comes_back_when_the_lease_runs_out(with_sqs: Bench, log_stream: io.StringIO) -> None:
    job_id = with_sqs.create_job(send=False)
    assert with_sqs.repo.claim(job_id, lease_seconds=120) is not None  # another attempt is rendering
    with_sqs.send(job_message_body(job_id))

    _, failed = _invoke(with_sqs, FakeContext())

    assert len(failed) == 1
    assert with_sqs.receive() == []  # not before the lease ends ...
    (delay,) = _scheduled(log_stream)
    assert 110 <= delay <= 121  # ... and not a whole visibility timeout later


def test_a_transient_error_backs_off(with_sqs: Bench, log_stream: io.StringIO) -> None:
    with_sqs.create_job()
    handler.set_deps(replace(with_sqs.deps(s3=ThrottledDownloads(with_sqs.s3)), sqs=with_sqs.sqs))

    _, failed = _invoke(with_sqs, FakeContext())

    assert len(failed) == 1
    assert _scheduled(log_stream) == [backoff_seconds(1)]
    assert with_sqs.receive() == []


def test_without_an_sqs_client_the_visibility_timeout_decides(bench: Bench, log_stream: io.StringIO) -> None:
    bench.create_job()
    _, failed = _invoke(bench, FakeContext(remaining_seconds=30))
    assert len(failed) == 1
    assert _scheduled(log_stream) == []
    assert bench.receive() == []


class VisibilitySpy:
    """The SQS client, recording every ChangeMessageVisibility."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self.visibility: list[int] = []

    def change_message_visibility(self, **kwargs: Any) -> Any:
        self.visibility.append(int(kwargs["VisibilityTimeout"]))
        return self._sqs.change_message_visibility(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)


@requires_ffmpeg
def test_while_a_render_runs_the_heartbeat_extends_the_lease_and_the_message(bench: Bench) -> None:
    settings = bench.settings.model_copy(update={"heartbeat_seconds": 0.1, "job_lease_seconds": 3})
    spy = VisibilitySpy(bench.sqs)
    handler.set_deps(replace(bench.deps(), settings=settings, sqs=spy))
    job_id = bench.create_job()
    leases: list[int] = []

    def slow_render() -> None:
        for _ in range(3):
            job = bench.job(job_id)
            assert job.lease_until is not None
            leases.append(job.lease_until)
            time.sleep(1.1)

    bench.renderer.before = slow_render
    messages, failed = _invoke(bench, FakeContext())

    assert failed == [] and bench.job(job_id).status is JobStatus.SUCCEEDED
    assert leases == sorted(leases) and leases[-1] > leases[0]  # the lease moved with the render
    assert all(lease <= time.time() + 3 for lease in leases)  # ... and stayed one short lease ahead
    # the first change at the claim, then one per beat: always the lease, never the queue's timeout
    assert len(spy.visibility) >= 10 and set(spy.visibility) == {3}
    assert len(messages) == 1
