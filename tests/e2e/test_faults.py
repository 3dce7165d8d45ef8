"""Fault suite (`make chaos`; also part of `make e2e`): faults injected into the real local stack.

Each case injects one fault into a running export, waits for the job to end and checks that it ended
exactly once: one final state, the expected attempt count, one output object. Each prints how long the
recovery took (fault → final state). The Lambda environments are local processes
(tools/local_lambda_executor), so a test finds the worker rendering its job by the ffmpeg process that
reads the job's unique asset key.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from tests.e2e import media
from tests.e2e.conftest import one_clip_request, presign_and_upload
from tests.e2e.stack import TIMINGS, Stack

# the local worker's lease (terraform/envs/local): a crash is taken over within this, plus a poll
LOCAL_LEASE_SECONDS = 30
RECOVERY_TARGET_SECONDS = 180
SEGMENTS = 6  # 36 s of noisy 640x360 at 30 fps: long enough to be killed mid-render


@dataclass
class Process:
    pid: int
    ppid: int
    argv: list[str]


def _processes() -> list[Process]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may contain spaces: fields after the last ')' are fixed
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        found.append(Process(int(entry.name), ppid, [a for a in argv if a]))
    return found


def _ffmpeg_reading(asset_key: str) -> Process | None:
    """The ffmpeg process rendering from this asset (keys are unique per upload)."""
    for process in _processes():
        if (
            process.argv
            and Path(process.argv[0]).name == "ffmpeg"
            and any(asset_key in a for a in process.argv)
        ):
            return process
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
    )


def _job_record(stack: Stack, job_id: str) -> dict[str, Any]:
    item = stack.client("dynamodb").get_item(
        TableName=stack.outputs["jobs_table_name"], Key={"pk": {"S": f"job#{job_id}"}}, ConsistentRead=True
    )["Item"]
    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}


def _outputs_of(stack: Stack, job_id: str) -> list[str]:
    listing = stack.client("s3").list_objects_v2(
        Bucket=stack.outputs["exports_bucket_name"], Prefix=f"exports/{job_id}"
    )
    return [item["Key"] for item in listing.get("Contents", [])]


def _report(name: str, seconds: float, what: str = "recovered in") -> None:
    TIMINGS[f"fault: {name}, {what}"] = f"{seconds:.1f} s"
    print(f"\n[fault suite] {name}: {what} {seconds:.1f} s")


@pytest.fixture(scope="module")
def busy_key(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    path = media.busy_clip(tmp_path_factory.mktemp("faults") / "busy.mp4")
    return {"path": str(path)}


def _long_job(stack: Stack, busy_key: dict[str, str]) -> tuple[str, str]:
    """A fresh upload (its key identifies this job's ffmpeg) and a job rendering it for a while."""
    keys = presign_and_upload(stack, {"busy.mp4": Path(busy_key["path"])})
    key = keys["busy.mp4"]
    actions = [
        {
            "id": f"part-{i}",
            "start": i * 6,
            "end": (i + 1) * 6,
            "effectId": "video",
            "data": {"src": "busy.mp4"},
        }
        for i in range(SEGMENTS)
    ]
    request = {
        "timeline": {"editorData": [{"id": "main", "actions": actions}]},
        "assets": [{"src": "busy.mp4", "s3Key": key}],
        "output": {"width": 640, "height": 360, "fps": 30},
    }
    response = stack.post_json("/export", request)
    assert response.status_code == 202, response.text
    return response.json()["jobId"], key


def _wait_for_ffmpeg(stack: Stack, job_id: str, key: str, timeout: float = 240) -> Process:
    """Waits until the job renders (ffmpeg has made some progress) and returns its ffmpeg."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process = _ffmpeg_reading(key)
        if process is not None:
            record = _job_record(stack, job_id)
            if record["status"] == "RUNNING" and float(record.get("progress", 0)) > 0:
                return process
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never rendered; last record: {_job_record(stack, job_id)}")


def _ends_once(stack: Stack, job_id: str, *, attempt: int) -> dict[str, Any]:
    final, _ = stack.wait_for_final(job_id, timeout=RECOVERY_TARGET_SECONDS + 60, poll_interval=0.5)
    assert final["status"] == "SUCCEEDED", final
    record = _job_record(stack, job_id)
    assert record["status"] == "SUCCEEDED" and int(record["attempt"]) == attempt, record
    assert _outputs_of(stack, job_id) == [f"exports/{job_id}.mp4"]
    assert abs(final["output"]["durationSeconds"] - 6 * SEGMENTS) < 0.1
    return record


def test_a_worker_killed_mid_render_recovers_within_minutes(stack: Stack, busy_key: dict[str, str]) -> None:
    job_id, key = _long_job(stack, busy_key)
    ffmpeg = _wait_for_ffmpeg(stack, job_id, key)
    runtime = ffmpeg.ppid  # the Lambda environment's process (the worker's handler runs ffmpeg)
    # awslambdaric in the worker image (LOCAL_LAMBDA_IMAGES=built), runtime.py from the source
    cmdline = Path(f"/proc/{runtime}/cmdline").read_bytes().decode(errors="replace")
    assert "awslambdaric" in cmdline or "runtime.py" in cmdline, cmdline
    killed_at = time.monotonic()
    os.kill(runtime, signal.SIGKILL)

    # the heartbeat stopped: within one lease (plus a poll) the message is back and attempt 2 claims
    deadline = killed_at + LOCAL_LEASE_SECONDS + 60
    while int(_job_record(stack, job_id)["attempt"]) < 2:
        assert time.monotonic() < deadline, "no second attempt claimed the job"
        time.sleep(0.5)
    takeover = time.monotonic() - killed_at
    _report("worker killed mid-render: attempt 2 claimed", takeover)

    _ends_once(stack, job_id, attempt=2)
    recovery = time.monotonic() - killed_at
    _report("worker killed mid-render (SIGKILL of the Lambda runtime): SUCCEEDED", recovery)
    assert recovery < RECOVERY_TARGET_SECONDS
    assert not _alive(ffmpeg.pid)  # the killed environment's ffmpeg went with it


def test_an_ffmpeg_killed_by_a_signal_is_retried(stack: Stack, busy_key: dict[str, str]) -> None:
    job_id, key = _long_job(stack, busy_key)
    ffmpeg = _wait_for_ffmpeg(stack, job_id, key)
    killed_at = time.monotonic()
    os.kill(ffmpeg.pid, signal.SIGKILL)  # what the kernel's out-of-memory killer does

    record = _ends_once(stack, job_id, attempt=2)
    recovery = time.monotonic() - killed_at
    _report("ffmpeg killed by SIGKILL (out of memory)", recovery)
    assert record["lastError"] == {
        "code": "RENDER_RESOURCES_EXHAUSTED",
        "message": "the render ran out of resources; retrying",
    }
    assert recovery < RECOVERY_TARGET_SECONDS


def _sqs_event(stack: Stack, job_id: str) -> dict[str, Any]:
    """An SQS event for the worker, as the event source mapping builds it (a made-up receipt handle)."""
    queue_arn = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["job_queue_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    now_ms = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "duplicate-" + str(uuid.uuid4()),
                "body": json.dumps({"jobId": job_id}),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now_ms,
                    "SenderId": "fault-suite",
                    "ApproximateFirstReceiveTimestamp": now_ms,
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
        ]
    }


def test_duplicate_and_concurrent_deliveries_render_once(stack: Stack, busy_key: dict[str, str]) -> None:
    job_id, key = _long_job(stack, busy_key)
    sqs = stack.client("sqs")
    body = json.dumps({"jobId": job_id})
    for _ in range(2):  # the same message twice more: SQS's at-least-once delivery
        sqs.send_message(QueueUrl=stack.outputs["job_queue_url"], MessageBody=body)
    _wait_for_ffmpeg(stack, job_id, key)
    started = time.monotonic()

    # a concurrent delivery while the first attempt renders: another worker environment, same job
    responses: list[dict[str, Any]] = []

    def invoke() -> None:
        result = stack.client("lambda").invoke(
            FunctionName=stack.outputs["worker_function_name"], Payload=json.dumps(_sqs_event(stack, job_id))
        )
        responses.append(json.loads(result["Payload"].read()))

    threads = [threading.Thread(target=invoke) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # each concurrent delivery found the job busy and handed its message back, costing no attempt
    assert len(responses) == 2
    for response in responses:
        assert len(response["batchItemFailures"]) == 1, response
    assert int(_job_record(stack, job_id)["attempt"]) == 1

    _ends_once(stack, job_id, attempt=1)
    _report(
        "duplicate + concurrent deliveries of one job (5 in all)", time.monotonic() - started, "ended once in"
    )

    # the two queued duplicates come after the job ended: acknowledged, and nothing changes
    deadline = time.monotonic() + 90
    acknowledged: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(acknowledged) < 2:
        time.sleep(2)
        acknowledged = [
            line
            for line in _worker_log_lines(stack, job_id)
            if line.get("message") == "job already final; redelivery acknowledged"
        ]
    assert len(acknowledged) >= 2, "the duplicate messages were not acknowledged"
    record = _job_record(stack, job_id)
    assert record["status"] == "SUCCEEDED" and int(record["attempt"]) == 1
    assert _outputs_of(stack, job_id) == [f"exports/{job_id}.mp4"]


def _worker_log_lines(stack: Stack, marker: str) -> list[dict[str, Any]]:
    logs = stack.client("logs")
    group = f"/aws/lambda/{stack.outputs['worker_function_name']}"
    lines = []
    paginator = logs.get_paginator("filter_log_events")
    for page in paginator.paginate(logGroupName=group, startTime=int((time.time() - 600) * 1000)):
        for event in page.get("events", []):
            if marker in event["message"]:
                try:
                    lines.append(json.loads(event["message"]))
                except ValueError:
                    continue
    return lines


@pytest.mark.parametrize(
    "template",
    ["not json {marker}", '{{"jobId": "", "marker": "{marker}"}}', '["{marker}"]', '{{"job": "{marker}"}}'],
)
def test_poison_bodies_are_dropped_and_the_queue_keeps_flowing(
    stack: Stack, uploaded: dict[str, str], template: str
) -> None:
    marker = f"poison-{uuid.uuid4()}"
    body = template.format(marker=marker)
    started = time.monotonic()
    stack.client("sqs").send_message(QueueUrl=stack.outputs["job_queue_url"], MessageBody=body)

    deadline = time.monotonic() + 120
    dropped: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not dropped:
        dropped = [
            line
            for line in _worker_log_lines(stack, marker)
            if line.get("message") == "poison message: not a job message; dropped"
        ]
        time.sleep(1)
    assert dropped, f"no worker log line shows {body!r} dropped"
    assert dropped[0]["level"] == "ERROR" and dropped[0]["body_prefix"] == body
    _report(f"poison body {body[:40]!r}", time.monotonic() - started, "dropped in")

    # and a real job right behind it goes through
    response = stack.post_json("/export", one_clip_request("red.mp4", uploaded["red.mp4"], end=0.5))
    assert response.status_code == 202, response.text
    final, _ = stack.wait_for_final(response.json()["jobId"], timeout=120)
    assert final["status"] == "SUCCEEDED", final


def test_a_truncated_upload_fails_as_invalid_media_naming_its_src(stack: Stack, media_dir: Path) -> None:
    """A faststart mp4 cut to 30 % of its bytes still says it lasts 4 s: it must not render 'successfully'."""
    whole = media.two_tone_clip(media_dir / "truncated-source.mp4")
    cut = media_dir / "truncated.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.3)])
    keys = presign_and_upload(stack, {"cut.mp4": cut})
    started = time.monotonic()
    response = stack.post_json("/export", one_clip_request("cut.mp4", keys["cut.mp4"], end=3))
    assert response.status_code == 202, response.text
    job_id = response.json()["jobId"]
    final, _ = stack.wait_for_final(job_id, timeout=120)
    _report("truncated upload", time.monotonic() - started, "failed cleanly in")
    assert (final["status"], final["errorCode"]) == ("FAILED", "INVALID_MEDIA"), final
    assert "cut.mp4" in final["error"] and "truncated" in final["error"]
    assert _outputs_of(stack, job_id) == []
