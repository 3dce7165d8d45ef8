"""A client polling a longer render sees it queued, then running with rising progress, then done."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e import media
from tests.e2e.conftest import presign_and_upload
from tests.e2e.stack import TIMINGS, Stack

SEGMENTS = 5  # five 6-second pieces of a noisy clip: 30 s of 640x360 at 30 fps, seconds of encoding


def test_progress_rises_while_a_job_runs(stack: Stack, media_dir: Path) -> None:
    keys = presign_and_upload(stack, {"busy.mp4": media.busy_clip(media_dir / "busy.mp4")})
    actions = [
        {"id": f"part-{i}", "start": i * 6, "end": (i + 1) * 6, "effectId": "video",
         "data": {"src": "busy.mp4", "trimStart": 0}}
        for i in range(SEGMENTS)
    ]  # fmt: skip
    request = {
        "timeline": {"editorData": [{"id": "main", "actions": actions}]},
        "assets": [{"src": "busy.mp4", "s3Key": keys["busy.mp4"]}],
        "output": {"width": 640, "height": 360, "fps": 30},
    }
    started = time.perf_counter()
    response = stack.post_json("/export", request)
    assert response.status_code == 202, response.text
    final, seen = stack.wait_for_final(response.json()["jobId"], poll_interval=0.1)
    assert final["status"] == "SUCCEEDED", final
    TIMINGS["30 s 640x360 export, accepted → SUCCEEDED"] = f"{time.perf_counter() - started:.2f} s"

    states = list(dict.fromkeys(s["status"] for s in seen))
    assert states[-2:] == ["RUNNING", "SUCCEEDED"], states
    progress = [s["progress"] for s in seen if s["status"] == "RUNNING" and "progress" in s]
    assert progress == sorted(progress), progress
    assert all(0 <= value <= 1 for value in progress)
    rising = sorted(set(progress))
    assert len(rising) >= 2 and rising[-1] > rising[0], f"progress did not rise while running: {progress}"
    TIMINGS["  progress values seen while running"] = ", ".join(f"{v:.2f}" for v in rising)
    assert abs(final["output"]["durationSeconds"] - 6 * SEGMENTS) < 0.1
