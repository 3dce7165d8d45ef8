"""The whole export as a Base44 client does it: presign, upload, export, poll, download, verify."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import requests

from tests.e2e import media
from tests.e2e.conftest import showcase_request
from tests.e2e.stack import REPO_ROOT, TIMINGS, Stack

RED, BLUE, LIME = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def _check_showcase_output(path: Path) -> None:
    """The file shows what the timeline says, frame by frame and in the audio."""
    info = media.probe(path)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert audio["codec_name"] == "aac"
    assert (int(video["width"]), int(video["height"])) == (media.WIDTH, media.HEIGHT)
    assert video["avg_frame_rate"] in ("15/1", "15")
    assert abs(float(info["format"]["duration"]) - 4.0) <= 1 / media.FPS + 0.05

    center = (media.WIDTH // 2, media.HEIGHT // 2)
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


def test_full_export_signed_by_node(
    stack: Stack, source_files: dict[str, Path], uploaded: dict[str, str], downloads: Path
) -> None:
    """The same export, every call signed by Node's crypto.createHmac as a Base44 backend does.

    Node presigns and uploads the files itself; its fresh s3Keys replace the ones in the request.
    """
    body = downloads / "node-request.json"
    body.write_text(json.dumps(showcase_request(uploaded)))
    target = downloads / "node-output.mp4"
    files = [f"{src}={path}" for src, path in source_files.items()]
    started = time.perf_counter()
    result = subprocess.run(
        ["node", str(REPO_ROOT / "scripts" / "node" / "export-client.mjs"), "export", str(body), str(target),
         *files],
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "EXPORT_API_URL": stack.api_url,
             "EXPORT_SIGNING_SECRET": stack.secret},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    TIMINGS["full export (node), request → downloaded"] = f"{time.perf_counter() - started:.2f} s"
    _check_showcase_output(target)
