"""The cancel's part of the job state machine: CANCELLING and CANCELLED from every state, one end per job."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from export_common.ending import end_job
from export_common.jobs import FINAL_STATUSES, Cancellation, JobError, JobOutput, JobStatus
from export_common.table import JobRepository

OUTPUT = JobOutput(key="exports/j.mp4", durationSeconds=1, sizeBytes=1, width=2, height=2, renderSeconds=1)


class Notifier:
    """Counts ``job_ended`` calls: the webhook is queued once per terminal transition."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    def job_ended(self, job_id: str) -> None:
        self.ended.append(job_id)


def _job_in(repo: JobRepository, status: JobStatus, job_id: str = "j1") -> str:
    """A job brought to ``status`` through the repository's own transitions."""
    repo.create(job_id, json.dumps({"timeline": {"editorData": []}}), "hash")
    if status is JobStatus.QUEUED:
        return job_id
    claimed = repo.claim(job_id, lease_seconds=60)
    assert claimed is not None
    moves: dict[JobStatus, Callable[[], bool]] = {
        JobStatus.RUNNING: lambda: True,
        JobStatus.CANCELLING: lambda: repo.request_cancel(job_id),
        JobStatus.SUCCEEDED: lambda: repo.mark_succeeded(job_id, claimed.attempt, OUTPUT),
        JobStatus.FAILED: lambda: repo.mark_failed(job_id, JobError(code="X", message="m"), attempt=1),
        JobStatus.CANCELLED: lambda: (
            repo.request_cancel(job_id) and repo.mark_cancelled(job_id, from_status=JobStatus.CANCELLING)
        ),
    }
    assert moves[status]()
    assert _status(repo, job_id) is status
    return job_id


def _status(repo: JobRepository, job_id: str) -> JobStatus:
    job = repo.get(job_id)
    assert job is not None
    return job.status


def test_terminal_states_are_defined_once() -> None:
    assert {s for s in JobStatus if s.is_final} == FINAL_STATUSES
    assert {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED} == FINAL_STATUSES
    assert not JobStatus.CANCELLING.is_final


# from each state: what request_cancel (→ CANCELLING) and mark_cancelled (→ CANCELLED) do
CANCELLING_FROM = {JobStatus.RUNNING}
CANCELLED_FROM = {JobStatus.QUEUED, JobStatus.CANCELLING}


@pytest.mark.parametrize("start", list(JobStatus))
def test_cancelling_only_from_running(jobs_table: Any, start: JobStatus) -> None:
    repo = JobRepository(jobs_table)
    job_id = _job_in(repo, start)
    assert repo.request_cancel(job_id) is (start in CANCELLING_FROM)
    assert _status(repo, job_id) is (JobStatus.CANCELLING if start in CANCELLING_FROM else start)


@pytest.mark.parametrize("start", list(JobStatus))
@pytest.mark.parametrize("claimed_from", sorted(CANCELLED_FROM))
def test_cancelled_only_from_the_state_its_caller_saw(
    jobs_table: Any, start: JobStatus, claimed_from: JobStatus
) -> None:
    repo = JobRepository(jobs_table)
    job_id = _job_in(repo, start)
    notifier = Notifier()
    ended = end_job(repo, job_id, Cancellation(claimed_from), attempt=None, callbacks=notifier)
    assert ended is (start is claimed_from)
    assert _status(repo, job_id) is (JobStatus.CANCELLED if ended else start)
    assert notifier.ended == ([job_id] if ended else [])
    if ended:
        job = repo.get(job_id)
        assert job is not None and job.lease_until is None and job.progress is None


@pytest.mark.parametrize("start", [JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED])
def test_a_job_is_never_cancelled_from_another_state(jobs_table: Any, start: JobStatus) -> None:
    repo = JobRepository(jobs_table)
    with pytest.raises(ValueError, match="QUEUED or CANCELLING"):
        repo.mark_cancelled("j1", from_status=start)


def test_a_cancelling_job_refuses_every_write_of_its_attempt(jobs_table: Any) -> None:
    """The worker learns of the cancel from its next refused write: heartbeat, progress, end, release."""
    repo = JobRepository(jobs_table)
    job_id = _job_in(repo, JobStatus.CANCELLING)
    assert not repo.extend_lease(job_id, 1, 60)
    assert not repo.report_progress(job_id, 1, 0.5)
    assert not repo.release(job_id, 1)
    assert not repo.mark_succeeded(job_id, 1, OUTPUT)
    assert not repo.mark_failed(job_id, JobError(code="X", message="m"), attempt=1)
    assert not repo.mark_failed(job_id, JobError(code="X", message="m"))  # "any unfinished": not this one
    assert not repo.fail_abandoned(job_id, JobError(code="X", message="m"), attempt=1, now=time.time() + 999)
    # nor can a later delivery claim it, however old its lease
    assert repo.claim(job_id, lease_seconds=60, now=time.time() + 10_000) is None
    assert _status(repo, job_id) is JobStatus.CANCELLING


# ---------------------------------------------------------------------------------------- races
def _terminal_writes(repo: JobRepository, job_id: str, notifier: Notifier) -> dict[str, Callable[[], bool]]:
    """Every way the job may end, as the worker and the API write it."""
    return {
        "succeed": lambda: end_job(repo, job_id, OUTPUT, attempt=1, callbacks=notifier),
        "fail": lambda: end_job(
            repo,
            job_id,
            JobError(code="RENDER_FAILED", message="m"),
            attempt=1,
            callbacks=notifier,
        ),
        "cancel": lambda: (
            repo.request_cancel(job_id)
            and end_job(repo, job_id, Cancellation(JobStatus.CANCELLING), attempt=None, callbacks=notifier)
        ),
    }


@pytest.mark.parametrize(
    "order",
    [("cancel", "succeed"), ("succeed", "cancel"), ("cancel", "fail"), ("fail", "cancel")],
)
def test_a_cancel_racing_the_end_leaves_exactly_one_terminal_state(
    jobs_table: Any, order: tuple[str, str]
) -> None:
    repo = JobRepository(jobs_table)
    job_id = _job_in(repo, JobStatus.RUNNING)
    notifier = Notifier()
    writes = _terminal_writes(repo, job_id, notifier)
    first, second = order
    assert writes[first]()
    assert not writes[second]()
    expected = {"cancel": JobStatus.CANCELLED, "succeed": JobStatus.SUCCEEDED, "fail": JobStatus.FAILED}
    assert _status(repo, job_id) is expected[first]
    assert notifier.ended == [job_id]  # one webhook


def test_the_worker_ending_between_cancel_and_cleanup_loses(jobs_table: Any) -> None:
    """CANCELLING already written: a success the worker finished meanwhile is refused; the cancel ends it."""
    repo = JobRepository(jobs_table)
    job_id = _job_in(repo, JobStatus.RUNNING)
    notifier = Notifier()
    assert repo.request_cancel(job_id)
    assert not end_job(repo, job_id, OUTPUT, attempt=1, callbacks=notifier)
    assert end_job(repo, job_id, Cancellation(JobStatus.CANCELLING), attempt=None, callbacks=notifier)
    # a second worker noticing the cancel too writes nothing more
    assert not end_job(repo, job_id, Cancellation(JobStatus.CANCELLING), attempt=None, callbacks=notifier)
    assert _status(repo, job_id) is JobStatus.CANCELLED
    assert notifier.ended == [job_id]


def test_a_claim_racing_a_queued_cancel_has_one_winner(jobs_table: Any) -> None:
    repo = JobRepository(jobs_table)
    _job_in(repo, JobStatus.QUEUED, "cancel-first")
    assert repo.mark_cancelled("cancel-first", from_status=JobStatus.QUEUED)
    assert repo.claim("cancel-first", lease_seconds=60) is None

    _job_in(repo, JobStatus.QUEUED, "claim-first")
    assert repo.claim("claim-first", lease_seconds=60) is not None
    assert not repo.mark_cancelled("claim-first", from_status=JobStatus.QUEUED)
    assert repo.request_cancel("claim-first")  # the API then asks the running attempt to stop
    assert _status(repo, "claim-first") is JobStatus.CANCELLING
