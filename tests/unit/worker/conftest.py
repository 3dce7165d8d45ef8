"""The worker's test bench: moto S3/SQS/DynamoDB, tiny real media, the real renderer with a call counter,
and a small stand-in for the SQS event source mapping (receive → invoke → delete or let it come back)."""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

# Powertools reads these when the handler module is imported (once per cold start)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "VideoExportTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "export-worker")

from export_common.callbacks import CallbackNotifier
from export_common.jobs import Job, job_message_body
from export_common.table import JobRepository
from export_worker import handler
from export_worker.attempt import WorkerDeps
from export_worker.engine import FfmpegEngine, RenderEngine, RenderOutcome, RenderRun
from export_worker.settings import WorkerSettings
from tests.video_frames import lavfi_clip

REGION = "us-east-1"
ASSETS_BUCKET = "assets-bucket"
EXPORTS_BUCKET = "exports-bucket"
MAX_ATTEMPTS = 3
# the queue's redrive limit: a safety net above the job's attempts, as Terraform sets it
MAX_RECEIVE_COUNT = 6
W, H = 160, 90


@pytest.fixture(scope="session")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """1 s of 160x90 test pattern with a tone: H.264 + AAC, as a browser upload would be."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    return lavfi_clip(path, f"testsrc=s={W}x{H}:r=10:d=1", seconds=1).read_bytes()


class FakeContext:
    """The parts of the Lambda context the handler and Powertools read; remaining time is settable."""

    function_name = "export-worker"
    function_version = "$LATEST"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:export-worker"

    def __init__(self, remaining_seconds: float = 900.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.remaining_seconds = remaining_seconds
        # remaining time reported after the first call (the batch start), to simulate a used-up budget
        self.later_remaining_seconds: float | None = None
        self._calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self._calls += 1
        if self._calls > 1 and self.later_remaining_seconds is not None:
            return int(self.later_remaining_seconds * 1000)
        return int(self.remaining_seconds * 1000)


type RenderFn = Callable[[Any, Path, Path, RenderRun], RenderOutcome]


@dataclass
class CountingEngine:
    """The ffmpeg engine (or ``base``), whose whole renders are counted and may be replaced by ``inner``."""

    inner: RenderFn | None = None
    base: RenderEngine = field(default_factory=FfmpegEngine)
    calls: int = 0
    before: Callable[[], None] | None = None

    def render(self, request: Any, assets_dir: Path, output_path: Path, run: RenderRun) -> RenderOutcome:
        self.calls += 1
        if self.before is not None:
            self.before()
        if self.inner is not None:
            return self.inner(request, assets_dir, output_path, run)
        return self.base.render(request, assets_dir, output_path, run)

    def __getattr__(self, name: str) -> Any:  # plan, task_asset_keys, render_chunk, ...: the base's
        return getattr(self.base, name)


@dataclass
class Bench:
    """One moto account with the stack's resources and the worker wired to it."""

    repo: JobRepository
    s3: Any
    sqs: Any
    queue_url: str
    dlq_url: str
    settings: WorkerSettings
    renderer: CountingEngine
    clip: bytes
    work_root: Path
    temp_root: Path
    clock_offset: list[float] = field(default_factory=lambda: [0.0])
    last_messages: list[dict[str, Any]] = field(default_factory=list)
    callbacks_url: str = ""  # the webhook queue the worker's job_ended hook sends to

    def callback_job_ids(self) -> list[str]:
        """Job ids of the webhook messages queued so far (consumed)."""
        ids = []
        for message in self.receive(self.callbacks_url):
            ids.append(json.loads(message["Body"])["jobId"])
            self.sqs.delete_message(QueueUrl=self.callbacks_url, ReceiptHandle=message["ReceiptHandle"])
        return ids

    def clock(self) -> float:
        return time.time() + self.clock_offset[0]

    # ------------------------------------------------------------ jobs and assets
    def upload(self, data: bytes | None = None, ext: str = ".mp4") -> str:
        key = f"assets/{uuid.uuid4()}{ext}"
        self.s3.put_object(Bucket=ASSETS_BUCKET, Key=key, Body=self.clip if data is None else data)
        return key

    def request(self, key: str, *, src: str = "clip.mp4", seconds: float = 1.0) -> dict[str, Any]:
        action = {"id": "a1", "start": 0, "end": seconds, "data": {"type": "video", "src": src}}
        return {
            "timeline": {"editorData": [{"id": "row1", "actions": [action]}]},
            "assets": [{"src": src, "s3Key": key}],
            "output": {"width": W, "height": H, "fps": 10},
        }

    def create_job(self, request: dict[str, Any] | None = None, *, send: bool = True) -> str:
        job_id = str(uuid.uuid4())
        body = request if request is not None else self.request(self.upload())
        self.repo.create(job_id, json.dumps(body), "hash")
        if send:
            self.send(job_message_body(job_id))
        return job_id

    def job(self, job_id: str) -> Job:
        job = self.repo.get(job_id)
        assert job is not None
        return job

    # ------------------------------------------------------------ SQS
    def send(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def receive(self, queue_url: str | None = None, max_messages: int = 10) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=queue_url or self.queue_url,
            MaxNumberOfMessages=max_messages,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def event(self, messages: list[dict[str, Any]], queue: str = "jobs") -> dict[str, Any]:
        """The Lambda event the SQS event source mapping builds (shape of Powertools' sample SQS event)."""
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m["Attributes"],
                    "messageAttributes": m.get("MessageAttributes", {}),
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{queue}",
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }

    def deliver(
        self,
        context: FakeContext | None = None,
        *,
        queue_url: str | None = None,
        entry: Callable[[dict[str, Any], Any], Any] | None = None,
    ) -> tuple[int, list[str]]:
        """One poll of the event source mapping: invoke the handler with what the queue gives, delete
        the successes, make the failures visible again at once (as if the visibility timeout passed).
        Returns (records delivered, failed message ids)."""
        url = queue_url or self.queue_url
        messages = self.receive(url)
        self.last_messages = messages
        if not messages:
            return 0, []
        call = entry or handler.lambda_handler
        response = call(self.event(messages), context or FakeContext())
        failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        for m in messages:
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(messages), failed

    def deps(self, *, s3: Any = None, engine: RenderEngine | None = None) -> WorkerDeps:
        return WorkerDeps(
            settings=self.settings,
            repo=self.repo,
            s3=s3 or self.s3,
            engine=engine or self.renderer,
            clock=self.clock,
            callbacks=CallbackNotifier(self.sqs, self.callbacks_url) if self.callbacks_url else None,
        )

    def make_visible(self) -> None:
        """The visibility timeout of the last received messages passes (their consumer died)."""
        for m in self.last_messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )

    def queue_depth(self, queue_url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attrs = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        return sum(int(attrs[n]) for n in names)

    def exports(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=EXPORTS_BUCKET)
        return [o["Key"] for o in listing.get("Contents", [])]

    def leftovers(self) -> list[Path]:
        """Anything the worker or the renderer left in the ephemeral storage."""
        return sorted([*self.work_root.iterdir(), *self.temp_root.iterdir()])


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """What the worker logs (JSON lines), from the one handler all its loggers share."""
    stream = io.StringIO()
    log_handler = handler.logger.registered_handler
    assert isinstance(log_handler, logging.StreamHandler)
    previous = log_handler.setStream(stream)
    try:
        yield stream
    finally:
        log_handler.setStream(previous)


@pytest.fixture
def bench(
    jobs_table: Any,
    clip_bytes: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Bench]:
    """The worker with the real ffmpeg engine and real media."""
    yield from make_bench(jobs_table, clip_bytes, CountingEngine(), tmp_path, monkeypatch)


def make_bench(
    jobs_table: Any,
    clip: bytes,
    renderer: CountingEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Bench]:
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in (ASSETS_BUCKET, EXPORTS_BUCKET):
        s3.create_bucket(Bucket=bucket)
    sqs = boto3.client("sqs", region_name=REGION)
    dlq_url = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dlq_attrs = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]
    dlq_arn = dlq_attrs["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName="jobs",
        Attributes={
            "VisibilityTimeout": "960",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    callbacks_url = sqs.create_queue(QueueName="callbacks")["QueueUrl"]
    work_root = tmp_path / "work"
    temp_root = tmp_path / "tmp"  # the renderer's own temp dirs go to the system temp dir
    work_root.mkdir()
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    settings = WorkerSettings.from_env(
        {
            "JOBS_TABLE_NAME": jobs_table.name,
            "ASSETS_BUCKET_NAME": ASSETS_BUCKET,
            "EXPORTS_BUCKET_NAME": EXPORTS_BUCKET,
            "MAX_RECEIVE_COUNT": str(MAX_RECEIVE_COUNT),
            "MAX_ATTEMPTS": str(MAX_ATTEMPTS),
            "JOB_LEASE_SECONDS": "120",
            "JOB_HEARTBEAT_SECONDS": "60",
            "MAX_UPLOAD_BYTES": str(10 * 1024 * 1024),
            "WORK_DIR": str(work_root),
        }
    )
    b = Bench(
        repo=JobRepository(jobs_table),
        s3=s3,
        sqs=sqs,
        queue_url=queue_url,
        dlq_url=dlq_url,
        settings=settings,
        renderer=renderer,
        clip=clip,
        work_root=work_root,
        temp_root=temp_root,
        callbacks_url=callbacks_url,
    )
    handler.set_deps(b.deps())
    try:
        yield b
    finally:
        handler.set_deps(None)
