"""The worker's small modules on their own: budget, progress throttle, work dirs, S3 transfers, settings,
heartbeat."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from export_common.errors import ErrorCode
from export_common.limits import GIB
from export_common.table import JobRepository
from export_worker import workdir
from export_worker.budget import TimeBudget, estimated_render_seconds
from export_worker.failures import JobFailedError
from export_worker.heartbeat import Heartbeat
from export_worker.progress import ProgressReporter
from export_worker.settings import WorkerSettings
from export_worker.sources import TaskSources
from export_worker.storage import AssetRef, local_path, stream_one, upload_output

from .conftest import ASSETS_BUCKET, EXPORTS_BUCKET, Bench

# ---------------------------------------------------------------- budget


def _budget(remaining: float, invocation: float = 900, cap: float = 840) -> TimeBudget:
    return TimeBudget(
        remaining_seconds=remaining,
        invocation_seconds=invocation,
        upload_margin_seconds=60,
        render_cap_seconds=cap,
    )


@pytest.mark.parametrize(("output", "expected"), [(0, 60), (10, 60), (30, 60), (45, 90), (600, 1200)])
def test_a_render_is_estimated_at_twice_the_output_and_at_least_60_s(output: float, expected: float) -> None:
    assert estimated_render_seconds(output) == expected


def test_a_fresh_invocation_renders_up_to_the_jobs_cap() -> None:
    assert _budget(remaining=899.9).render_timeout(10) == 839.9
    assert _budget(remaining=1000, invocation=1000).render_timeout(10) == 840


def test_a_used_up_invocation_refuses_what_a_fresh_one_would_do_better() -> None:
    assert _budget(remaining=100).render_timeout(30) is None  # needs 60 s + 60 s upload margin
    assert _budget(remaining=121).render_timeout(30) == 61
    assert _budget(remaining=400).render_timeout(300) is None  # needs 600 s


def test_a_long_job_in_a_fresh_invocation_starts_anyway() -> None:
    # 600 s of output is estimated at 1200 s: no invocation has that, so waiting cannot help
    assert _budget(remaining=899).render_timeout(600) == 839
    # ...but once the invocation spent time on other records, a fresh one does better
    assert _budget(remaining=700).render_timeout(600) is None


def test_nothing_starts_without_useful_time_after_the_upload_margin() -> None:
    assert _budget(remaining=62, invocation=62).render_timeout(1) is None


def test_a_timeout_is_ours_only_when_we_bounded_it_and_a_retry_gets_more() -> None:
    assert _budget(remaining=200).timeout_was_ours(140)
    assert not _budget(remaining=899).timeout_was_ours(839)  # a retry gets the same
    assert not _budget(remaining=200).timeout_was_ours(840)  # the job's own limit


# ---------------------------------------------------------------- progress


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_written_at_most_every_two_seconds_and_five_percent(jobs_table: Any) -> None:
    repo = JobRepository(jobs_table)
    repo.create("j1", "{}", "h")
    claimed = repo.claim("j1", lease_seconds=60)
    assert claimed is not None
    clock = FakeMonotonic()
    report = ProgressReporter(repo, "j1", claimed.attempt, monotonic=clock)

    report(0.10)  # first: written
    report(0.50)  # same instant: throttled
    clock.now += 2.5
    report(0.52)  # time passed and 42 % more than written: written
    clock.now += 1.0
    report(0.90)  # 1 s after the last write: too soon
    clock.now += 1.5
    report(0.55)  # due, but only 3 % more than written: skipped
    report(0.40)  # backwards: ignored

    assert report.writes == 2
    job = repo.get("j1")
    assert job is not None and job.progress == pytest.approx(0.52)


def test_progress_stops_once_another_attempt_owns_the_job(jobs_table: Any) -> None:
    repo = JobRepository(jobs_table)
    repo.create("j1", "{}", "h")
    assert repo.claim("j1", lease_seconds=60) is not None
    clock = FakeMonotonic()
    report = ProgressReporter(repo, "j1", attempt=7, monotonic=clock)  # not the owner
    report(0.5)
    clock.now += 10
    report(0.9)
    assert report.lost_ownership and report.writes == 1
    job = repo.get("j1")
    assert job is not None and job.progress == 0


# ---------------------------------------------------------------- work dirs


def test_the_work_dir_is_removed_on_every_path(tmp_path: Path) -> None:
    with workdir.job_work_dir(tmp_path) as work:
        (work / "in").mkdir()
        (work / "in" / "a.mp4").write_bytes(b"x")
    with pytest.raises(RuntimeError), workdir.job_work_dir(tmp_path) as work:
        (work / "out.mp4").write_bytes(b"x")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_stale_dirs_of_dead_attempts_are_swept_but_live_ones_are_kept(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])  # another live worker process on the same /tmp
    finished = subprocess.Popen(["true"])
    finished.wait()
    try:
        live = tmp_path / f"{workdir.PREFIX}{sleeper.pid}-aaa"
        dead = tmp_path / f"{workdir.PREFIX}{finished.pid}-bbb"
        mine_stale = tmp_path / f"{workdir.PREFIX}{os.getpid()}-ccc"  # this pid, but no job is using it
        other = tmp_path / "unrelated"
        for path in (live, dead, mine_stale, other):
            path.mkdir()
        with workdir.job_work_dir(tmp_path) as work:
            assert workdir.sweep_stale(tmp_path) == []  # the active dir survives a sweep
            assert work.exists()
        assert sorted(tmp_path.iterdir()) == sorted([live, other])
    finally:
        sleeper.kill()
        sleeper.wait()


# ---------------------------------------------------------------- S3 transfers


def test_assets_land_at_assets_dir_slash_key(bench: Bench, tmp_path: Path) -> None:
    key = bench.upload()
    sources = TaskSources(bench.s3, ASSETS_BUCKET, tmp_path / "in", max_bytes=10**7)
    sources.open([AssetRef("clip.mp4", key)])
    assert (tmp_path / "in" / key).read_bytes() == bench.clip
    assert sources.reads.bytes_read == len(bench.clip)
    assert sources.reads.whole == {key: "small"}


def test_streaming_stops_at_the_cap_even_if_the_head_said_less(bench: Bench, tmp_path: Path) -> None:
    key = bench.upload(b"x" * 5000)
    target = tmp_path / "a.bin"
    with pytest.raises(JobFailedError) as caught:
        stream_one(bench.s3, ASSETS_BUCKET, AssetRef("a.bin", key), target, max_bytes=4096)
    assert caught.value.code == ErrorCode.PAYLOAD_TOO_LARGE.value and "a.bin" in caught.value.message


def test_an_asset_key_cannot_escape_the_assets_dir(tmp_path: Path) -> None:
    assert local_path(tmp_path, "assets/a.mp4") == (tmp_path / "assets" / "a.mp4").resolve()
    with pytest.raises(JobFailedError):
        local_path(tmp_path, "../../etc/passwd")


def test_the_output_is_uploaded_as_video_mp4(bench: Bench, tmp_path: Path) -> None:
    source = tmp_path / "out.mp4"
    source.write_bytes(bench.clip)
    assert upload_output(bench.s3, source, EXPORTS_BUCKET, "exports/j.mp4") == len(bench.clip)
    head = bench.s3.head_object(Bucket=EXPORTS_BUCKET, Key="exports/j.mp4")
    assert head["ContentType"] == "video/mp4" and head["ContentLength"] == len(bench.clip)


# ---------------------------------------------------------------- settings


def test_settings_come_from_the_environment_with_the_documented_defaults() -> None:
    settings = WorkerSettings.from_env(
        {
            "JOBS_TABLE_NAME": "t",
            "ASSETS_BUCKET_NAME": "a",
            "EXPORTS_BUCKET_NAME": "e",
            "MAX_RECEIVE_COUNT": "5",
        }
    )
    assert settings.max_receive_count == 5
    assert (settings.max_attempts, settings.heartbeat_seconds, settings.job_lease_seconds) == (3, 60, 120)
    # a lease must outlive one missed heartbeat
    with pytest.raises(ValidationError, match="twice"):
        WorkerSettings.from_env(
            {
                "JOBS_TABLE_NAME": "t",
                "ASSETS_BUCKET_NAME": "a",
                "EXPORTS_BUCKET_NAME": "e",
                "JOB_HEARTBEAT_SECONDS": "20",
                "JOB_LEASE_SECONDS": "30",
            }
        )
    assert settings.max_upload_bytes == 2 * GIB and settings.job_ttl_days == 30
    with pytest.raises(ValidationError):
        WorkerSettings.from_env({"JOBS_TABLE_NAME": "t"})


# ---------------------------------------------------------------- heartbeat


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_the_heartbeat_extends_lease_then_visibility_until_the_block_ends() -> None:
    calls: list[str] = []
    beat = Heartbeat(
        extend_lease=lambda: calls.append("lease") is None,
        extend_visibility=lambda: calls.append("visibility"),
        interval_seconds=0.02,
    )
    with beat:
        _wait_for(lambda: beat.beats >= 3)
    after_exit = len(calls)
    time.sleep(0.1)
    assert len(calls) == after_exit  # no beat after the block
    assert calls[:4] == ["lease", "visibility", "lease", "visibility"]
    assert not beat.lost.is_set() and beat.failures == 0


def test_a_refused_lease_means_lost_and_stops_the_beat_before_the_message() -> None:
    visibility: list[int] = []
    beat = Heartbeat(
        extend_lease=lambda: False, extend_visibility=lambda: visibility.append(1), interval_seconds=0.02
    )
    with beat:
        _wait_for(beat.lost.is_set)
        time.sleep(0.1)
    assert visibility == []  # a message of a job another attempt owns is not kept hidden
    assert beat.beats == 0


def test_a_failing_call_is_logged_and_the_beat_goes_on() -> None:
    attempts = [0]

    def flaky_lease() -> bool:
        attempts[0] += 1
        if attempts[0] == 1:
            raise ConnectionError("table unreachable")
        return True

    def broken_visibility() -> None:
        raise ConnectionError("queue unreachable")

    beat = Heartbeat(extend_lease=flaky_lease, extend_visibility=broken_visibility, interval_seconds=0.02)
    with beat:
        _wait_for(lambda: beat.beats >= 2)
    assert not beat.lost.is_set() and beat.failures >= 3
