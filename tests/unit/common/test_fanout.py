"""The fan-out's table writes (moto): one count per task, one winner of the join, leases per task."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import ValidationError

from export_common.jobs import JobMessage
from export_common.keys import audio_key, chunk_key, chunk_sound_key
from export_common.messages import AUDIO_TASK, TaskKind, TaskMessage, is_task_body, task_names
from export_common.table import FanoutRepository, JobRepository

CHUNKS = 4


def _split_job(table: Any, job_id: str = "j1") -> tuple[JobRepository, FanoutRepository, int]:
    """Given a claimed job split into CHUNKS chunks of 10 frames."""
    repo = JobRepository(table)
    repo.create(job_id, json.dumps({"timeline": {"editorData": []}}), "hash")
    claimed = repo.claim(job_id, lease_seconds=60)
    assert claimed is not None
    fan = FanoutRepository(repo)
    assert fan.start(job_id, claimed.attempt, chunks=CHUNKS, total_frames=10 * CHUNKS)
    return repo, fan, claimed.attempt


def test_task_messages_parse_by_kind_and_refuse_what_does_not_fit() -> None:
    chunk = TaskMessage(
        job_id="j", attempt=1, task=TaskKind.CHUNK, index=2, start_frame=20, end_frame=30, sent_at_ms=1
    )
    body = chunk.model_dump_json(by_alias=True, exclude_none=True)
    assert is_task_body(body) and TaskMessage.model_validate_json(body) == chunk and chunk.name == "chunk-2"
    audio = TaskMessage(job_id="j", attempt=1, task=TaskKind.AUDIO, sent_at_ms=1)
    assert audio.name == AUDIO_TASK
    # a job message is not a task, and neither parses as the other
    job_body = JobMessage(job_id="j").model_dump_json(by_alias=True)
    assert not is_task_body(job_body)
    with pytest.raises(ValidationError):
        TaskMessage.model_validate_json(job_body)
    with pytest.raises(ValidationError):
        JobMessage.model_validate_json(body)
    for bad in (
        {"jobId": "j", "attempt": 1, "task": "chunk", "sentAt": 1},  # no window
        {"jobId": "j", "attempt": 1, "task": "audio", "index": 0, "sentAt": 1},  # audio with an index
        {
            "jobId": "j",
            "attempt": 1,
            "task": "chunk",
            "index": 0,
            "startFrame": 5,
            "endFrame": 5,
            "sentAt": 1,
        },
        {"jobId": "j", "attempt": 1, "task": "video", "sentAt": 1},
    ):
        with pytest.raises(ValidationError):
            TaskMessage.model_validate(bad)


def test_work_keys_are_deterministic_per_job_and_index() -> None:
    assert chunk_key("j1", 3) == "work/j1/3.mp4" == chunk_key("j1", 3)
    assert chunk_sound_key("j1", 3) == "work/j1/3.aac"
    assert audio_key("j1") == "work/j1/audio.m4a"  # an earlier version's audio task
    assert task_names(2) == {"chunk-0", "chunk-1"}
    assert task_names(2, audio_task=True) == {"chunk-0", "chunk-1", "audio"}


def test_each_task_counts_once_and_only_the_completing_add_sees_the_set_complete(jobs_table: Any) -> None:
    _, fan, attempt = _split_job(jobs_table)
    results = []
    for name in ["chunk-0", "chunk-1", "chunk-0", "chunk-2", "chunk-1"]:
        finished = fan.finish_task("j1", attempt, name)
        assert finished is not None
        results.append((name, finished.counted, finished.done, finished.complete))
    # the duplicates were refused by the condition and did not move the count
    assert results == [
        ("chunk-0", True, 1, False),
        ("chunk-1", True, 2, False),
        ("chunk-0", False, 2, False),
        ("chunk-2", True, 3, False),
        ("chunk-1", False, 3, False),
    ]
    last = fan.finish_task("j1", attempt, "chunk-3")
    assert last is not None and last.counted and last.complete and last.total == CHUNKS


def test_every_delivery_that_sees_the_set_complete_races_for_one_join_claim(jobs_table: Any) -> None:
    # Given the last task finished and counted, and a duplicate of it that found the set complete too
    _, fan, attempt = _split_job(jobs_table)
    for name in task_names(CHUNKS):
        fan.finish_task("j1", attempt, name)
    duplicate = fan.finish_task("j1", attempt, "chunk-3")
    assert duplicate is not None and not duplicate.counted and duplicate.complete
    # Then both go for the join, and the conditional claim lets exactly one through
    now = time.time()
    claims = [fan.claim_join("j1", attempt, lease_seconds=30, now=now) for _ in range(2)]
    assert claims == [1, None]


def test_the_join_is_claimed_once_while_its_lease_lives_and_taken_over_after(jobs_table: Any) -> None:
    repo, fan, attempt = _split_job(jobs_table)
    now = time.time()
    # not before every task is done
    assert fan.claim_join("j1", attempt, lease_seconds=30, now=now) is None
    for name in task_names(CHUNKS):
        fan.finish_task("j1", attempt, name)
    assert fan.claim_join("j1", attempt, lease_seconds=30, now=now) == 1
    assert fan.claim_join("j1", attempt, lease_seconds=30, now=now + 5) is None
    assert fan.extend_join_lease("j1", attempt, 1, 30, now=now + 20)
    assert fan.claim_join("j1", attempt, lease_seconds=30, now=now + 40) is None  # extended to now + 50
    # the joiner died: after its lease another delivery joins, and the first one's beats are refused
    assert fan.claim_join("j1", attempt, lease_seconds=30, now=now + 51) == 2
    assert not fan.extend_join_lease("j1", attempt, 1, 30, now=now + 52)
    job = repo.get("j1")
    assert job is not None and job.join_claims == 2 and job.lease_is_live(now + 60)


def test_a_task_lease_protects_it_like_a_job_and_its_claims_are_bounded(jobs_table: Any) -> None:
    _, fan, attempt = _split_job(jobs_table)
    now = time.time()

    def claim(at: float) -> Any:
        return fan.claim_task(
            "j1", attempt, "chunk-1", lease_seconds=30, now=at, max_attempts=2, sent_at_ms=123
        )

    first = claim(now)
    assert first is not None and first.claims == 1 and first.queued_at_ms == 123
    assert first.started_at_ms >= first.queued_at_ms
    assert claim(now + 10) is None  # live lease: a duplicate delivery waits
    assert fan.extend_task_lease("j1", attempt, "chunk-1", 1, 30, now=now + 20)
    assert claim(now + 45) is None
    second = claim(now + 51)  # the worker died: its lease ran out
    assert second is not None and second.claims == 2 and second.queued_at_ms == 123
    assert not fan.extend_task_lease("j1", attempt, "chunk-1", 1, 30, now=now + 52)  # superseded
    assert fan.release_task("j1", attempt, "chunk-1", 2)
    assert claim(now + 53) is None  # out of claims
    state = fan.task_state("j1", attempt, "chunk-1")
    assert state is not None and state.claims == 2 and not state.lease_is_live(now + 53)


def test_a_superseded_attempt_can_neither_count_nor_report(jobs_table: Any) -> None:
    repo, fan, attempt = _split_job(jobs_table)
    taken_over = repo.claim("j1", lease_seconds=60, now=time.time() + 61)
    assert taken_over is not None and taken_over.attempt == attempt + 1
    assert fan.finish_task("j1", attempt, "chunk-0") is None
    assert not fan.report_chunk_frames("j1", attempt, 0, 5)
    assert fan.claim_join("j1", attempt, lease_seconds=30, now=time.time()) is None


def test_progress_is_rendered_frames_over_all_chunks_and_never_falls(jobs_table: Any) -> None:
    repo, fan, attempt = _split_job(jobs_table)
    assert fan.report_chunk_frames("j1", attempt, 0, 10)
    assert fan.report_chunk_frames("j1", attempt, 2, 5)
    job = repo.get("j1")
    assert job is not None and job.progress == pytest.approx(15 / 40)
    # a retried chunk starts again from 0: the job's progress stays where it was
    assert fan.report_chunk_frames("j1", attempt, 0, 0)
    job = repo.get("j1")
    assert job is not None and job.progress == pytest.approx(15 / 40)
    for index in range(CHUNKS):
        fan.report_chunk_frames("j1", attempt, index, 10)
    job = repo.get("j1")
    assert job is not None and job.progress == pytest.approx(0.99)  # 1 only when the join is done
