"""Captions through the deployed stack with the Python client: an SRT uploaded through presign and burnt
in (its pixels in the bottom band during its cue only), and a malformed one refused at POST /export with
400 INVALID_CAPTIONS and its line, before any job exists."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import media
from tests.e2e.stack import TIMINGS, Stack
from video_export.client import ApiError, ExportClient

SRT = "1\r\n00:00:00,500 --> 00:00:01,500\r\n<i>Hello</i> 你好\r\n"
BAD = "1\r\n00:00:00,500 --> 00:00:01,500\r\nok\r\n\r\n2\r\n00:00:02,000 -> 00:00:03,000\r\nbad\r\n"


@pytest.fixture(scope="module")
def client(stack: Stack) -> ExportClient:
    return ExportClient(stack.api_url, stack.secret)


def _request() -> dict[str, Any]:
    return {
        "timeline": {"editorData": [
            {"id": "subs", "actions": [{"id": "c", "start": 0, "end": 2, "effectId": "captions",
                                         "data": {"src": "subs.srt", "fontSize": 16, "margin": 4,
                                                  "background": "transparent"}}]},
            {"id": "main", "actions": [{"id": "v", "start": 0, "end": 2, "effectId": "video",
                                         "data": {"src": "blue.mp4"}}]},
        ]},
        "output": {"width": 160, "height": 90, "fps": 10},
    }  # fmt: skip


def _lit_in_bottom_band(path: Path, at: float) -> int:
    """Near-white pixels in the bottom third of the 160x90 frame shown at `at` seconds."""
    rgb = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return sum(
        1
        for y in range(60, 90)
        for x in range(160)
        if sum(rgb[(y * 160 + x) * 3 : (y * 160 + x) * 3 + 3]) > 600
    )


def test_an_uploaded_srt_is_burnt_in(client: ExportClient, media_dir: Path, tmp_path: Path) -> None:
    subs = tmp_path / "subs.srt"
    subs.write_text(SRT, encoding="utf-8")
    clip = media.silent_clip(media_dir / "captions-blue.mp4", "blue", size="160x90", seconds=2.0)
    out = tmp_path / "captions.mp4"

    job = client.export_files(_request(), {"subs.srt": subs, "blue.mp4": clip}, out, timeout=300)

    assert job["status"] == "SUCCEEDED", job
    TIMINGS["captions export (python client)"] = "SUCCEEDED"
    assert _lit_in_bottom_band(out, 1.0) > 5  # white text on blue, during the cue
    assert _lit_in_bottom_band(out, 0.2) == 0 and _lit_in_bottom_band(out, 1.8) == 0  # not outside it
    assert media.close_to(media.pixel(out, 1.0, 80, 20), (0, 0, 255))  # nothing above the band


def test_a_malformed_srt_is_400_with_its_line(client: ExportClient, stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "subs.srt"
    bad.write_text(BAD, encoding="utf-8")
    uploaded = client.upload_files({"subs.srt": bad})
    request = _request()
    request["timeline"]["editorData"].pop()  # captions only: no clip to upload
    jobs_before = stack.job_count()

    with pytest.raises(ApiError) as refused:
        client.export({**request, "assets": uploaded})

    assert refused.value.status == 400
    body = refused.value.body
    assert body["code"] == "INVALID_CAPTIONS", body
    assert body["details"][0]["path"] == "timeline.editorData[0].actions[0].data.src"
    assert "line 6:" in body["error"], body
    assert stack.job_count() == jobs_before
