"""A render stopped by the system (a signal, memory) is transient: retried, and failed with a clear code
only when every attempt ran out of resources. Real processes for the executor, the bench for the job."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from export_common.jobs import JobStatus
from export_worker import handler
from export_worker.engine import FfmpegEngine
from render.errors import RenderFailedError, RenderResourcesError
from render.executor import exit_error, run_ffmpeg
from tests.markers import requires_ffmpeg

from .conftest import MAX_ATTEMPTS, Bench, CountingEngine

RETRYING = "the render ran out of resources; retrying"


def test_a_process_killed_by_sigkill_is_out_of_resources() -> None:
    with pytest.raises(RenderResourcesError) as info:
        run_ffmpeg(["sh", "-c", "echo frame=1 >&2; kill -KILL $$"], total_seconds=1)
    error = info.value
    assert error.code == "RENDER_RESOURCES_EXHAUSTED" and error.transient
    assert error.message == "the render ran out of resources"
    assert "-9" not in error.message and "SIGKILL" in error.stderr_tail and "frame=1" in error.stderr_tail


@pytest.mark.parametrize(
    "stderr",
    ["Exiting normally, received signal 15.", "Error while filtering: Cannot allocate memory"],
)
def test_ffmpeg_stopped_by_a_caught_signal_or_out_of_memory_is_out_of_resources(stderr: str) -> None:
    with pytest.raises(RenderResourcesError) as info:
        run_ffmpeg(["sh", "-c", f"echo '{stderr}' >&2; exit 255"], total_seconds=1)
    assert "255" in info.value.stderr_tail and "255" not in info.value.message


def test_any_other_failure_stays_permanent() -> None:
    with pytest.raises(RenderFailedError) as info:
        run_ffmpeg(
            ["sh", "-c", "echo 'Invalid data found when processing input' >&2; exit 1"], total_seconds=1
        )
    assert not info.value.transient and info.value.code == "RENDER_FAILED"
    assert not isinstance(exit_error(1, "Invalid data found"), RenderResourcesError)
    assert isinstance(exit_error(-signal.SIGTERM, ""), RenderResourcesError)
    assert "SIGTERM" in exit_error(-signal.SIGTERM, "").stderr_tail


def _killed_renderer(bench: Bench, kills: int) -> CountingEngine:
    """The real renderer, except that the first ``kills`` renders are killed as the OOM killer would."""

    def render(*args: Any) -> Any:
        if renderer.calls <= kills:
            raise exit_error(-signal.SIGKILL, "frame=  42 fps=3.1")
        return FfmpegEngine().render(*args)

    renderer = CountingEngine(render)
    handler.set_deps(bench.deps(engine=renderer))
    return renderer


@requires_ffmpeg
def test_a_killed_render_is_retried_and_the_next_attempt_succeeds(bench: Bench) -> None:
    job_id = bench.create_job()
    renderer = _killed_renderer(bench, kills=1)

    delivered, failed = bench.deliver()
    assert (delivered, len(failed)) == (1, 1)  # handed back, not failed
    job = bench.job(job_id)
    assert job.status is JobStatus.QUEUED and job.attempt == 1 and job.error is None
    assert job.last_error is not None
    assert (job.last_error.code, job.last_error.message) == ("RENDER_RESOURCES_EXHAUSTED", RETRYING)

    assert bench.deliver() == (1, [])
    job = bench.job(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.attempt == 2 and renderer.calls == 2
    assert bench.leftovers() == []


@requires_ffmpeg
def test_a_render_killed_in_every_attempt_fails_with_a_clear_code(bench: Bench) -> None:
    job_id = bench.create_job()
    renderer = _killed_renderer(bench, kills=MAX_ATTEMPTS)

    for _ in range(MAX_ATTEMPTS - 1):
        assert bench.deliver()[1] != []
    assert bench.deliver() == (1, [])  # the last attempt ends the job itself

    job = bench.job(job_id)
    assert job.status is JobStatus.FAILED and job.attempt == MAX_ATTEMPTS and renderer.calls == MAX_ATTEMPTS
    assert job.error is not None and job.error.code == "RENDER_RESOURCES_EXHAUSTED"
    assert job.error.message == (
        f"the render ran out of resources in {MAX_ATTEMPTS} attempts; a shorter or smaller export may succeed"
    )
    assert "-9" not in job.error.message and "SIGKILL" not in job.error.message
    assert bench.queue_depth(bench.queue_url) == 0
