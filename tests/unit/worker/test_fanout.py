"""Fan-out through the worker's handler on moto, with real ffmpeg and the real ``render.fanout``.

A 4-second timeline with a threshold of 2 s fans out into 4 chunks of 10 frames, each with its sound;
the bench's event-source stand-in delivers the split's messages like SQS would.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from export_common.jobs import JobStatus
from export_common.keys import chunk_key, chunk_sound_key, output_key
from export_common.messages import TaskMessage
from export_common.table import FanoutRepository
from export_worker import handler
from export_worker.engine import RenderEngine, RenderRun
from export_worker.settings import WorkerSettings
from render.chunking import ChunkWindow
from render.errors import InvalidMediaError, RenderResourcesError
from tests.markers import requires_ffmpeg
from tests.unit.worker.conftest import EXPORTS_BUCKET, Bench, FakeContext, H, W
from tests.video_frames import frame_count, lavfi_clip

pytestmark = requires_ffmpeg

SECONDS = 4
FPS = 10
CHUNKS = 4


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """4 s of test pattern with a tone, so every chunk shows and hears the source."""
    path = tmp_path_factory.mktemp("fanout") / "long.mp4"
    return lavfi_clip(path, f"testsrc=s={W}x{H}:r={FPS}:d={SECONDS}", seconds=SECONDS).read_bytes()


def _fan_out(bench: Bench, engine: RenderEngine | None = None) -> None:
    """The bench's worker with fan-out settings (2 s threshold, chunks of at least 1 s, at most 4)."""
    settings = WorkerSettings.model_validate(
        {
            **bench.settings.model_dump(by_alias=True),
            "FANOUT_THRESHOLD_SECONDS": 2,
            "FANOUT_MIN_CHUNK_SECONDS": 1,
            "FANOUT_MAX_CHUNKS": CHUNKS,
            "JOB_QUEUE_URL": bench.queue_url,
        }
    )
    bench.settings = settings
    handler.set_deps(
        dataclasses.replace(bench.deps(), settings=settings, sqs=bench.sqs, engine=engine or bench.renderer)
    )


def _long_job(bench: Bench, clip: bytes) -> str:
    return bench.create_job(bench.request(bench.upload(clip), seconds=SECONDS))


def _peek(bench: Bench) -> list[str]:
    """The bodies of the queued messages, left in the queue."""
    messages = bench.receive()
    for m in messages:
        bench.sqs.change_message_visibility(
            QueueUrl=bench.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
        )
    return [m["Body"] for m in messages]


def _drain(bench: Bench, *, rounds: int = 30) -> int:
    """Delivers until the queue is empty (or ``rounds`` polls); returns the records delivered."""
    delivered = 0
    for _ in range(rounds):
        count, _ = bench.deliver(FakeContext())
        if count == 0:
            break
        delivered += count
    return delivered


def _streams(path: Path) -> list[str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return out.split()


def _log_messages(log_stream: Any) -> list[str]:
    return [json.loads(line).get("message", "") for line in log_stream.getvalue().splitlines() if line]


def test_a_long_job_fans_out_and_one_join_writes_every_frame(
    bench: Bench, long_clip: bytes, tmp_path: Path, log_stream: Any
) -> None:
    _fan_out(bench)
    job_id = _long_job(bench, long_clip)

    # the first delivery only splits: 4 chunk messages are queued, nothing rendered
    assert bench.deliver(FakeContext())[0] == 1
    job = bench.job(job_id)
    assert job.status is JobStatus.RUNNING and job.chunks == CHUNKS and job.fanout_tasks == CHUNKS
    assert bench.renderer.calls == 0
    bodies = [TaskMessage.model_validate_json(body) for body in _peek(bench)]
    assert sorted(b.name for b in bodies) == ["chunk-0", "chunk-1", "chunk-2", "chunk-3"]
    windows = sorted((b.start_frame, b.end_frame) for b in bodies if b.index is not None)
    assert windows == [(0, 10), (10, 20), (20, 30), (30, 40)]

    _drain(bench)
    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED, job
    assert job.join_claims == 1 and job.progress == 1 and job.output is not None
    assert job.output.key == output_key(job_id) and abs(job.output.duration_seconds - SECONDS) < 1 / FPS
    keys = set(bench.exports())
    parts = {
        *(chunk_key(job_id, i) for i in range(CHUNKS)),
        *(chunk_sound_key(job_id, i) for i in range(CHUNKS)),
    }
    assert {output_key(job_id), *parts} <= keys
    target = tmp_path / "out.mp4"
    bench.s3.download_file(EXPORTS_BUCKET, output_key(job_id), str(target))
    assert frame_count(target) == SECONDS * FPS
    assert sorted(_streams(target)) == ["audio", "video"]
    assert _log_messages(log_stream).count("job ended") == 1
    assert bench.leftovers() == []


def test_duplicated_task_messages_count_once_and_join_once(
    bench: Bench, long_clip: bytes, log_stream: Any
) -> None:
    _fan_out(bench)
    job_id = _long_job(bench, long_clip)
    bench.deliver(FakeContext())  # the split
    for body in _peek(bench):  # SQS's at-least-once delivery: every task message twice
        bench.send(body)

    _drain(bench)
    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.join_claims == 1
    messages = _log_messages(log_stream)
    assert messages.count("join claimed") == 1
    assert messages.count("job ended") == 1
    # each duplicate either found its task done, or its task busy, or the job already final
    assert bench.queue_depth(bench.queue_url) == 0


@dataclasses.dataclass
class _Failing:
    """The bench's engine, except that chunk ``index`` raises ``error`` on its first ``times`` renders."""

    inner: RenderEngine
    index: int
    error: Exception
    times: int = 1

    def render_chunk(
        self,
        request: Any,
        assets_dir: Path,
        window: ChunkWindow,
        output: Path,
        run: RenderRun,
        *,
        sound: bool = True,
    ) -> Any:
        if window.index == self.index and self.times > 0:
            self.times -= 1
            raise self.error
        return self.inner.render_chunk(request, assets_dir, window, output, run, sound=sound)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _failing(inner: RenderEngine, index: int, error: Exception, times: int = 1) -> RenderEngine:
    return _Failing(inner, index, error, times)  # type: ignore[return-value]


def test_a_chunk_that_cannot_render_fails_the_job_with_its_code(bench: Bench, long_clip: bytes) -> None:
    _fan_out(bench, _failing(bench.renderer, 1, InvalidMediaError("asset 'clip.mp4' is not a video")))
    job_id = _long_job(bench, long_clip)

    _drain(bench)
    job = bench.job(job_id)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "INVALID_MEDIA" and job.error.message == "asset 'clip.mp4' is not a video"
    assert output_key(job_id) not in bench.exports()
    assert bench.queue_depth(bench.queue_url) == 0  # the other tasks were acknowledged, not retried


def test_a_chunk_killed_by_the_system_renders_again_under_a_new_claim(bench: Bench, long_clip: bytes) -> None:
    _fan_out(bench, _failing(bench.renderer, 2, RenderResourcesError("the render ran out of resources")))
    job_id = _long_job(bench, long_clip)

    _drain(bench)
    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.join_claims == 1
    state = FanoutRepository(bench.repo).task_state(job_id, job.attempt, "chunk-2")
    assert state is not None and state.claims == 2


def test_a_dead_chunk_worker_is_taken_over_after_its_lease(bench: Bench, long_clip: bytes) -> None:
    _fan_out(bench)
    job_id = _long_job(bench, long_clip)
    bench.deliver(FakeContext())  # the split
    job = bench.job(job_id)
    # a worker claimed chunk-3 and died: no heartbeat extends its lease any more
    fan = FanoutRepository(bench.repo)
    dead = fan.claim_task(
        job_id, job.attempt, "chunk-3", lease_seconds=120, now=bench.clock(), max_attempts=3, sent_at_ms=0
    )
    assert dead is not None

    # (a few polls only: every busy receive counts towards the bench queue's redrive limit of 6)
    _drain(bench, rounds=3)
    assert bench.job(job_id).status is JobStatus.RUNNING  # chunk-3's message waits for the lease
    assert bench.queue_depth(bench.queue_url) == 1
    bench.clock_offset[0] = 121.0
    _drain(bench)
    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.join_claims == 1
    state = fan.task_state(job_id, job.attempt, "chunk-3")
    assert state is not None and state.claims == 2


def test_a_short_job_keeps_the_single_pass(bench: Bench) -> None:
    _fan_out(bench)
    job_id = bench.create_job()  # 1 s: under the 2 s threshold

    _drain(bench)
    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and bench.renderer.calls == 1
    assert job.chunks is None and job.join_claims is None
    assert bench.exports() == [output_key(job_id)]
