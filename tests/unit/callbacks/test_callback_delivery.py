"""The delivery state machine (moto DynamoDB, SQS and S3): sign, POST, record, retry on schedule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from export_callbacks.delivery import DeliveryDeps, Step, process_callback
from export_callbacks.sender import SendResult
from export_common.callbacks import CallbackMessage, CallbackNotifier, CallbackSchedule
from export_common.jobs import CallbackState, Job, JobError, JobOutput
from export_common.table import CallbackStore, JobRepository
from video_export.signing import DELIVERY_ID_HEADER
from video_export.webhooks import verify_webhook

REGION = "us-east-1"
SECRET = "webhook-test-secret"
URL = "https://hooks.example.com/hooks/export?tenant=7"
SCHEDULE = CallbackSchedule(first_delay_seconds=10, backoff_factor=2, max_delay_seconds=3600, max_attempts=3)
WATCH = 300
LEASE = 30


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeReceiver:
    """Stands in for ``post_webhook``: answers as scripted and records what was sent."""

    answers: list[SendResult]
    sent: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        self.sent.append((url, body, headers))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@dataclass
class RecordingSqs:
    """The callbacks queue as the code sees it: what was sent, with its delay (moto would hide delayed
    messages from a receive, and the delay itself is what these tests check)."""

    sent: list[tuple[str, int]] = field(default_factory=list)

    def send_message(self, *, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0) -> dict[str, str]:  # noqa: N803
        assert 0 <= DelaySeconds <= 900
        self.sent.append((MessageBody, DelaySeconds))
        return {"MessageId": str(len(self.sent))}


@dataclass
class Bench:
    deps: DeliveryDeps
    receiver: FakeReceiver
    clock: Clock
    sqs: RecordingSqs
    repo: JobRepository

    def queued(self) -> list[tuple[CallbackMessage, int]]:
        """Messages sent to the callbacks queue since the last call, with their DelaySeconds."""
        out = [(CallbackMessage.model_validate_json(body), delay) for body, delay in self.sqs.sent]
        self.sqs.sent.clear()
        return out

    def job(self, job_id: str) -> Job:
        job = self.repo.get(job_id)
        assert job is not None
        return job

    def finished_job(self, *, succeed: bool = True, callback_url: str | None = URL) -> str:
        job_id = f"{len(self.receiver.sent):08d}-0000-4000-8000-{id(self) % 10**12:012d}"
        self.repo.create(job_id, "{}", "hash", callback_url=callback_url)
        claimed = self.repo.claim(job_id, lease_seconds=60)
        assert claimed is not None
        self.repo.add_usage(job_id, render_seconds=1.5, gb_seconds=4.5)
        if succeed:
            output = JobOutput(key=f"exports/{job_id}.mp4", durationSeconds=2.5, sizeBytes=1234, width=160,
                               height=90, renderSeconds=1.0, posterKey=f"exports/{job_id}.jpg")  # fmt: skip
            assert self.repo.mark_succeeded(job_id, claimed.attempt, output)
        else:
            error = JobError(code="INVALID_MEDIA", message="clip.mp4 is not a video")
            assert self.repo.mark_failed(job_id, error, attempt=claimed.attempt)
        return job_id


@pytest.fixture
def bench(jobs_table: Any) -> Iterator[Bench]:
    sqs = RecordingSqs()
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="exports-bucket")
    clock = Clock()
    receiver = FakeReceiver([SendResult(True, 200)])
    repo = JobRepository(jobs_table)
    deps = DeliveryDeps(
        jobs=repo,
        store=CallbackStore(jobs_table, clock=clock),
        queue=CallbackNotifier(sqs, "callbacks"),  # type: ignore[arg-type]
        s3=s3,
        secret=lambda: SECRET,
        post=receiver,
        schedule=SCHEDULE,
        exports_bucket="exports-bucket",
        download_expiry_seconds=3600,
        watch_seconds=WATCH,
        lease_seconds=LEASE,
        clock=clock,
    )
    yield Bench(deps, receiver, clock, sqs, repo)


def _first(job_id: str) -> str:
    return CallbackMessage(job_id=job_id).body()


def test_a_succeeded_job_is_posted_signed_with_its_download_url(bench: Bench) -> None:
    job_id = bench.finished_job()

    assert process_callback(_first(job_id), bench.deps) is Step.DELIVERED

    ((url, body, headers),) = bench.receiver.sent
    assert url == URL
    # the receiver's own check (the Python client) accepts it, over the URL's path without the query
    assert verify_webhook(SECRET, headers, "/hooks/export", body, now_ms=int(bench.clock.now * 1000))
    assert not verify_webhook("another-secret", headers, "/hooks/export", body)
    payload = json.loads(body)
    assert payload["jobId"] == job_id and payload["status"] == "SUCCEEDED"
    assert f"exports/{job_id}.mp4" in payload["downloadUrl"]
    assert payload["output"] == {"durationSeconds": 2.5, "sizeBytes": 1234, "width": 160, "height": 90}
    assert payload["usage"] == {"renderSeconds": 1.5, "lambdaGbSeconds": 4.5, "tasks": 1}
    assert payload["posterKey"] == f"exports/{job_id}.jpg" and "image%2Fjpeg" in payload["posterUrl"]
    assert "error" not in payload
    record = bench.job(job_id).callback
    assert record is not None
    assert headers[DELIVERY_ID_HEADER] == record.delivery_id
    assert (record.state, record.attempts, record.last_status) == (CallbackState.DELIVERED, 1, 200)


def test_a_failed_job_reports_its_error_and_no_download(bench: Bench) -> None:
    job_id = bench.finished_job(succeed=False)

    assert process_callback(_first(job_id), bench.deps) is Step.DELIVERED

    payload = json.loads(bench.receiver.sent[0][1])
    assert payload == {
        "jobId": job_id,
        "status": "FAILED",
        "error": "clip.mp4 is not a video",
        "errorCode": "INVALID_MEDIA",
        "usage": {"renderSeconds": 1.5, "lambdaGbSeconds": 4.5, "tasks": 1},
    }


def test_a_failing_receiver_is_retried_on_schedule_with_the_same_delivery_id(bench: Bench) -> None:
    bench.receiver.answers = [SendResult(False, 500, "HTTP 500"), SendResult(True, 204)]
    job_id = bench.finished_job()

    # attempt 1 fails: the next attempt is queued for first_delay_seconds later
    assert process_callback(_first(job_id), bench.deps) is Step.RETRYING
    record = bench.job(job_id).callback
    assert record is not None
    assert (record.state, record.attempts, record.last_status) == (CallbackState.RETRYING, 1, 500)
    assert record.next_attempt_at == int(bench.clock.now) + 10
    ((retry, delay),) = bench.queued()
    assert (retry.attempt, retry.not_before, delay) == (2, int(bench.clock.now) + 10, 10)

    # delivered early (SQS delays are approximate): it waits again, nothing is sent
    assert process_callback(retry.body(), bench.deps) is Step.WAITED
    assert len(bench.receiver.sent) == 1
    ((again, _),) = bench.queued()

    # on time: attempt 2 succeeds
    bench.clock.now += 10
    assert process_callback(again.body(), bench.deps) is Step.DELIVERED
    record = bench.job(job_id).callback
    assert record is not None
    assert (record.state, record.attempts, record.last_status) == (CallbackState.DELIVERED, 2, 204)
    ids = {headers[DELIVERY_ID_HEADER] for _, _, headers in bench.receiver.sent}
    assert ids == {record.delivery_id}
    # and a late duplicate of either message sends nothing more
    assert process_callback(_first(job_id), bench.deps) is Step.DROPPED
    assert process_callback(again.body(), bench.deps) is Step.DROPPED
    assert len(bench.receiver.sent) == 2


def test_after_the_last_attempt_the_webhook_is_failed(bench: Bench) -> None:
    bench.receiver.answers = [SendResult(False, None, "connection refused")]
    job_id = bench.finished_job()
    message = _first(job_id)
    steps = []
    for _ in range(SCHEDULE.max_attempts):
        steps.append(process_callback(message, bench.deps))
        queued = bench.queued()
        if queued:
            bench.clock.now = float(queued[0][0].not_before or bench.clock.now)
            message = queued[0][0].body()

    assert steps == [Step.RETRYING, Step.RETRYING, Step.FAILED]
    record = bench.job(job_id).callback
    assert record is not None
    assert (record.state, record.attempts, record.last_status) == (CallbackState.FAILED, 3, None)
    assert record.last_error == "connection refused"


def test_waits_beyond_the_sqs_limit_are_chained(bench: Bench) -> None:
    bench.deps.schedule = CallbackSchedule(first_delay_seconds=3600, max_attempts=3)
    bench.receiver.answers = [SendResult(False, 503, "HTTP 503")]
    job_id = bench.finished_job()

    assert process_callback(_first(job_id), bench.deps) is Step.RETRYING
    ((retry, delay),) = bench.queued()
    assert (retry.not_before, delay) == (int(bench.clock.now) + 3600, 900)
    for _ in range(3):  # three 15-minute hops: still early
        bench.clock.now += 900
        assert process_callback(retry.body(), bench.deps) is Step.WAITED
        ((retry, _),) = bench.queued()
    bench.clock.now += 900
    assert process_callback(retry.body(), bench.deps) is Step.RETRYING
    assert len(bench.receiver.sent) == 2


def test_the_safety_message_watches_until_the_job_ends(bench: Bench) -> None:
    job_id = "11111111-2222-4333-8444-555555555555"
    bench.repo.create(job_id, "{}", "hash", callback_url=URL)

    # while the job runs, the message only comes back later
    assert process_callback(_first(job_id), bench.deps) is Step.WAITED
    ((watch, delay),) = bench.queued()
    assert (watch.attempt, delay) == (1, WATCH)
    assert bench.receiver.sent == []

    # the job ends and its terminal transition's message was lost: the watch delivers
    claimed = bench.repo.claim(job_id, lease_seconds=60)
    assert claimed is not None
    bench.repo.mark_failed(job_id, JobError(code="RENDER_FAILED", message="x"), attempt=claimed.attempt)
    assert process_callback(watch.body(), bench.deps) is Step.DELIVERED
    assert len(bench.receiver.sent) == 1


def test_an_attempt_whose_function_died_is_taken_over_after_its_lease(bench: Bench) -> None:
    job_id = bench.finished_job()
    # Given attempt 1 claimed by a delivery that then died (no result recorded)
    assert bench.deps.store.claim(job_id, 1, lease_seconds=LEASE)

    # Then the redelivered message leaves a live lease alone, and takes over an expired one
    assert process_callback(_first(job_id), bench.deps) is Step.DROPPED
    bench.clock.now += LEASE + 1
    assert process_callback(_first(job_id), bench.deps) is Step.DELIVERED
    record = bench.job(job_id).callback
    assert record is not None and (record.state, record.attempts) == (CallbackState.DELIVERED, 1)


def test_jobs_without_a_callback_and_poison_bodies_are_dropped(bench: Bench) -> None:
    job_id = bench.finished_job(callback_url=None)
    assert process_callback(_first(job_id), bench.deps) is Step.DROPPED
    assert process_callback('{"jobId": "x", "extra": 1}', bench.deps) is Step.DROPPED
    assert process_callback("not json", bench.deps) is Step.DROPPED
    assert bench.receiver.sent == []
