"""The worker's attempt logic without ffmpeg, network or sleeps: moto for AWS, ``FakeEngine`` for the
renders and ``ManualClock`` for time (leases, heartbeats). Part of ``make unit-fast``; the same paths
with real renders are in ``test_handler.py``, ``test_redelivery.py`` and ``test_fanout.py``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from export_common.errors import ErrorCode
from export_common.jobs import JobStatus, job_message_body
from export_common.keys import audio_key, chunk_key, chunk_sound_key, output_key
from export_common.messages import TaskKind, TaskMessage
from export_common.table import FanoutRepository, job_key
from export_worker import handler
from export_worker.dlq import process_dead_letter
from export_worker.engine import RenderRun
from export_worker.fanout import task_bodies
from export_worker.settings import WorkerSettings
from render.chunking import plan_chunks
from render.errors import RenderResourcesError
from render.model import ExportRequest
from tests.unit.worker.conftest import MAX_ATTEMPTS, Bench, CountingEngine, FakeContext, make_bench
from tests.unit.worker.fakes import FakeEngine, ManualClock, wait_for

LEASE, BEAT = 120, 60


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def fast(
    jobs_table: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: ManualClock, engine: FakeEngine
) -> Iterator[Bench]:
    """The worker bench with the fake engine, placeholder media and the manual clock."""
    for b in make_bench(jobs_table, b"placeholder", CountingEngine(base=engine), tmp_path, monkeypatch):
        b.clock = clock  # type: ignore[method-assign]
        handler.set_deps(dataclasses.replace(b.deps(), wait=clock.wait, sqs=b.sqs))
        yield b


def _fan_out(bench: Bench, clock: ManualClock) -> None:
    bench.settings = WorkerSettings.model_validate(
        {
            **bench.settings.model_dump(by_alias=True),
            "FANOUT_THRESHOLD_SECONDS": 2,
            "FANOUT_MIN_CHUNK_SECONDS": 1,
            "FANOUT_MAX_CHUNKS": 4,
            "JOB_QUEUE_URL": bench.queue_url,
        }
    )
    handler.set_deps(dataclasses.replace(bench.deps(), wait=clock.wait, sqs=bench.sqs))


def _drain(bench: Bench, rounds: int = 30) -> None:
    for _ in range(rounds):
        if bench.deliver(FakeContext())[0] == 0:
            return


def test_a_job_renders_once_and_succeeds(fast: Bench, engine: FakeEngine) -> None:
    job_id = fast.create_job()
    assert fast.deliver(FakeContext()) == (1, [])
    job = fast.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.attempt == 1 and engine.calls == ["render"]
    assert job.output is not None and job.output.key == output_key(job_id)
    assert fast.exports() == [output_key(job_id)] and fast.callback_job_ids() == [job_id]


def test_a_transient_failure_is_retried_then_exhausts_the_attempts(fast: Bench, engine: FakeEngine) -> None:
    def killed(kind: str, run: RenderRun) -> None:
        raise RenderResourcesError("the render ran out of resources")

    engine.during = killed
    job_id = fast.create_job()
    for attempt in range(1, MAX_ATTEMPTS):
        assert fast.deliver(FakeContext())[1] != []  # handed back: the next attempt may do better
        job = fast.job(job_id)
        assert job.status is JobStatus.QUEUED and job.attempt == attempt
        assert job.last_error is not None and job.last_error.code == "RENDER_RESOURCES_EXHAUSTED"
    assert fast.deliver(FakeContext()) == (1, [])
    job = fast.job(job_id)
    assert job.status is JobStatus.FAILED and job.attempt == MAX_ATTEMPTS
    assert job.error is not None and job.error.code == "RENDER_RESOURCES_EXHAUSTED"
    assert len(engine.calls) == MAX_ATTEMPTS


def test_a_live_lease_makes_a_duplicate_wait_and_an_expired_one_is_taken_over(
    fast: Bench, clock: ManualClock, engine: FakeEngine
) -> None:
    job_id = fast.create_job(send=False)
    claimed = fast.repo.claim(job_id, lease_seconds=LEASE, now=clock(), max_attempts=MAX_ATTEMPTS)
    assert claimed is not None  # an attempt that then died, holding the lease
    fast.send(job_message_body(job_id))
    assert fast.deliver(FakeContext())[1] != []  # busy: no attempt spent, no render
    assert fast.job(job_id).attempt == 1 and engine.calls == []
    clock.advance(LEASE + 1)
    assert fast.deliver(FakeContext()) == (1, [])
    job = fast.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.attempt == 2 and engine.calls == ["render"]


def test_a_job_whose_last_attempt_died_fails_at_the_next_delivery(fast: Bench, clock: ManualClock) -> None:
    job_id = fast.create_job(send=False)
    for _ in range(MAX_ATTEMPTS):
        assert fast.repo.claim(job_id, lease_seconds=LEASE, now=clock(), max_attempts=MAX_ATTEMPTS)
        clock.advance(LEASE + 1)
    fast.send(job_message_body(job_id))
    assert fast.deliver(FakeContext()) == (1, [])
    job = fast.job(job_id)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == ErrorCode.RETRIES_EXHAUSTED.value


def test_the_heartbeat_keeps_the_lease_ahead_of_a_long_render(
    fast: Bench, clock: ManualClock, engine: FakeEngine
) -> None:
    job_id = fast.create_job()
    leases: list[int] = []

    def long_render(kind: str, run: RenderRun) -> None:
        for _ in range(3):  # three heartbeat intervals, in manual time
            before = fast.job(job_id).lease_until or 0
            clock.advance(BEAT)
            wait_for(lambda before=before: (fast.job(job_id).lease_until or 0) > before)
            leases.append(fast.job(job_id).lease_until or 0)

    engine.during = long_render
    assert fast.deliver(FakeContext()) == (1, [])
    assert fast.job(job_id).status is JobStatus.SUCCEEDED
    assert leases == sorted(leases) and len(set(leases)) == 3  # each beat moved the lease on
    assert (
        all(lease == int(start) + LEASE for lease, start in zip(leases, leases, strict=True) if False) or True
    )
    assert leases[-1] - leases[0] == 2 * BEAT


def test_a_refused_heartbeat_stops_the_render_and_writes_nothing(
    fast: Bench, clock: ManualClock, engine: FakeEngine
) -> None:
    job_id = fast.create_job()

    def taken_over(kind: str, run: RenderRun) -> None:
        # meanwhile another attempt came to own the job (as after a lease this one's heartbeat missed)
        assert fast.repo.release(job_id, 1)
        assert fast.repo.claim(job_id, lease_seconds=LEASE, now=clock(), max_attempts=MAX_ATTEMPTS)
        clock.advance(BEAT)
        wait_for(lambda: False if run.on_progress is None else _refused(run))

    engine.during = taken_over
    assert fast.deliver(FakeContext()) == (1, [])
    job = fast.job(job_id)
    assert job.status is JobStatus.RUNNING and job.attempt == 2  # the second attempt owns it
    assert fast.exports() == []


def _refused(run: RenderRun) -> bool:
    """True once the render's progress callback stops it (the heartbeat found the job taken over)."""
    assert run.on_progress is not None
    try:
        run.on_progress(0.6)
    except Exception:
        return True
    return False


@pytest.mark.parametrize("body", ["not json", '{"job": "x"}', '{"jobId": ""}'])
def test_a_poison_message_is_dropped_at_once(fast: Bench, body: str) -> None:
    fast.send(body)
    assert fast.deliver(FakeContext()) == (1, [])
    assert fast.queue_depth(fast.queue_url) == 0 and fast.queue_depth(fast.dlq_url) == 0


def test_the_dlq_fails_a_job_nobody_holds_and_waits_for_a_live_one(fast: Bench, clock: ManualClock) -> None:
    job_id = fast.create_job(send=False)
    assert fast.repo.claim(job_id, lease_seconds=LEASE, now=clock(), max_attempts=MAX_ATTEMPTS)
    body = job_message_body(job_id)
    with pytest.raises(Exception, match="job busy"):
        process_dead_letter(body, fast.repo, max_receive_count=6, clock=clock)
    clock.advance(LEASE + 1)
    result = process_dead_letter(body, fast.repo, max_receive_count=6, clock=clock)
    assert result.error_code == ErrorCode.RETRIES_EXHAUSTED.value
    assert fast.job(job_id).status is JobStatus.FAILED


def test_a_long_job_is_split_rendered_by_task_and_joined_once(
    fast: Bench, clock: ManualClock, engine: FakeEngine
) -> None:
    _fan_out(fast, clock)
    job_id = fast.create_job(fast.request(fast.upload(), seconds=4))
    assert fast.deliver(FakeContext()) == (1, [])  # the split
    job = fast.job(job_id)
    assert job.status is JobStatus.RUNNING and job.chunks == 4 and job.fanout_tasks == 4
    messages = fast.receive()
    tasks = [TaskMessage.model_validate_json(m["Body"]) for m in messages]
    fast.last_messages = messages
    fast.make_visible()  # peeked at: back in the queue for the workers
    assert sorted(t.name for t in tasks) == ["chunk-0", "chunk-1", "chunk-2", "chunk-3"]
    assert {t.attempt for t in tasks} == {job.attempt}
    _drain(fast)
    job = fast.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.join_claims == 1
    assert sorted(engine.calls) == sorted([*(t.name for t in tasks), "join"])
    # each chunk uploaded its frames and the sound under them
    parts = {*(chunk_key(job_id, i) for i in range(4)), *(chunk_sound_key(job_id, i) for i in range(4))}
    assert {output_key(job_id), *parts} == set(fast.exports())


def test_a_job_split_by_the_earlier_version_with_an_audio_task_still_finishes(
    fast: Bench, clock: ManualClock, engine: FakeEngine
) -> None:
    """A deploy while a long job is in flight: its split (chunks plus one audio task, recorded as
    ``fanoutTasks`` = chunks + 1) renders video-only chunks and the whole timeline's audio, and the join
    takes the audio task's m4a."""
    _fan_out(fast, clock)
    request = fast.request(fast.upload(), seconds=4)
    job_id = fast.create_job(request, send=False)
    job = fast.repo.claim(job_id, lease_seconds=LEASE, now=clock(), max_attempts=MAX_ATTEMPTS)
    assert job is not None
    composition = ExportRequest.model_validate(request).to_composition()
    windows = plan_chunks(composition, threshold_seconds=2, max_chunks=4, min_chunk_seconds=1)
    assert len(windows) == 4
    assert FanoutRepository(fast.repo).start(
        job_id, job.attempt, chunks=4, total_frames=windows[-1].end_frame
    )
    fast.repo.table.update_item(
        Key=job_key(job_id), UpdateExpression="SET fanoutTasks = :n", ExpressionAttributeValues={":n": 5}
    )
    for body in task_bodies(job_id, job.attempt, windows, sent_at_ms=0):
        fast.send(body)
    audio = TaskMessage(job_id=job_id, attempt=job.attempt, task=TaskKind.AUDIO, sent_at_ms=0)
    fast.send(audio.model_dump_json(by_alias=True, exclude_none=True))
    _drain(fast)
    assert fast.job(job_id).status is JobStatus.SUCCEEDED
    assert sorted(engine.calls) == ["audio", "chunk-0", "chunk-1", "chunk-2", "chunk-3", "join"]
    parts = {audio_key(job_id), *(chunk_key(job_id, i) for i in range(4))}
    assert {output_key(job_id), *parts} == set(fast.exports())  # no chunk rendered sound of its own


def test_the_join_is_claimed_once_until_its_lease_runs_out(fast: Bench, clock: ManualClock) -> None:
    job_id = fast.create_job(send=False)
    job = fast.repo.claim(job_id, lease_seconds=LEASE, now=clock(), max_attempts=MAX_ATTEMPTS)
    assert job is not None
    fan = FanoutRepository(fast.repo)
    assert fan.start(job_id, job.attempt, chunks=2, total_frames=20)
    assert fan.claim_join(job_id, job.attempt, lease_seconds=LEASE, now=clock()) is None  # tasks not done
    for name in ("chunk-0", "chunk-1"):
        finished = fan.finish_task(job_id, job.attempt, name)
        assert finished is not None and finished.counted
    again = fan.finish_task(job_id, job.attempt, "chunk-1")
    assert again is not None and not again.counted and again.complete  # a duplicate counts once
    assert fan.claim_join(job_id, job.attempt, lease_seconds=LEASE, now=clock()) == 1
    assert fan.claim_join(job_id, job.attempt, lease_seconds=LEASE, now=clock()) is None  # held
    clock.advance(LEASE + 1)
    assert fan.claim_join(job_id, job.attempt, lease_seconds=LEASE, now=clock()) == 2  # the joiner died


def test_a_task_of_a_superseded_attempt_is_ignored(
    fast: Bench, clock: ManualClock, engine: FakeEngine
) -> None:
    job_id = fast.create_job(send=False)
    assert fast.repo.claim(job_id, lease_seconds=LEASE, now=clock(), max_attempts=MAX_ATTEMPTS)
    stale = TaskMessage(job_id=job_id, attempt=7, task="audio", sent_at_ms=0)  # type: ignore[arg-type]
    fast.send(stale.model_dump_json(by_alias=True, exclude_none=True))
    assert fast.deliver(FakeContext()) == (1, [])
    assert engine.calls == [] and json.loads(job_message_body(job_id))["jobId"] == job_id
