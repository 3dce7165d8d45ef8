"""The worker end to end inside one process: moto SQS/S3/DynamoDB, the real renderer and real ffmpeg.

Each test drives ``lambda_handler`` through ``Bench.deliver`` (receive → invoke → delete the successes,
let the failures come back), the way the SQS event source mapping does.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from export_common.errors import ErrorCode
from export_common.jobs import JobStatus, job_message_body
from export_common.keys import output_key
from export_worker import handler
from export_worker.engine import RenderRun
from export_worker.metrics import ERROR_CODE_DIMENSION, WorkerMetric
from render.errors import RenderTimeoutError
from tests.markers import requires_ffmpeg

from .conftest import (
    EXPORTS_BUCKET,
    MAX_ATTEMPTS,
    Bench,
    CountingEngine,
    FakeContext,
)

pytestmark = [requires_ffmpeg, pytest.mark.slow]


class SimulatedCrash(BaseException):
    """What the Lambda runtime does to a timed-out invocation: nothing after it runs in the handler."""


def ffprobe_json(data: bytes, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "probe.mp4"
    path.write_bytes(data)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    parsed: dict[str, Any] = json.loads(out)
    return parsed


def _emf(stdout: str) -> list[dict[str, Any]]:
    docs = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            docs.append(json.loads(line))
    return docs


def _logs(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stdout.splitlines() if x.startswith("{") and '"level"' in x]


def test_good_job_ends_succeeded_with_a_playable_mp4(
    bench: Bench, tmp_path: Path, capsys: pytest.CaptureFixture[str], log_stream: io.StringIO
) -> None:
    job_id = bench.create_job()

    assert bench.deliver() == (1, [])

    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED
    assert job.attempt == 1 and job.progress == 1 and job.lease_until is None
    assert job.output is not None and job.output.key == output_key(job_id)
    assert (job.output.width, job.output.height) == (160, 90)
    assert job.output.duration_seconds == pytest.approx(1.0, abs=0.15)
    obj = bench.s3.get_object(Bucket=EXPORTS_BUCKET, Key=output_key(job_id))
    assert obj["ContentType"] == "video/mp4"
    data = obj["Body"].read()
    assert job.output.size_bytes == len(data)
    info = ffprobe_json(data, tmp_path)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 160, 90)
    assert bench.exports() == [output_key(job_id)]
    assert bench.queue_depth(bench.queue_url) == 0
    assert bench.leftovers() == []

    stdout = capsys.readouterr().out
    metrics = {name for doc in _emf(stdout) for name in doc if name in {"RenderSeconds", "OutputSeconds"}}
    assert metrics == {"RenderSeconds", "OutputSeconds"}
    logs = _logs(log_stream.getvalue())
    assert {"job claimed", "sources read", "job succeeded", "message done"} <= {x["message"] for x in logs}
    assert {x.get("job_id") for x in logs} == {job_id}  # on every line


def test_the_same_message_twice_renders_once_and_keeps_one_final_state(bench: Bench) -> None:
    job_id = bench.create_job()
    bench.send(job_message_body(job_id))  # SQS delivered it twice: both copies in one batch

    assert bench.deliver() == (2, [])
    first = bench.job(job_id)
    bench.send(job_message_body(job_id))  # and once more, later
    assert bench.deliver() == (1, [])

    assert bench.renderer.calls == 1
    final = bench.job(job_id)
    assert final.status is JobStatus.SUCCEEDED and final == first
    assert bench.exports() == [output_key(job_id)]
    assert bench.leftovers() == []


def test_an_attempt_that_died_mid_render_is_taken_over_after_its_lease(bench: Bench) -> None:
    job_id = bench.create_job()

    def crash() -> None:
        raise SimulatedCrash

    bench.renderer.before = crash
    with pytest.raises(SimulatedCrash):
        bench.deliver()
    bench.renderer.before = None
    dead = bench.job(job_id)
    assert dead.status is JobStatus.RUNNING and dead.attempt == 1
    # a killed invocation leaves its scratch dir behind; the next job in the sandbox sweeps it
    stale = bench.work_root / "export-worker-99999999-abc"
    (stale / "in").mkdir(parents=True)
    (stale / "in" / "half.mp4").write_bytes(b"x" * 100)

    bench.make_visible()
    assert bench.deliver()[1] != []  # lease still live: the message comes back later
    assert bench.job(job_id).status is JobStatus.RUNNING

    bench.clock_offset[0] = bench.settings.job_lease_seconds + 1
    bench.make_visible()
    assert bench.deliver()[1] == []

    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.attempt == 2
    assert bench.exports() == [output_key(job_id)]
    assert bench.leftovers() == []


def test_a_corrupt_asset_ends_failed_with_invalid_media_and_a_clean_message(bench: Bench) -> None:
    key = bench.upload(os.urandom(4096))
    job_id = bench.create_job(bench.request(key, src="holiday.mp4"))

    assert bench.deliver() == (1, [])

    job = bench.job(job_id)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "INVALID_MEDIA"
    assert "holiday.mp4" in job.error.message
    for leak in (str(bench.work_root), "/tmp", key, "ffmpeg", "ffprobe"):
        assert leak not in job.error.message
    assert bench.exports() == []
    assert bench.queue_depth(bench.queue_url) == 0
    assert bench.leftovers() == []


def test_a_captions_file_replaced_after_the_post_fails_the_job_with_invalid_captions(bench: Bench) -> None:
    """POST /export parsed the file; one uploaded again under its key since is parsed again by the worker."""
    clip = bench.upload()
    replaced = b"1\n00:00:00,000 --> 00:00:01,000\nok\n\n2\n00:00:01,000 --> soon\nbad\n"
    captions = bench.upload(replaced, ".srt")
    request = bench.request(clip)
    request["timeline"]["editorData"].insert(
        0, {"id": "subs", "actions": [{"id": "c", "start": 0, "end": 1, "effectId": "captions",
                                       "data": {"src": "subs.srt"}}]}
    )  # fmt: skip
    request["assets"].append({"src": "subs.srt", "s3Key": captions})
    job_id = bench.create_job(request)

    assert bench.deliver() == (1, [])

    job = bench.job(job_id)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == ErrorCode.INVALID_CAPTIONS == "INVALID_CAPTIONS"
    assert job.error.message.startswith("captions file 'subs.srt', line 6: expected a cue timing")
    assert bench.exports() == []
    assert bench.leftovers() == []


def test_a_missing_asset_ends_failed_with_asset_missing(bench: Bench) -> None:
    job_id = bench.create_job(bench.request("assets/never-uploaded.mp4", src="intro.mp4"))

    assert bench.deliver() == (1, [])

    job = bench.job(job_id)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "ASSET_MISSING" and "intro.mp4" in job.error.message
    assert bench.renderer.calls == 0
    assert bench.leftovers() == []


def test_an_asset_over_the_size_limit_ends_failed_before_download(bench: Bench) -> None:
    key = bench.upload(b"\0" * (bench.settings.max_upload_bytes + 1))
    job_id = bench.create_job(bench.request(key))

    assert bench.deliver() == (1, [])

    job = bench.job(job_id)
    assert job.error is not None and job.error.code == ErrorCode.PAYLOAD_TOO_LARGE.value
    assert bench.renderer.calls == 0
    assert bench.leftovers() == []


class ThrottledDownloads:
    """The S3 client, except that every download is throttled (a transient AWS error)."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self.calls = 0

    def get_object(self, **_: Any) -> Any:
        self.calls += 1
        raise ClientError(
            {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject"
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_a_transient_error_is_retried_per_attempt_then_fails_the_job_at_the_last_one(bench: Bench) -> None:
    job_id = bench.create_job()
    flaky = ThrottledDownloads(bench.s3)
    handler.set_deps(bench.deps(s3=flaky))

    for attempt in range(1, MAX_ATTEMPTS):
        delivered, failed = bench.deliver()
        assert (delivered, len(failed)) == (1, 1)
        job = bench.job(job_id)
        # handed back for the next attempt, with a reason a client may read
        assert job.status is JobStatus.QUEUED and job.attempt == attempt and job.error is None
        assert job.last_error is not None and job.last_error.message.endswith("retrying")
        assert "SlowDown" not in job.last_error.message
    # the last attempt fails the job itself, at once, and the message is done (no DLQ needed)
    assert bench.deliver() == (1, [])

    job = bench.job(job_id)
    assert job.status is JobStatus.FAILED and job.error is not None and job.attempt == MAX_ATTEMPTS
    assert job.error.code == ErrorCode.RETRIES_EXHAUSTED.value
    assert (
        job.error.message
        == f"the export could not be completed after {MAX_ATTEMPTS} attempts; please try again later"
    )
    assert bench.queue_depth(bench.queue_url) == 0 and bench.queue_depth(bench.dlq_url) == 0
    assert flaky.calls == MAX_ATTEMPTS and bench.renderer.calls == 0
    assert bench.leftovers() == []


def test_busy_deliveries_cost_no_attempt(bench: Bench) -> None:
    job_id = bench.create_job(send=False)
    owner = bench.repo.claim(job_id, lease_seconds=bench.settings.job_lease_seconds, now=bench.clock())
    assert owner is not None and owner.attempt == 1  # another attempt is rendering it
    bench.send(job_message_body(job_id))

    for _ in range(MAX_ATTEMPTS + 2):  # more busy deliveries than the job has attempts
        assert bench.deliver()[1] != []
        job = bench.job(job_id)
        assert job.status is JobStatus.RUNNING and job.attempt == 1

    bench.clock_offset[0] = bench.settings.job_lease_seconds + 1  # the owner died: its lease ran out
    assert bench.deliver() == (1, [])
    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.attempt == 2
    assert bench.renderer.calls == 1


def test_a_job_whose_last_attempt_died_fails_at_the_next_delivery(bench: Bench) -> None:
    job_id = bench.create_job()

    def crash() -> None:
        raise SimulatedCrash

    bench.renderer.before = crash
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with pytest.raises(SimulatedCrash):
            bench.deliver()
        assert bench.job(job_id).attempt == attempt
        bench.clock_offset[0] += bench.settings.job_lease_seconds + 1
        bench.make_visible()
    assert bench.renderer.calls == MAX_ATTEMPTS

    assert bench.deliver() == (1, [])  # no fourth render: the job ends, the message is done

    job = bench.job(job_id)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == ErrorCode.RETRIES_EXHAUSTED.value
    assert str(MAX_ATTEMPTS) in job.error.message
    assert bench.renderer.calls == MAX_ATTEMPTS
    assert bench.queue_depth(bench.queue_url) == 0


@pytest.mark.parametrize("body", ["not json", '{"jobId": ""}', '{"job": "x"}', "[]"])
def test_a_poison_message_is_dropped_at_once_with_its_evidence_logged(
    bench: Bench, body: str, capsys: pytest.CaptureFixture[str], log_stream: io.StringIO
) -> None:
    job_id = bench.create_job(send=False)
    bench.send(body)

    assert bench.deliver() == (1, [])  # acknowledged: no retry can make it a job message

    assert bench.queue_depth(bench.queue_url) == 0 and bench.queue_depth(bench.dlq_url) == 0
    logs = _logs(log_stream.getvalue())
    (line,) = [x for x in logs if x["message"] == "poison message: not a job message; dropped"]
    assert line["level"] == "ERROR" and line["body_prefix"] == body
    stdout = capsys.readouterr().out
    metrics = {name for doc in _emf(stdout) for name in doc if name not in ("_aws", "service")}
    assert "PoisonMessages" in metrics
    assert bench.job(job_id).status is JobStatus.QUEUED and bench.renderer.calls == 0
    # one that reaches the DLQ anyway (sent there by hand) is dropped by its consumer too
    bench.sqs.send_message(QueueUrl=bench.dlq_url, MessageBody=body)
    assert bench.deliver(queue_url=bench.dlq_url, entry=handler.dlq_lambda_handler) == (1, [])
    assert bench.leftovers() == []


def test_a_message_for_an_unknown_job_is_acknowledged(bench: Bench) -> None:
    bench.send(job_message_body("00000000-0000-0000-0000-000000000000"))
    assert bench.deliver() == (1, [])
    assert bench.queue_depth(bench.queue_url) == 0


def test_a_stored_request_that_no_longer_validates_fails_the_job(bench: Bench) -> None:
    job_id = bench.create_job({"timeline": {"editorData": "nope"}})
    assert bench.deliver() == (1, [])
    job = bench.job(job_id)
    assert job.error is not None and job.error.code == ErrorCode.INVALID_JOB.value


def test_too_little_time_left_leaves_jobs_queued_for_a_fresh_invocation(bench: Bench) -> None:
    first, second = bench.create_job(), bench.create_job()
    context = FakeContext(remaining_seconds=900)
    context.later_remaining_seconds = 30  # earlier records of the batch used the time up

    delivered, failed = bench.deliver(context)

    assert (delivered, len(failed)) == (2, 2)
    assert bench.renderer.calls == 0
    assert {bench.job(first).status, bench.job(second).status} == {JobStatus.QUEUED}
    bench.make_visible()
    assert bench.deliver() == (2, [])
    assert {bench.job(first).status, bench.job(second).status} == {JobStatus.SUCCEEDED}


def _timing_out_renderer(bench: Bench, timeouts: list[float] | None = None) -> CountingEngine:
    def render(*_: Any, timeout_seconds: float, **__: Any) -> Any:
        if timeouts is not None:
            timeouts.append(timeout_seconds)
        raise RenderTimeoutError(f"rendering took longer than {timeout_seconds:g} s", stderr_tail="frame=  3")

    def render_run(request: Any, assets_dir: Path, output: Path, run: RenderRun) -> Any:
        return render(request, assets_dir, output, timeout_seconds=run.timeout_seconds)

    renderer = CountingEngine(render_run)
    handler.set_deps(bench.deps(engine=renderer))
    return renderer


def test_a_render_stopped_by_the_invocations_budget_releases_the_job(bench: Bench) -> None:
    job_id = bench.create_job()
    timeouts: list[float] = []
    renderer = _timing_out_renderer(bench, timeouts)
    context = FakeContext(remaining_seconds=900)
    context.later_remaining_seconds = 200  # enough to start, not the full budget a fresh invocation has

    delivered, failed = bench.deliver(context)

    assert (delivered, len(failed), renderer.calls) == (1, 1, 1)
    assert timeouts == [200 - bench.settings.upload_margin_seconds]  # bounded by the time left
    job = bench.job(job_id)
    assert job.status is JobStatus.QUEUED and job.attempt == 1 and job.error is None
    assert bench.leftovers() == []

    handler.set_deps(bench.deps())
    bench.make_visible()
    assert bench.deliver() == (1, [])
    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.attempt == 2


def test_a_render_over_the_jobs_own_limit_fails_with_render_timeout(bench: Bench) -> None:
    job_id = bench.create_job()
    _timing_out_renderer(bench)

    assert bench.deliver() == (1, [])  # a fresh invocation: retrying cannot give it more time

    job = bench.job(job_id)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "RENDER_TIMEOUT" and "frame" not in job.error.message


def test_a_late_attempt_that_lost_its_lease_does_not_overwrite_the_new_owner(bench: Bench) -> None:
    job_id = bench.create_job()

    def lease_taken_over() -> None:
        assert bench.repo.claim(job_id, lease_seconds=60, now=bench.clock() + 10_000) is not None

    bench.renderer.before = lease_taken_over

    assert bench.deliver() == (1, [])

    job = bench.job(job_id)
    assert job.status is JobStatus.RUNNING and job.attempt == 2  # the owner finishes it, not us
    assert bench.exports() == []  # the superseded attempt stopped its render and uploaded nothing
    assert bench.leftovers() == []


def test_the_dlq_consumer_fails_dead_jobs_and_waits_for_live_leases(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    queued = bench.create_job(send=False)
    dead = bench.create_job(send=False)
    live = bench.create_job(send=False)
    assert bench.repo.claim(dead, lease_seconds=60, now=bench.clock() - 120) is not None
    assert bench.repo.claim(live, lease_seconds=600, now=bench.clock()) is not None
    for job_id in (queued, dead, live):
        bench.sqs.send_message(QueueUrl=bench.dlq_url, MessageBody=job_message_body(job_id))

    delivered, failed = bench.deliver(queue_url=bench.dlq_url, entry=handler.dlq_lambda_handler)

    assert delivered == 3 and len(failed) == 1
    messages = {}
    for job_id in (queued, dead):
        job = bench.job(job_id)
        assert job.status is JobStatus.FAILED and job.error is not None
        assert job.error.code == ErrorCode.RETRIES_EXHAUSTED.value
        messages[job_id] = job.error.message
    assert messages[queued] == "the export could not be started; please try again later"
    assert messages[dead] == "the export could not be completed after 1 attempt; please try again later"
    assert bench.job(live).status is JobStatus.RUNNING
    # each job it failed is counted by its code
    docs = _emf(capsys.readouterr().out)
    assert [doc[ERROR_CODE_DIMENSION] for doc in docs if WorkerMetric.JOBS_FAILED_BY_CODE in doc] == [
        ErrorCode.RETRIES_EXHAUSTED.value
    ] * 2
