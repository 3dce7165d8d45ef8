import json
import time

from export_common.jobs import (
    JobError,
    JobMessage,
    JobOutput,
    JobStatus,
    job_message_body,
)
from export_common.keys import output_key
from export_common.table import JobRepository


def _new_job(repo: JobRepository, job_id: str = "j1"):
    return repo.create(job_id, json.dumps({"timeline": {"editorData": []}}), "hash")


def test_create_then_get_round_trips(jobs_table) -> None:
    repo = JobRepository(jobs_table, ttl_days=1)
    created = _new_job(repo)
    loaded = repo.get("j1")
    assert loaded == created
    assert loaded.status is JobStatus.QUEUED
    assert loaded.expires_at > time.time() + 86000
    assert repo.get("missing") is None


def test_claim_is_exclusive_until_the_lease_expires(jobs_table) -> None:
    repo = JobRepository(jobs_table)
    _new_job(repo)
    first = repo.claim("j1", lease_seconds=60)
    assert first is not None and first.status is JobStatus.RUNNING and first.attempt == 1
    assert repo.claim("j1", lease_seconds=60) is None
    taken_over = repo.claim("j1", lease_seconds=60, now=time.time() + 61)
    assert taken_over is not None and taken_over.attempt == 2
    # the first attempt lost ownership: its late writes are refused
    assert not repo.report_progress("j1", 1, 0.5)
    assert not repo.mark_succeeded(
        "j1", 1, JobOutput(key="k", durationSeconds=1, sizeBytes=1, width=2, height=2, renderSeconds=1)
    )
    assert repo.report_progress("j1", 2, 0.5)
    assert repo.get("j1").progress == 0.5


def test_success_is_final(jobs_table) -> None:
    repo = JobRepository(jobs_table)
    _new_job(repo)
    job = repo.claim("j1", lease_seconds=60)
    output = JobOutput(
        key=output_key("j1"), durationSeconds=2.5, sizeBytes=10, width=4, height=2, renderSeconds=0.5
    )
    assert repo.mark_succeeded("j1", job.attempt, output)
    done = repo.get("j1")
    assert done.status is JobStatus.SUCCEEDED and done.output == output and done.progress == 1
    assert done.lease_until is None
    assert repo.claim("j1", lease_seconds=60, now=time.time() + 10_000) is None
    assert not repo.mark_failed("j1", JobError(code="X", message="late"))
    assert repo.get("j1").status is JobStatus.SUCCEEDED


def test_failure_from_queued_or_from_the_owning_attempt(jobs_table) -> None:
    repo = JobRepository(jobs_table)
    _new_job(repo, "queued")
    assert repo.mark_failed("queued", JobError(code="QUEUE_UNAVAILABLE", message="m"))
    assert repo.get("queued").error == JobError(code="QUEUE_UNAVAILABLE", message="m")

    _new_job(repo, "running")
    job = repo.claim("running", lease_seconds=60)
    assert not repo.mark_failed("running", JobError(code="X", message="m"), attempt=job.attempt + 1)
    assert repo.mark_failed("running", JobError(code="X", message="m"), attempt=job.attempt)
    assert repo.get("running").status is JobStatus.FAILED


def test_release_returns_the_job_to_the_queue(jobs_table) -> None:
    repo = JobRepository(jobs_table)
    _new_job(repo)
    job = repo.claim("j1", lease_seconds=60)
    assert repo.extend_lease("j1", job.attempt, 120)
    assert repo.release("j1", job.attempt)
    released = repo.get("j1")
    assert released.status is JobStatus.QUEUED and released.progress is None
    assert repo.claim("j1", lease_seconds=60).attempt == 2


def test_message_body_round_trips() -> None:
    assert JobMessage.model_validate_json(job_message_body("abc")).job_id == "abc"
    assert output_key("abc") == "exports/abc.mp4"


def test_claims_count_attempts_and_stop_at_the_budget(jobs_table) -> None:
    repo = JobRepository(jobs_table)
    _new_job(repo)
    now = time.time()
    for attempt in (1, 2):
        claimed = repo.claim("j1", lease_seconds=60, now=now, max_attempts=2)
        assert claimed is not None and claimed.attempt == attempt
        now += 61  # that attempt died: its lease ran out
    assert repo.claim("j1", lease_seconds=60, now=now, max_attempts=2) is None
    job = repo.get("j1")
    assert job.status is JobStatus.RUNNING and job.attempt == 2 and not job.lease_is_live(now)
    # without a budget the same job is claimable (the budget is the caller's rule, not the table's)
    assert repo.claim("j1", lease_seconds=60, now=now).attempt == 3


def test_a_released_attempt_leaves_its_reason(jobs_table) -> None:
    repo = JobRepository(jobs_table)
    _new_job(repo)
    job = repo.claim("j1", lease_seconds=60)
    reason = JobError(code="RENDER_RESOURCES_EXHAUSTED", message="the render ran out of resources; retrying")
    assert repo.release("j1", job.attempt, last_error=reason)
    released = repo.get("j1")
    assert released.status is JobStatus.QUEUED and released.last_error == reason
    assert released.error is None and released.lease_until is None


def test_the_heartbeat_moves_the_lease_from_now(jobs_table) -> None:
    repo = JobRepository(jobs_table)
    _new_job(repo)
    now = time.time()
    job = repo.claim("j1", lease_seconds=30, now=now)
    assert job.lease_until == int(now) + 30 and job.lease_is_live(now + 30)
    assert repo.extend_lease("j1", job.attempt, 30, now=now + 20)
    assert repo.get("j1").lease_until == int(now + 20) + 30
    assert not repo.extend_lease("j1", job.attempt + 1, 30)  # not the owner


def test_only_an_abandoned_job_at_the_seen_attempt_is_failed(jobs_table) -> None:
    repo = JobRepository(jobs_table)
    error = JobError(code="RETRIES_EXHAUSTED", message="m")
    now = time.time()

    _new_job(repo, "queued")  # never claimed: attempt 0, no attribute yet
    assert not repo.fail_abandoned("queued", error, attempt=1, now=now)
    assert repo.fail_abandoned("queued", error, attempt=0, now=now)
    assert repo.get("queued").status is JobStatus.FAILED

    _new_job(repo, "live")
    repo.claim("live", lease_seconds=60, now=now)
    assert not repo.fail_abandoned("live", error, attempt=1, now=now)  # its owner is alive
    assert repo.fail_abandoned("live", error, attempt=1, now=now + 61)  # its owner died
    assert repo.get("live").error == error and repo.get("live").lease_until is None

    _new_job(repo, "reclaimed")
    repo.claim("reclaimed", lease_seconds=60, now=now)
    repo.claim("reclaimed", lease_seconds=60, now=now + 61)  # taken over since it was read at attempt 1
    assert not repo.fail_abandoned("reclaimed", error, attempt=1, now=now + 61)
    assert repo.get("reclaimed").status is JobStatus.RUNNING

    assert not repo.fail_abandoned("missing", error, attempt=0, now=now)
