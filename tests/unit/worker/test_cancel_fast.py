"""Cancelling in the worker without ffmpeg or sleeps (``FakeEngine``, ``ManualClock``, moto): a queued job's
message is dropped unrendered, a running render stops at its next heartbeat, a fanned-out job starts no
further task, and every path deletes what the job wrote and ends it CANCELLED with one webhook."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from export_common.jobs import Cancellation, JobStatus, job_message_body
from export_common.keys import chunk_key, chunk_sound_key, output_key
from export_worker import handler
from export_worker.attempt import Outcome, delete_job_files
from export_worker.dlq import process_dead_letter
from export_worker.engine import RenderRun
from export_worker.settings import WorkerSettings
from tests.unit.worker.conftest import EXPORTS_BUCKET, Bench, CountingEngine, FakeContext, make_bench
from tests.unit.worker.fakes import FakeEngine, ManualClock, wait_for

BEAT = 60


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
    for b in make_bench(jobs_table, b"placeholder", CountingEngine(base=engine), tmp_path, monkeypatch):
        b.clock = clock  # type: ignore[method-assign]
        handler.set_deps(dataclasses.replace(b.deps(), wait=clock.wait, sqs=b.sqs))
        yield b


def _stopped(run: RenderRun) -> bool:
    """True once the render's progress callback refuses to go on (the heartbeat saw the cancel)."""
    assert run.on_progress is not None
    try:
        run.on_progress(0.6)
    except Exception:
        return True
    return False


def _cancel_while_rendering(fast: Bench, clock: ManualClock, job_id: str) -> Any:
    def during(kind: str, run: RenderRun) -> None:
        assert fast.repo.request_cancel(job_id)  # DELETE /export/{jobId} while the render runs
        clock.advance(BEAT)  # one heartbeat later
        wait_for(lambda: _stopped(run))

    return during


def test_a_queued_job_cancelled_is_dropped_without_rendering(fast: Bench, engine: FakeEngine) -> None:
    job_id = fast.create_job()
    assert fast.repo.mark_cancelled(job_id, from_status=JobStatus.QUEUED)
    # an earlier attempt's leftover is removed with it
    fast.s3.put_object(Bucket=EXPORTS_BUCKET, Key=chunk_key(job_id, 0), Body=b"x")
    assert fast.deliver(FakeContext()) == (1, [])
    assert engine.calls == []
    assert fast.job(job_id).status is JobStatus.CANCELLED
    assert fast.exports() == []
    assert fast.queue_depth(fast.queue_url) == 0


def test_a_running_render_stops_at_its_next_heartbeat_and_ends_cancelled(
    fast: Bench, clock: ManualClock, engine: FakeEngine
) -> None:
    job_id = fast.create_job()
    engine.during = _cancel_while_rendering(fast, clock, job_id)
    assert fast.deliver(FakeContext()) == (1, [])
    assert engine.calls == ["render"]
    assert fast.job(job_id).status is JobStatus.CANCELLED
    assert fast.exports() == []  # nothing uploaded
    assert fast.callback_job_ids() == [job_id]  # the webhook once
    assert fast.leftovers() == []


def test_a_cancel_landing_after_the_upload_deletes_the_export(fast: Bench, engine: FakeEngine) -> None:
    """The race with success: CANCELLING is written between the upload and SUCCEEDED; the cancel wins."""
    job_id = fast.create_job()
    upload = fast.s3.upload_file

    def upload_then_cancel(*args: Any, **kwargs: Any) -> None:
        upload(*args, **kwargs)
        assert fast.repo.request_cancel(job_id)

    fast.s3.upload_file = upload_then_cancel
    assert fast.deliver(FakeContext()) == (1, [])
    assert fast.job(job_id).status is JobStatus.CANCELLED
    assert fast.exports() == []
    assert fast.callback_job_ids() == [job_id]


def test_a_cancelling_job_nobody_holds_is_finished_by_its_next_delivery(
    fast: Bench, clock: ManualClock
) -> None:
    """The worker died after the cancel: its message comes back, and the delivery finishes the cancel."""
    job_id = fast.create_job()
    assert fast.repo.claim(job_id, lease_seconds=120, now=clock(), max_attempts=3)
    fast.s3.put_object(Bucket=EXPORTS_BUCKET, Key=output_key(job_id), Body=b"half")
    assert fast.repo.request_cancel(job_id)
    assert fast.deliver(FakeContext()) == (1, [])
    assert fast.job(job_id).status is JobStatus.CANCELLED
    assert fast.exports() == []
    assert fast.callback_job_ids() == [job_id]


def _fan_out(fast: Bench, clock: ManualClock) -> None:
    fast.settings = WorkerSettings.model_validate(
        {
            **fast.settings.model_dump(by_alias=True),
            "FANOUT_THRESHOLD_SECONDS": 2,
            "FANOUT_MIN_CHUNK_SECONDS": 1,
            "FANOUT_MAX_CHUNKS": 4,
            "JOB_QUEUE_URL": fast.queue_url,
        }
    )
    handler.set_deps(dataclasses.replace(fast.deps(), wait=clock.wait, sqs=fast.sqs))


def test_a_fanned_out_job_cancelled_mid_chunks_starts_no_further_task(
    fast: Bench, clock: ManualClock, engine: FakeEngine
) -> None:
    _fan_out(fast, clock)
    job_id = fast.create_job(fast.request(fast.upload(), seconds=4))
    assert fast.deliver(FakeContext()) == (1, [])  # the split
    rendered: list[str] = []

    def during(kind: str, run: RenderRun) -> None:
        rendered.append(kind)
        if len(rendered) == 2:  # the second task is cancelled while it renders
            _cancel_while_rendering(fast, clock, job_id)(kind, run)

    engine.during = during
    for _ in range(10):
        if fast.deliver(FakeContext())[0] == 0:
            break
    assert len(rendered) == 2, rendered  # the tasks delivered after the cancel start no render
    job = fast.job(job_id)
    assert job.status is JobStatus.CANCELLED
    assert fast.exports() == []  # the first task's chunk is deleted too
    assert fast.callback_job_ids() == [job_id]
    assert fast.queue_depth(fast.queue_url) == 0


def test_a_join_cancelled_mid_run_stops_at_its_next_heartbeat(
    fast: Bench, clock: ManualClock, engine: FakeEngine
) -> None:
    """The join's ffmpeg reports progress like a render: the joiner's heartbeat is refused once the job
    is CANCELLING, and the join stops there instead of running to its end."""
    _fan_out(fast, clock)
    job_id = fast.create_job(fast.request(fast.upload(), seconds=4))
    stopped: list[bool] = []

    def during(kind: str, run: RenderRun) -> None:
        if kind == "join":
            assert fast.repo.request_cancel(job_id)
            clock.advance(BEAT)  # one heartbeat later
            stopped.append(run.on_progress is not None)
            if run.on_progress is not None:
                wait_for(lambda: _stopped(run))

    engine.during = during
    for _ in range(10):
        if fast.deliver(FakeContext())[0] == 0:
            break
    assert engine.calls.count("join") == 1 and stopped == [True]
    assert fast.job(job_id).status is JobStatus.CANCELLED
    assert fast.exports() == []  # the chunks and their sound are deleted, no export was written
    assert fast.callback_job_ids() == [job_id]


def test_a_chunk_uploaded_after_another_task_ended_the_cancel_is_deleted_by_its_own_task(
    fast: Bench, clock: ManualClock, engine: FakeEngine
) -> None:
    _fan_out(fast, clock)
    job_id = fast.create_job(fast.request(fast.upload(), seconds=4))
    assert fast.deliver(FakeContext()) == (1, [])  # the split
    done: list[str] = []

    def during(kind: str, run: RenderRun) -> None:
        if not done:  # while the first task renders, the job is cancelled and ended by someone else
            done.append(kind)
            assert fast.repo.request_cancel(job_id)
            cancelled = Cancellation(JobStatus.CANCELLING)
            assert fast.repo.mark_cancelled(job_id, from_status=cancelled.from_status)

    engine.during = during
    fast.deliver(FakeContext())
    # the heartbeat had no chance to see it: the task uploaded, its finish was refused, it deleted its file
    assert fast.job(job_id).status is JobStatus.CANCELLED
    assert fast.exports() == []


def test_the_dlq_ends_a_cancelling_job_nobody_holds_and_deletes_what_it_wrote(
    fast: Bench, clock: ManualClock
) -> None:
    job_id = fast.create_job(send=False)
    assert fast.repo.claim(job_id, lease_seconds=120, now=clock(), max_attempts=3)
    # its worker died mid-cancel, leaving a chunk and the export behind
    for key in (chunk_key(job_id, 0), chunk_sound_key(job_id, 0), output_key(job_id)):
        fast.s3.put_object(Bucket=EXPORTS_BUCKET, Key=key, Body=b"x")
    assert fast.repo.request_cancel(job_id)
    body = job_message_body(job_id)
    delete = partial(delete_job_files, deps=handler.get_deps())
    with pytest.raises(Exception, match="job busy"):  # its worker may still be cleaning up
        process_dead_letter(body, fast.repo, max_receive_count=6, clock=clock, delete_job_files=delete)
    assert len(fast.exports()) == 3
    clock.advance(121)
    result = process_dead_letter(body, fast.repo, max_receive_count=6, clock=clock, delete_job_files=delete)
    assert result.outcome is Outcome.CANCELLED
    assert fast.job(job_id).status is JobStatus.CANCELLED
    assert fast.exports() == []
