import json
import time

from export_common.jobs import (
    JobError,
    JobMessage,
    JobOutput,
    JobRepository,
    JobStatus,
    job_message_body,
    output_key,
)


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
