"""Quotes against the usage of real renders, posters, m4a exports and draft quality, through the local stack.

The cost model (`render.cost`) is calibrated by `make bench` on an otherwise idle 2-core machine; these
tests run beside whatever else the machine does, so a quote's render seconds and GB-seconds must lie within
a factor of QUOTE_TOLERANCE of what the job reports it used (a fanned-out one: at or above it, within
FANOUT_OVER_ESTIMATE); the structure (chunks, tasks) must match exactly.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e import media
from tests.e2e.conftest import showcase_request
from tests.e2e.stack import TIMINGS, Stack

QUOTE_TOLERANCE = 4.0  # estimate / usage within [1/4, 4]
# A fanned-out job of this size has 8 tasks, each charged the model's fixed start-up (render.cost:
# task_start_seconds, measured on the bench's 720p sources), while a task of these 320x180 clips starts in a
# fraction of it: the quote over-prices it (about 6x measured), and must never under-price it.
FANOUT_OVER_ESTIMATE = 8.0
FINAL_TIMEOUT = 600


def _quote(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    response = stack.post_json("/export/quote", body)
    assert response.status_code == 200, response.text
    quote: dict[str, Any] = response.json()
    return quote


def _export(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    response = stack.post_json("/export", body)
    assert response.status_code == 202, response.text
    final, _ = stack.wait_for_final(response.json()["jobId"], timeout=FINAL_TIMEOUT)
    assert final["status"] == "SUCCEEDED", final
    return final


def _get(url: str, target: Path) -> tuple[Path, str]:
    response = requests.get(url, timeout=120)
    assert response.status_code == 200, response.text
    target.write_bytes(response.content)
    return target, response.headers.get("Content-Type", "")


def _within(estimate: float, used: float) -> bool:
    return used / QUOTE_TOLERANCE <= estimate <= used * QUOTE_TOLERANCE


def _check_quote(name: str, quote: dict[str, Any], final: dict[str, Any]) -> None:
    usage, estimate = final["usage"], quote["estimate"]
    TIMINGS[f"quote vs usage ({name}): render s, GB-s, tasks"] = (
        f"{estimate['renderSeconds']:.2f} / {usage['renderSeconds']:.2f}, "
        f"{estimate['lambdaGbSeconds']:.1f} / {usage['lambdaGbSeconds']:.1f}, {usage['tasks']}"
    )
    for figure in ("renderSeconds", "lambdaGbSeconds"):
        if quote["chunks"] == 1:
            assert _within(estimate[figure], usage[figure]), (figure, quote, usage)
        else:
            assert usage[figure] <= estimate[figure] <= usage[figure] * FANOUT_OVER_ESTIMATE, (
                figure,
                quote,
                usage,
            )
    chunks = quote["chunks"]
    assert usage["tasks"] == (1 if chunks == 1 else chunks + 1)  # the chunks and the join
    assert abs(final["output"]["durationSeconds"] - quote["durationSeconds"]) <= 1 / quote["fps"] + 0.05
    assert (final["output"]["width"], final["output"]["height"]) == (quote["width"], quote["height"])


def test_the_quote_of_a_single_pass_is_close_to_its_usage(stack: Stack, uploaded: dict[str, str]) -> None:
    body = showcase_request(uploaded)
    quote = _quote(stack, body)
    assert (quote["chunks"], quote["frames"], quote["width"], quote["height"]) == (1, 60, 320, 180)
    _check_quote("single pass", quote, _export(stack, body))


def test_the_quote_of_a_fanned_out_export_names_its_chunks(stack: Stack, uploaded: dict[str, str]) -> None:
    config = stack.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["worker_function_name"]
    )
    threshold = float(config["Environment"]["Variables"]["FANOUT_THRESHOLD_SECONDS"])
    body = showcase_request(uploaded)
    body["timeline"]["editorData"].append(
        {"id": "long", "actions": [{"id": "bg", "start": 0, "end": threshold + 2, "effectId": "video",
                                    "data": {"src": "blue.mp4", "muted": True}}]}
    )  # fmt: skip
    quote = _quote(stack, body)
    assert quote["chunks"] > 1, quote
    final = _export(stack, body)
    _check_quote("fan-out", quote, final)


def test_the_poster_is_the_video_s_frame_at_its_time(
    stack: Stack, uploaded: dict[str, str], tmp_path: Path
) -> None:
    body = showcase_request(uploaded)
    body["output"]["poster"] = {"at": 2.5}  # the blue clip, the green logo in the corner
    final = _export(stack, body)
    assert final["posterKey"].endswith(".jpg") and final["posterKey"] != final["outputKey"]
    poster, content_type = _get(final["posterUrl"], tmp_path / "poster.jpg")
    video, _ = _get(final["downloadUrl"], tmp_path / "out.mp4")
    assert content_type == "image/jpeg" and poster.read_bytes()[:2] == b"\xff\xd8"
    (picture,) = media.probe(poster)["streams"]
    assert (picture["width"], picture["height"]) == (320, 180)
    for x, y in ((160, 90), (20, 20), (300, 20)):
        frame = media.pixel(video, 2.5, x, y)
        assert media.close_to(media.pixel(poster, 0, x, y), frame, tolerance=16), (x, y, frame)
    assert media.close_to(media.pixel(poster, 0, 160, 90), (0, 0, 255))
    assert media.close_to(media.pixel(poster, 0, 20, 20), (0, 255, 0))


def test_a_poster_outside_the_output_is_refused_at_post(stack: Stack, uploaded: dict[str, str]) -> None:
    body = showcase_request(uploaded)
    body["output"]["poster"] = {"at": 4.0}  # the output is 4 s: its last frame starts before
    for path in ("/export", "/export/quote"):
        response = stack.post_json(path, body)
        assert response.status_code == 400, response.text
        assert response.json()["details"][0]["path"] == "output.poster.at"


def test_an_m4a_export_has_no_video_stream(stack: Stack, uploaded: dict[str, str], tmp_path: Path) -> None:
    body = showcase_request(uploaded)
    body["output"]["format"] = "m4a"
    final = _export(stack, body)
    assert final["outputKey"].endswith(".m4a")
    audio, content_type = _get(final["downloadUrl"], tmp_path / "out.m4a")
    assert content_type == "audio/mp4"
    streams = media.probe(audio)["streams"]
    assert [s["codec_type"] for s in streams] == ["audio"] and streams[0]["codec_name"] == "aac"
    assert abs(float(media.probe(audio)["format"]["duration"]) - 4.0) < 0.1
    assert media.mean_volume_db(audio, 0.2, 1.5) > -40  # the red clip's tone and the music
    assert final["usage"]["tasks"] == 1


@pytest.mark.parametrize("size", [(320, 180)])
def test_draft_and_standard_both_render_the_same_picture_size(
    stack: Stack, uploaded: dict[str, str], tmp_path: Path, size: tuple[int, int]
) -> None:
    finals = {}
    for quality in ("standard", "draft"):
        body = showcase_request(uploaded)
        body["output"] |= {"quality": quality, "width": size[0], "height": size[1]}
        finals[quality] = _export(stack, body)
    for quality, final in finals.items():
        path, _ = _get(final["downloadUrl"], tmp_path / f"{quality}.mp4")
        video = next(s for s in media.probe(path)["streams"] if s["codec_type"] == "video")
        assert (video["width"], video["height"]) == size
        frames = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
             "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        assert int(frames) == 60
        assert media.close_to(media.pixel(path, 3.5, 160, 90), (0, 0, 255))
    usage = {q: f["usage"]["renderSeconds"] for q, f in finals.items()}
    TIMINGS["draft / standard render seconds (4 s at 320x180; start-up dominates)"] = (
        f"{usage['draft']:.2f} / {usage['standard']:.2f}"
    )
