"""`POST /export/quote`, and what GET reports of a poster, an m4a and a job's usage (moto)."""

from __future__ import annotations

from typing import Any

import pytest

from export_common.jobs import JobError, JobOutput
from export_common.keys import output_key, poster_key
from export_common.table import JobRepository
from render.chunking import plan_export_chunks
from render.cost import estimate, work_of
from render.model import ExportRequest

from .api_stack import Stack, error_code, timeline_request


def _long(seconds: float, **output: Any) -> dict[str, Any]:
    body = timeline_request("clip.mp4")
    body["timeline"]["editorData"][0]["actions"][0]["end"] = seconds
    body["output"] |= output
    return body


def test_a_quote_names_the_size_the_cut_and_the_estimate_and_creates_nothing(stack: Stack) -> None:
    stack.upload("assets/clip.mp4")
    reply = stack.call("POST", "/export/quote", _long(5))
    assert reply.status == 200, reply.body
    assert {k: reply.body[k] for k in ("durationSeconds", "frames", "width", "height", "fps", "chunks")} == {
        "durationSeconds": 5.0,
        "frames": 50,
        "width": 160,
        "height": 90,
        "fps": 10.0,
        "chunks": 1,
    }
    request = ExportRequest.model_validate(_long(5))
    expected = estimate(work_of(request, ()), memory_mb=stack.settings.worker_memory_mb)
    assert reply.body["estimate"] == {
        "renderSeconds": round(expected.render_seconds, 2),
        "wallSeconds": round(expected.wall_seconds, 2),
        "lambdaGbSeconds": round(expected.lambda_gb_seconds, 2),
    }
    assert stack.messages() == []  # nothing queued
    items = stack.table.scan()["Items"]
    assert [item["pk"] for item in items if not item["pk"].startswith("sig#")] == []  # only the replay guard


def test_a_long_quote_has_the_worker_s_chunks(stack: Stack) -> None:
    stack.upload("assets/clip.mp4")
    body = _long(600)
    reply = stack.call("POST", "/export/quote", body)
    assert reply.status == 200, reply.body
    settings = stack.settings
    windows = plan_export_chunks(
        ExportRequest.model_validate(body),
        threshold_seconds=settings.fanout_threshold_seconds,
        max_chunks=settings.fanout_max_chunks,
        min_chunk_seconds=settings.fanout_min_chunk_seconds,
    )
    assert reply.body["chunks"] == len(windows) == settings.fanout_max_chunks
    assert reply.body["estimate"]["wallSeconds"] < reply.body["estimate"]["renderSeconds"]


def test_an_m4a_quote_has_no_frames_and_one_task(stack: Stack) -> None:
    stack.upload("assets/clip.mp4")
    reply = stack.call("POST", "/export/quote", _long(600, format="m4a"))
    assert (reply.status, reply.body["frames"], reply.body["chunks"]) == (200, 0, 1)


def test_draft_is_quoted_cheaper_than_standard_and_high_dearer(stack: Stack) -> None:
    stack.upload("assets/clip.mp4")
    seconds = [
        stack.call("POST", "/export/quote", _long(30, quality=q)).body["estimate"]["renderSeconds"]
        for q in ("draft", "standard", "high")
    ]
    assert seconds == sorted(seconds) and len(set(seconds)) == 3


@pytest.mark.parametrize("path", ["/export/quote", "/export"])
@pytest.mark.parametrize(
    ("output", "field"),
    [
        ({"quality": "ultra"}, "output.quality"),
        ({"format": "webm"}, "output.format"),
        ({"poster": {"at": 5}}, "output.poster.at"),
        ({"poster": {"at": -1}}, "output.poster.at"),
        ({"format": "m4a", "poster": {"at": 1}}, "output.poster.at"),
    ],
)
def test_bad_output_options_are_400_naming_the_field(
    stack: Stack, path: str, output: dict[str, Any], field: str
) -> None:
    stack.upload("assets/clip.mp4")
    reply = stack.call("POST", path, _long(5, **output))
    assert (reply.status, error_code(reply)) == (400, "VALIDATION_ERROR"), reply.body
    assert [d["path"] for d in reply.body["details"]] == [field]


def test_a_quote_refuses_what_post_export_refuses(stack: Stack) -> None:
    reply = stack.call("POST", "/export/quote", _long(5))  # nothing uploaded
    assert (reply.status, error_code(reply)) == (400, "ASSET_MISSING")
    assert stack.call("POST", "/export/quote", _long(5), sign=False).status == 401


def test_a_poster_and_usage_are_reported_once_the_job_ended(stack: Stack) -> None:
    stack.upload("assets/clip.mp4")
    job_id = stack.call("POST", "/export", _long(5, poster={"at": 1})).body["jobId"]
    repo = JobRepository(stack.table)
    job = repo.claim(job_id, lease_seconds=60)
    assert job is not None
    assert "usage" not in stack.call("GET", f"/export/{job_id}").body  # not while it runs
    repo.add_usage(job_id, render_seconds=1.25, gb_seconds=3.5)
    repo.add_usage(job_id, render_seconds=0.5, gb_seconds=1.0)
    output = JobOutput(
        key=output_key(job_id),
        duration_seconds=5.0,
        size_bytes=10,
        width=160,
        height=90,
        render_seconds=1.0,
        poster_key=poster_key(job_id),
    )
    assert repo.mark_succeeded(job_id, job.attempt, output)
    body = stack.call("GET", f"/export/{job_id}").body
    assert body["usage"] == {"renderSeconds": 1.75, "lambdaGbSeconds": 4.5, "tasks": 2}
    assert body["posterKey"] == f"exports/{job_id}.jpg"
    assert f"exports/{job_id}.jpg" in body["posterUrl"] and "image%2Fjpeg" in body["posterUrl"]


def test_an_m4a_download_is_served_as_audio(stack: Stack) -> None:
    stack.upload("assets/clip.mp4")
    job_id = stack.call("POST", "/export", _long(5, format="m4a")).body["jobId"]
    repo = JobRepository(stack.table)
    job = repo.claim(job_id, lease_seconds=60)
    assert job is not None
    output = JobOutput(
        key=output_key(job_id, "m4a"), duration_seconds=5, size_bytes=1, width=0, height=0, render_seconds=1
    )
    assert repo.mark_succeeded(job_id, job.attempt, output)
    body = stack.call("GET", f"/export/{job_id}").body
    assert body["outputKey"].endswith(".m4a") and "audio%2Fmp4" in body["downloadUrl"]
    assert ".m4a" in body["downloadUrl"] and "posterKey" not in body


def test_a_failed_job_reports_its_usage_too(stack: Stack) -> None:
    stack.upload("assets/clip.mp4")
    job_id = stack.call("POST", "/export", _long(5)).body["jobId"]
    repo = JobRepository(stack.table)
    job = repo.claim(job_id, lease_seconds=60)
    assert job is not None
    repo.add_usage(job_id, render_seconds=0.2, gb_seconds=0.9)
    assert repo.mark_failed(job_id, JobError(code="INVALID_MEDIA", message="x"), attempt=job.attempt)
    assert stack.call("GET", f"/export/{job_id}").body["usage"]["tasks"] == 1
