"""Fan-out through the real local stack: a long export split across worker Lambdas and joined once.

The local root fans out above 40 s into at most 6 chunks (terraform/envs/local), so a timeline a little
over the deployed threshold becomes at least 4 chunks, each with its sound. Exactness is checked against a
single pass of the same timeline, rendered here with the same renderer; the faults are injected as the
fault suite does (the Lambda environments are local processes).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from statistics import median
from typing import Any

import requests

from export_common.messages import TaskKind, TaskMessage
from render import chunking
from render.model import ExportRequest
from render.pipeline import render_export
from tests.audio_levels import rms
from tests.e2e import media
from tests.e2e.conftest import presign_and_upload
from tests.e2e.stack import TIMINGS, Stack
from tests.e2e.test_faults import Process, _alive, _processes
from tests.video_frames import frame_count

FPS = 15
SIZE = (320, 180)
FINAL_TIMEOUT = 600  # 2 cores shared with everything else: generous


def _request(
    actions: list[dict[str, Any]], keys: dict[str, str], *, size: tuple[int, int] = SIZE, fps: int = FPS
) -> dict[str, Any]:
    return {
        "timeline": {"editorData": [{"id": f"row-{i}", "actions": [a]} for i, a in enumerate(actions)]},
        "assets": [{"src": src, "s3Key": key} for src, key in keys.items()],
        "output": {"width": size[0], "height": size[1], "fps": fps},
    }


def _windows(request: dict[str, Any], settings: dict[str, float]) -> tuple[chunking.ChunkWindow, ...]:
    return chunking.plan_chunks(
        ExportRequest.model_validate(request).to_composition(),
        threshold_seconds=settings["FANOUT_THRESHOLD_SECONDS"],
        max_chunks=int(settings["FANOUT_MAX_CHUNKS"]),
        min_chunk_seconds=settings["FANOUT_MIN_CHUNK_SECONDS"],
    )


def _submit(stack: Stack, request: dict[str, Any]) -> str:
    response = stack.post_json("/export", request)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def _wait_split(stack: Stack, job_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = stack.item(f"job#{job_id}") or {}
        if job.get("chunks"):
            return job
        assert job.get("status") != "FAILED", job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} was never split: {stack.item(f'job#{job_id}')}")


def _report_overhead(stack: Stack, job_id: str, name: str) -> list[float]:
    latencies = stack.queue_to_start_seconds(job_id)
    if latencies:
        TIMINGS[f"fan-out {name}: queue-to-start per task (min / median / max)"] = (
            f"{latencies[0]:.2f} / {median(latencies):.2f} / {latencies[-1]:.2f} s"
            f" over {len(latencies)} tasks"
        )
    return latencies


def _gray_frames(path: Path, indices: list[int]) -> list[bytes]:
    """The frames at these indices, as 8-bit gray pictures."""
    select = "+".join(f"eq(n\\,{i})" for i in indices)
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"select='{select}'", "-vsync", "0",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    size = SIZE[0] * SIZE[1]
    assert len(raw) == size * len(indices), (len(raw), size, indices)
    return [raw[i * size : (i + 1) * size] for i in range(len(indices))]


def _mean_abs_diff(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def _download(stack: Stack, job_id: str, target: Path) -> Path:
    status = stack.request("GET", f"/export/{job_id}").json()
    response = requests.get(status["downloadUrl"], timeout=120)
    assert response.status_code == 200
    target.write_bytes(response.content)
    return target


def test_a_fanned_out_export_matches_the_single_pass(
    stack: Stack, fanout_settings: dict[str, float], seconds: float, tmp_path: Path
) -> None:
    # Given a moving picture with a continuous tone, just over the threshold
    clip = media._clip_with_tone(  # the same lavfi recipe, another source
        tmp_path / "moving.mp4", f"testsrc2=s=640x360:r=30:d={seconds}", 440, seconds
    )
    keys = presign_and_upload(stack, {"moving.mp4": clip})
    request = _request(
        [{"id": "v", "start": 0, "end": seconds, "effectId": "video", "data": {"src": "moving.mp4"}}], keys
    )
    windows = _windows(request, fanout_settings)
    assert len(windows) >= 4

    # When it is exported through the stack (fanned out), and rendered here in one pass
    started = time.monotonic()
    job_id = _submit(stack, request)
    final, _ = stack.wait_for_final(job_id, timeout=FINAL_TIMEOUT, poll_interval=1)
    TIMINGS[f"fan-out export of {seconds:.0f} s in {len(windows)} chunks, submit to SUCCEEDED"] = (
        f"{time.monotonic() - started:.1f} s"
    )
    assert final["status"] == "SUCCEEDED", final
    job = stack.item(f"job#{job_id}")
    assert job is not None and int(job["chunks"]) == len(windows) and int(job["joinClaims"]) == 1
    assert len(stack.task_records(job_id)) == len(windows)
    _report_overhead(stack, job_id, "exactness export")
    fanned = _download(stack, job_id, tmp_path / "fanned.mp4")
    assets = tmp_path / "assets"
    (assets / keys["moving.mp4"]).parent.mkdir(parents=True)
    shutil.copy(clip, assets / keys["moving.mp4"])
    single = tmp_path / "single.mp4"
    render_export(ExportRequest.model_validate(request), assets, single)

    # Then: the same frames, the same duration to within a frame
    total = round(seconds * FPS)
    assert frame_count(fanned) == frame_count(single) == total
    durations = [float(media.probe(p)["format"]["duration"]) for p in (fanned, single)]
    assert abs(durations[0] - durations[1]) <= 1 / FPS, durations
    # the same pictures on both sides of every chunk boundary (encoder tolerance)
    boundaries = [w.start_frame for w in windows[1:]]
    indices = sorted({i for b in boundaries for i in (b - 1, b)})
    for index, a, b in zip(
        indices, _gray_frames(fanned, indices), _gray_frames(single, indices), strict=True
    ):
        assert _mean_abs_diff(a, b) <= 2.0, f"frame {index} differs from the single pass"
    # and the tone runs through every join: no gap (a dip) and no click (a spike) at the boundaries
    steady = rms(fanned, 1.0, 1.0)
    assert steady > 0.05  # lavfi sine: amplitude 1/8, RMS about 0.088
    for frame in boundaries:
        at = frame / FPS
        level = rms(fanned, at - 0.025, 0.05)
        assert 0.8 * steady <= level <= 1.25 * steady, (at, level, steady)
        assert abs(level - rms(single, at - 0.025, 0.05)) <= 0.1 * steady, at


def _chunk_ffmpeg(asset_key: str) -> tuple[Process, int] | None:
    """A chunk's video render's ffmpeg (its output is ``<index>.mp4``; its sound's is ``window.aac``)."""
    for process in _processes():
        if not process.argv or Path(process.argv[0]).name != "ffmpeg":
            continue
        if any(asset_key in a for a in process.argv) and Path(process.argv[-1]).stem.isdigit():
            return process, int(Path(process.argv[-1]).stem)
    return None


def test_a_chunk_worker_killed_mid_render_still_ends_succeeded(
    stack: Stack, seconds: float, tmp_path: Path
) -> None:
    keys = presign_and_upload(stack, {"busy.mp4": media.busy_clip(tmp_path / "busy.mp4", seconds=seconds)})
    request = _request(
        [{"id": "v", "start": 0, "end": seconds, "effectId": "video", "data": {"src": "busy.mp4"}}],
        keys, size=(640, 360), fps=30,
    )  # fmt: skip
    job_id = _submit(stack, request)
    _wait_split(stack, job_id)
    deadline = time.monotonic() + 240
    found = None
    while found is None:
        assert time.monotonic() < deadline, "no chunk render was seen"
        found = _chunk_ffmpeg(keys["busy.mp4"])
        time.sleep(0.1)
    ffmpeg, index = found
    runtime = ffmpeg.ppid  # the Lambda environment's process that runs the chunk
    # awslambdaric in the worker image (LOCAL_LAMBDA_IMAGES=built), runtime.py from the source
    cmdline = Path(f"/proc/{runtime}/cmdline").read_bytes().decode(errors="replace")
    assert "awslambdaric" in cmdline or "runtime.py" in cmdline, cmdline
    killed_at = time.monotonic()
    os.kill(runtime, signal.SIGKILL)

    final, _ = stack.wait_for_final(job_id, timeout=FINAL_TIMEOUT, poll_interval=1)
    recovery = time.monotonic() - killed_at
    TIMINGS[f"fan-out: chunk {index}'s worker killed mid-render, SUCCEEDED after"] = f"{recovery:.1f} s"
    assert final["status"] == "SUCCEEDED", final
    assert abs(final["output"]["durationSeconds"] - seconds) <= 1 / 30
    job = stack.item(f"job#{job_id}")
    assert job is not None and int(job["attempt"]) == 1 and int(job["joinClaims"]) == 1
    # the killed chunk was claimed again once its lease ran out, and rendered again
    assert int(stack.task_records(job_id)[f"chunk-{index}"]["claims"]) == 2
    assert not _alive(ffmpeg.pid)
    _report_overhead(stack, job_id, "killed chunk")


def test_a_chunk_that_cannot_render_fails_the_job_with_its_code(
    stack: Stack, seconds: float, tmp_path: Path
) -> None:
    # Given a sound clip for the whole timeline and, in the last chunk only, a silent truncated upload
    whole = media.two_tone_clip(tmp_path / "whole.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.3)])
    good = media.solid_clip_with_tone(tmp_path / "good.mp4", "green", 440, seconds=seconds)
    keys = presign_and_upload(stack, {"good.mp4": good, "cut.mp4": cut})
    request = _request(
        [
            {"id": "cut", "start": seconds - 4, "end": seconds, "effectId": "video",
             "data": {"src": "cut.mp4", "muted": True}},
            {"id": "good", "start": 0, "end": seconds, "effectId": "video", "data": {"src": "good.mp4"}},
        ],
        keys,
    )  # fmt: skip

    job_id = _submit(stack, request)
    final, _ = stack.wait_for_final(job_id, timeout=FINAL_TIMEOUT, poll_interval=1)

    assert (final["status"], final["errorCode"]) == ("FAILED", "INVALID_MEDIA"), final
    assert "cut.mp4" in final["error"]
    job = stack.item(f"job#{job_id}")
    assert job is not None and int(job["chunks"]) >= 4 and "joinClaims" not in job
    listing = stack.client("s3").list_objects_v2(
        Bucket=stack.outputs["exports_bucket_name"], Prefix=f"exports/{job_id}"
    )
    assert listing.get("KeyCount", 0) == 0


def test_duplicated_chunk_messages_do_not_join_twice(
    stack: Stack, fanout_settings: dict[str, float], seconds: float, tmp_path: Path
) -> None:
    clip = media.solid_clip_with_tone(tmp_path / "dup.mp4", "purple", 660, seconds=seconds)
    keys = presign_and_upload(stack, {"dup.mp4": clip})
    request = _request(
        [{"id": "v", "start": 0, "end": seconds, "effectId": "video", "data": {"src": "dup.mp4"}}], keys
    )
    job_id = _submit(stack, request)
    job = _wait_split(stack, job_id)

    # every task message once more, as SQS's at-least-once delivery may do, while the originals run
    now_ms = int(time.time() * 1000)
    attempt = int(job["attempt"])
    duplicates = [
        TaskMessage(job_id=job_id, attempt=attempt, task=TaskKind.CHUNK, index=w.index,
                    start_frame=w.start_frame, end_frame=w.end_frame, sent_at_ms=now_ms)
        for w in _windows(request, fanout_settings)
    ]  # fmt: skip
    sqs = stack.client("sqs")
    for message in duplicates:
        sqs.send_message(
            QueueUrl=stack.outputs["job_queue_url"],
            MessageBody=message.model_dump_json(by_alias=True, exclude_none=True),
        )

    final, _ = stack.wait_for_final(job_id, timeout=FINAL_TIMEOUT, poll_interval=1)
    assert final["status"] == "SUCCEEDED", final
    job = stack.item(f"job#{job_id}")
    assert job is not None and int(job["joinClaims"]) == 1
    assert len(job["doneTasks"]) == len(duplicates)  # each task counted once
    # the duplicates that came after the end were acknowledged: the queue drains and nothing writes again
    deadline = time.monotonic() + 120
    while _queue_depth(stack) and time.monotonic() < deadline:
        time.sleep(2)
    assert _queue_depth(stack) == 0
    after = stack.item(f"job#{job_id}")
    assert after is not None and after["updatedAt"] == job["updatedAt"] and int(after["joinClaims"]) == 1
    listing = stack.client("s3").list_objects_v2(
        Bucket=stack.outputs["exports_bucket_name"], Prefix=f"exports/{job_id}"
    )
    assert [o["Key"] for o in listing.get("Contents", [])] == [f"exports/{job_id}.mp4"]
    _report_overhead(stack, job_id, "duplicated messages")


def _queue_depth(stack: Stack) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["job_queue_url"], AttributeNames=names
    )["Attributes"]
    return sum(int(attributes[name]) for name in names)
