"""``DELETE /export/{jobId}`` through the real local stack: a running single-pass render, a fanned-out job
mid-chunks, a job still waiting in the queue, a cancel racing success, and the errors.

Each cancel must end the job CANCELLED, leave nothing under its ``exports/`` and ``work/`` keys and send
its webhook once, with ``"status": "CANCELLED"`` (a receiver on 127.0.0.1 checks the signature). A
running render must stop within one heartbeat of the deployed worker (``JOB_HEARTBEAT_SECONDS``): its
ffmpeg ends and no further chunk starts. The worker runs as local processes, so a test finds a job's
ffmpeg by the unique asset key it reads (as the fault suite does).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from export_common.callbacks import callback_path
from tests.e2e import media
from tests.e2e.conftest import one_clip_request, presign_and_upload
from tests.e2e.stack import TIMINGS, Stack
from tests.e2e.test_faults import _ffmpeg_reading
from tests.webhook_receiver import Receiver, receiving
from video_export.webhooks import verify_webhook

RENDER_START_TIMEOUT = 240  # 2 cores shared with LocalStack and everything else: bounds, not expectations
# what stopping may take beyond the heartbeat itself: the refused beat, ffmpeg's next progress line, the
# clean-up's S3 and DynamoDB calls on a loaded machine
STOP_MARGIN_SECONDS = 5.0
WEBHOOK_TIMEOUT = 120


@pytest.fixture(scope="module")
def worker_env(stack: Stack) -> dict[str, str]:
    config = stack.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["worker_function_name"]
    )
    return dict(config["Environment"]["Variables"])


@pytest.fixture(scope="module")
def heartbeat_seconds(worker_env: dict[str, str]) -> float:
    """The deployed worker's heartbeat: a cancelled render stops within one."""
    return float(worker_env["JOB_HEARTBEAT_SECONDS"])


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return media.busy_clip(tmp_path_factory.mktemp("cancel") / "busy.mp4")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving([200]) as got:
        yield got


def _busy_request(key: str, seconds: float, *, size: tuple[int, int] = (640, 360)) -> dict[str, Any]:
    """``seconds`` of the noisy clip over and over: slow to encode, so a render runs long enough to cancel."""
    actions = [
        {"id": f"part-{i}", "start": i * 6, "end": min((i + 1) * 6, seconds), "effectId": "video",
         "data": {"src": "busy.mp4"}}
        for i in range(int(-(-seconds // 6)))
    ]  # fmt: skip
    return {
        "timeline": {"editorData": [{"id": "main", "actions": actions}]},
        "assets": [{"src": "busy.mp4", "s3Key": key}],
        "output": {"width": size[0], "height": size[1], "fps": 30},
    }


def _start(stack: Stack, request: dict[str, Any], callback_url: str | None = None) -> str:
    body = request | ({"callbackUrl": callback_url} if callback_url else {})
    response = stack.post_json("/export", body)
    assert response.status_code == 202, response.text
    return str(response.json()["jobId"])


def _delete(stack: Stack, job_id: str, **kwargs: Any) -> requests.Response:
    return stack.request("DELETE", f"/export/{job_id}", **kwargs)


def _status(stack: Stack, job_id: str) -> dict[str, Any]:
    response = stack.request("GET", f"/export/{job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait_status(stack: Stack, job_id: str, wanted: set[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = _status(stack, job_id)
        if last["status"] in wanted:
            return last
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} never reached {wanted}; last: {last}")


def _job_files(stack: Stack, job_id: str) -> list[str]:
    """Every object the job has under ``exports/<jobId>`` and ``work/<jobId>/``."""
    s3 = stack.client("s3")
    found: list[str] = []
    for prefix in (f"exports/{job_id}", f"work/{job_id}/"):
        listing = s3.list_objects_v2(Bucket=stack.outputs["exports_bucket_name"], Prefix=prefix)
        found += [item["Key"] for item in listing.get("Contents", [])]
    return found


def _until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``condition`` held; fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not met in time"
        time.sleep(0.1)
    return time.monotonic() - started


def _one_webhook(stack: Stack, receiver: Receiver, job_id: str, status: str) -> dict[str, Any]:
    """The job's webhook arrived, verified, with ``status``; and no second one follows."""
    deliveries = receiver.wait_for(1, WEBHOOK_TIMEOUT)
    assert deliveries, f"no webhook arrived for {job_id}"
    delivery = deliveries[0]
    assert verify_webhook(stack.webhook_secret, delivery.headers, callback_path(receiver.url), delivery.body)
    payload: dict[str, Any] = json.loads(delivery.body)
    assert (payload["jobId"], payload["status"]) == (job_id, status), payload
    if status == "CANCELLED":
        # a cancelled job reports only its status and what it spent (usage, as every ended job)
        assert set(payload) == {"jobId", "status", "usage"}, payload
    time.sleep(3)  # a duplicate (the safety message, a second terminal write) would arrive by now
    assert len(receiver.received) == 1, [r.body for r in receiver.received]
    return payload


def _wait_rendering(stack: Stack, job_id: str, key: str) -> None:
    """Until ffmpeg renders the job's asset and the job reports progress."""
    deadline = time.monotonic() + RENDER_START_TIMEOUT
    while time.monotonic() < deadline:
        if _ffmpeg_reading(key) is not None and float(_status(stack, job_id).get("progress") or 0) > 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never rendered: {_status(stack, job_id)}")


# ----------------------------------------------------------------------------------- single pass
def test_a_running_single_pass_job_stops_within_one_heartbeat(
    stack: Stack, busy: Path, receiver: Receiver, heartbeat_seconds: float, worker_env: dict[str, str]
) -> None:
    # Given a single-pass render of 36 s of noise (under the fan-out threshold), under way
    seconds = min(36.0, float(worker_env["FANOUT_THRESHOLD_SECONDS"]) - 1)
    key = presign_and_upload(stack, {"busy.mp4": busy})["busy.mp4"]
    job_id = _start(stack, _busy_request(key, seconds), receiver.url)
    _wait_rendering(stack, job_id, key)

    # When it is cancelled
    asked = time.monotonic()
    reply = _delete(stack, job_id)
    assert (reply.status_code, reply.json()) == (202, {"jobId": job_id, "status": "CANCELLING"}), reply.text

    # Then ffmpeg ends within one heartbeat, and the job ends CANCELLED, its files gone
    limit = heartbeat_seconds + STOP_MARGIN_SECONDS
    stopped = _until(lambda: _ffmpeg_reading(key) is None, limit)
    final = _wait_status(stack, job_id, {"CANCELLED", "SUCCEEDED", "FAILED"}, limit)
    ended = time.monotonic() - asked
    assert final["status"] == "CANCELLED", final
    assert ended <= limit, f"ended {ended:.1f} s after the cancel; the heartbeat is {heartbeat_seconds:g} s"
    assert _job_files(stack, job_id) == []
    TIMINGS["cancel of a running render: ffmpeg ended / job CANCELLED after"] = (
        f"{stopped:.1f} / {ended:.1f} s (heartbeat {heartbeat_seconds:g} s)"
    )
    _one_webhook(stack, receiver, job_id, "CANCELLED")
    # a cancel of a cancelled job: 200, the same body
    again = _delete(stack, job_id)
    assert (again.status_code, again.json()) == (200, {"jobId": job_id, "status": "CANCELLED"})


# ----------------------------------------------------------------------------------- fan-out
def test_a_fanned_out_job_cancelled_mid_chunks_starts_no_further_chunk(
    stack: Stack, busy: Path, receiver: Receiver, heartbeat_seconds: float, worker_env: dict[str, str]
) -> None:
    # Given a long export split into chunks, some of them rendering
    seconds = float(worker_env["FANOUT_THRESHOLD_SECONDS"]) + 4
    key = presign_and_upload(stack, {"busy.mp4": busy})["busy.mp4"]
    job_id = _start(stack, _busy_request(key, seconds), receiver.url)
    deadline = time.monotonic() + RENDER_START_TIMEOUT
    while not stack.task_records(job_id) or _ffmpeg_reading(key) is None:
        assert time.monotonic() < deadline, f"no chunk ever rendered: {stack.item(f'job#{job_id}')}"
        time.sleep(0.2)
    job = stack.item(f"job#{job_id}") or {}
    tasks = int(job["fanoutTasks"])

    # When it is cancelled mid-chunks
    asked = time.monotonic()
    cancelled_at_ms = int(time.time() * 1000)
    reply = _delete(stack, job_id)
    assert (reply.status_code, reply.json()["status"]) == (202, "CANCELLING"), reply.text
    started_before = set(stack.task_records(job_id))

    # Then every chunk's ffmpeg ends within one heartbeat, and the job ends CANCELLED
    limit = heartbeat_seconds + STOP_MARGIN_SECONDS
    stopped = _until(lambda: _ffmpeg_reading(key) is None, limit)
    final = _wait_status(stack, job_id, {"CANCELLED", "SUCCEEDED", "FAILED"}, limit)
    ended = time.monotonic() - asked
    assert final["status"] == "CANCELLED", final
    TIMINGS["cancel of a fanned-out job: chunks' ffmpeg ended / job CANCELLED after"] = (
        f"{stopped:.1f} / {ended:.1f} s ({len(started_before)} of {tasks} tasks had started)"
    )
    # no task started after the cancel: the remaining messages were dropped without a claim
    time.sleep(heartbeat_seconds)  # time for any message still queued to be delivered and dropped
    records = stack.task_records(job_id)
    late = {
        name: r["startedAt"] for name, r in records.items() if int(r["startedAt"]) > cancelled_at_ms + 1000
    }
    assert late == {}, f"tasks started after the cancel: {late}"
    assert _ffmpeg_reading(key) is None
    _until(lambda: _job_files(stack, job_id) == [], limit)
    _one_webhook(stack, receiver, job_id, "CANCELLED")


# ----------------------------------------------------------------------------------- queued
@pytest.fixture
def worker_paused(stack: Stack) -> Iterator[Callable[[], None]]:
    """The worker's event source mapping disabled, so a job's message waits in the queue; yields the
    function that enables it again (also run at the end, whatever happens)."""
    lambda_ = stack.client("lambda")
    (mapping,) = lambda_.list_event_source_mappings(FunctionName=stack.outputs["worker_function_name"])[
        "EventSourceMappings"
    ]
    mapping_id = mapping["UUID"]

    def set_state(enabled: bool) -> None:
        lambda_.update_event_source_mapping(UUID=mapping_id, Enabled=enabled)
        wanted = "Enabled" if enabled else "Disabled"
        _until(lambda: lambda_.get_event_source_mapping(UUID=mapping_id)["State"] == wanted, 60)

    set_state(False)
    resumed: list[bool] = []

    def resume() -> None:
        if not resumed:
            resumed.append(True)
            set_state(True)

    try:
        yield resume
    finally:
        resume()


def _queue_depth(stack: Stack) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["job_queue_url"], AttributeNames=names
    )
    return sum(int(attrs["Attributes"][n]) for n in names)


def test_a_queued_job_is_cancelled_at_once_and_its_message_dropped_unrendered(
    stack: Stack, uploaded: dict[str, str], receiver: Receiver, worker_paused: Callable[[], None]
) -> None:
    # Given a job whose message waits in the queue (no worker takes it)
    key = uploaded["red.mp4"]
    job_id = _start(stack, one_clip_request("red.mp4", key), receiver.url)
    assert _status(stack, job_id)["status"] == "QUEUED"

    # When it is cancelled: it ends at once, and its webhook goes out
    reply = _delete(stack, job_id)
    assert (reply.status_code, reply.json()) == (202, {"jobId": job_id, "status": "CANCELLED"}), reply.text
    assert _status(stack, job_id)["status"] == "CANCELLED"
    _one_webhook(stack, receiver, job_id, "CANCELLED")

    # Then the worker, back, drops its message without rendering it
    worker_paused()
    _until(lambda: _queue_depth(stack) == 0, 120)
    record = stack.item(f"job#{job_id}") or {}
    assert record["status"] == "CANCELLED" and int(record.get("attempt", 0)) == 0, record
    assert _job_files(stack, job_id) == []
    assert len(receiver.received) == 1


# ----------------------------------------------------------------------------------- races
def _running(stack: Stack, job_id: str) -> float:
    """Waits until the job is RUNNING; returns when that was seen (monotonic)."""
    _wait_status(stack, job_id, {"RUNNING", "SUCCEEDED", "FAILED"}, RENDER_START_TIMEOUT)
    return time.monotonic()


def test_a_cancel_racing_success_ends_in_the_one_state_the_api_reports(stack: Stack, busy: Path) -> None:
    """Cancels sent around the moment a render ends: either the cancel wins (202, CANCELLED, nothing
    left) or the success does (409 JOB_ALREADY_ENDED naming SUCCEEDED, its export there); never both,
    and one webhook, of the state the API reports."""
    key = presign_and_upload(stack, {"busy.mp4": busy})["busy.mp4"]
    request = _busy_request(key, 6, size=(320, 180))
    # how long this render runs, uncancelled
    reference = _start(stack, request)
    running_at = _running(stack, reference)
    final = _wait_status(stack, reference, {"SUCCEEDED", "FAILED"}, 120)
    assert final["status"] == "SUCCEEDED", final
    duration = time.monotonic() - running_at

    outcomes = []
    # from half-way (the cancel should win) to just after the end (the success should): the render's
    # time varies with the machine's load, so the offsets around the end may fall either way
    for offset in (-duration / 2, -1.0, -0.3, 0.0, 0.5):
        with receiving([200]) as receiver:
            job_id = _start(stack, request, receiver.url)
            time.sleep(max(0.0, _running(stack, job_id) + duration + offset - time.monotonic()))
            reply = _delete(stack, job_id)
            final = _wait_status(stack, job_id, {"CANCELLED", "SUCCEEDED", "FAILED"}, 120)
            if reply.status_code == 202:
                assert final["status"] == "CANCELLED", (reply.json(), final)
                _until(lambda job_id=job_id: _job_files(stack, job_id) == [], 30)
            else:
                assert reply.status_code == 409 and reply.json()["code"] == "JOB_ALREADY_ENDED", reply.text
                assert final["status"] == "SUCCEEDED" and "SUCCEEDED" in reply.json()["error"], final
                assert _job_files(stack, job_id) == [f"exports/{job_id}.mp4"]
            _one_webhook(stack, receiver, job_id, final["status"])
            outcomes.append(f"{offset:+.1f} s: {final['status']}")
    TIMINGS[f"cancel racing success (render {duration:.1f} s; cancel sent at its end +)"] = ", ".join(
        outcomes
    )


# ----------------------------------------------------------------------------------- errors
def test_delete_errors_have_the_service_shape(stack: Stack, uploaded: dict[str, str]) -> None:
    done = _start(stack, one_clip_request("red.mp4", uploaded["red.mp4"]))
    final, _ = stack.wait_for_final(done)
    assert final["status"] == "SUCCEEDED", final

    ended = _delete(stack, done)
    assert ended.status_code == 409 and ended.json()["code"] == "JOB_ALREADY_ENDED", ended.text
    assert _status(stack, done)["status"] == "SUCCEEDED" and _job_files(stack, done) == [
        f"exports/{done}.mp4"
    ]

    for job_id in (str(uuid.uuid4()), "not-a-job-id"):  # another deployment's id, a malformed one
        unknown = _delete(stack, job_id)
        assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND", unknown.text
        assert unknown.json()["error"]

    unsigned = _delete(stack, done, sign=False)
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "MISSING_SIGNATURE", unsigned.text
    signed_for_get = _delete(stack, done, signed_method="GET")
    assert signed_for_get.status_code == 401 and signed_for_get.json()["code"] == "INVALID_SIGNATURE"
