"""The whole export as a Base44 client does it: presign, upload, export, poll, download, verify."""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests

from render.limits import DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from tests.e2e import media
from tests.e2e.conftest import CONTENT_TYPES, showcase_request
from tests.e2e.stack import TIMINGS, Stack

RED, BLUE, LIME = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def _check_showcase_output(
    path: Path, width: int = media.WIDTH, height: int = media.HEIGHT, fps: int = media.FPS
) -> None:
    """The file shows what the timeline says, frame by frame and in the audio."""
    info = media.probe(path)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert audio["codec_name"] == "aac"
    assert (int(video["width"]), int(video["height"])) == (width, height)
    assert video["avg_frame_rate"] in (f"{fps}/1", f"{fps}")
    assert abs(float(info["format"]["duration"]) - 4.0) <= 1 / fps + 0.05

    center = (width // 2, height // 2)
    assert media.close_to(media.pixel(path, 0.5, *center), RED)
    assert media.close_to(media.pixel(path, 3.5, *center), BLUE)
    # the logo covers the top-left corner only from 1 s to 3 s, above the clips
    assert media.close_to(media.pixel(path, 0.5, 20, 20), RED)
    assert media.close_to(media.pixel(path, 2.0, 20, 20), LIME)
    assert media.close_to(media.pixel(path, 2.5, 20, 20), BLUE) is False
    assert media.close_to(media.pixel(path, 3.5, 20, 20), BLUE)
    # the red clip's tone and the music play early; after 3 s the blue clip is muted and the music over
    assert media.mean_volume_db(path, 0.2, 1.5) > -40
    assert media.mean_volume_db(path, 3.2, 0.7) < -60


def test_full_export_with_python_signing(stack: Stack, uploaded: dict[str, str], downloads: Path) -> None:
    started = time.perf_counter()
    response = stack.post_json("/export", showcase_request(uploaded))
    assert response.status_code == 202, response.text
    job_id = response.json()["jobId"]
    assert response.json()["status"] == "QUEUED"

    final, seen = stack.wait_for_final(job_id)
    assert final["status"] == "SUCCEEDED", final
    states = [s["status"] for s in seen]
    assert states[-1] == "SUCCEEDED"
    assert set(states) <= {"QUEUED", "RUNNING", "SUCCEEDED"}
    progress = [s["progress"] for s in seen if s["status"] == "RUNNING" and "progress" in s]
    assert progress == sorted(progress), "progress must never go backwards"
    TIMINGS["full export (python), accepted → SUCCEEDED"] = f"{time.perf_counter() - started:.2f} s"
    TIMINGS["  states seen while polling"] = " → ".join(dict.fromkeys(states))

    output = final["output"]
    assert output["width"] == media.WIDTH and output["height"] == media.HEIGHT
    assert abs(output["durationSeconds"] - 4.0) < 0.2
    target = downloads / f"{job_id}.mp4"
    target.write_bytes(requests.get(final["downloadUrl"], timeout=60).content)
    assert target.stat().st_size == output["sizeBytes"]
    _check_showcase_output(target)


def test_full_export_through_the_node_client(
    stack: Stack, source_files: dict[str, Path], downloads: Path
) -> None:
    """The same timeline through `exportVideo` of clients/node, the module a Base44 backend function imports.

    `clients/node/cli.mjs export` reads the files from disk, and exportVideo presigns, uploads them in
    parallel, starts the export, polls and returns the job; every call signed by the module. The original
    client's signature sends only the timeline and the assets, so the output has the API's default settings.
    """
    timeline = showcase_request({})["timeline"]
    job_file = downloads / "node-job.json"
    assets = [
        {"src": src, "path": str(path), "contentType": CONTENT_TYPES[path.suffix], "ext": path.suffix}
        for src, path in source_files.items()
    ]
    job_file.write_text(json.dumps({"timeline": timeline, "assets": assets}))
    target = downloads / "node-output.mp4"
    started = time.perf_counter()
    final, progress = stack.node_export(job_file, target)
    TIMINGS["full export (node client), files → downloaded"] = f"{time.perf_counter() - started:.2f} s"
    assert final["status"] == "SUCCEEDED", final
    assert f"job {final['jobId']} SUCCEEDED" in progress, "exportVideo passes onProgress through"
    output = final["output"]
    assert (output["width"], output["height"]) == (DEFAULT_WIDTH, DEFAULT_HEIGHT)
    assert target.stat().st_size == output["sizeBytes"]
    _check_showcase_output(target, DEFAULT_WIDTH, DEFAULT_HEIGHT, int(DEFAULT_FPS))
