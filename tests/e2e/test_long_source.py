"""A short export cut from a long source, fanned out through the local stack: each task reads only the
bytes its window renders (ranged GETs into a sparse file), counted by the task itself and stored on
its record, and the result matches a single pass over the whole file."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from render.model import ExportRequest
from render.pipeline import render_export
from tests.e2e.conftest import presign_and_upload
from tests.e2e.stack import TIMINGS, Stack
from tests.e2e.test_fanout import (
    FINAL_TIMEOUT,
    FPS,
    _download,
    _gray_frames,
    _mean_abs_diff,
    _request,
    _submit,
    _windows,
)
from tests.video_frames import frame_count

SOURCE_SECONDS = 240  # long beside the cut, small in bytes (320x180): the ratio is what counts


def _long_source(path: Path) -> Path:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s=320x180:r=25:d={SOURCE_SECONDS}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SOURCE_SECONDS}",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "800k", "-g", "50", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-movflags", "+faststart", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_a_cut_of_a_long_source_reads_only_its_windows(
    stack: Stack, fanout_settings: dict[str, float], seconds: float, tmp_path: Path
) -> None:
    # Given a 4-minute source and a timeline of three cuts from far apart in it
    source = _long_source(tmp_path / "long.mp4")
    size = source.stat().st_size
    keys = presign_and_upload(stack, {"long.mp4": source})
    part = seconds / 3
    actions: list[dict[str, Any]] = [
        {"id": f"cut-{i}", "start": i * part, "end": (i + 1) * part, "effectId": "video",
         "data": {"src": "long.mp4", "trimStart": trim}}
        for i, trim in enumerate((20.3, 110.0, 200.7))
    ]  # fmt: skip
    request = _request([], keys)
    request["timeline"]["editorData"] = [{"id": "main", "actions": actions}]
    windows = _windows(request, fanout_settings)
    assert len(windows) >= 4

    # When it is exported through the stack
    started = time.monotonic()
    job_id = _submit(stack, request)
    final, _ = stack.wait_for_final(job_id, timeout=FINAL_TIMEOUT, poll_interval=1)
    assert final["status"] == "SUCCEEDED", final
    TIMINGS[f"long-source export of {seconds:.0f} s in {len(windows)} chunks"] = (
        f"{time.monotonic() - started:.1f} s"
    )

    # Then every task counted its reads, and together they read far less than a whole source each
    records = stack.task_records(job_id)
    assert len(records) == len(windows)
    read = {name: int(r["bytesRead"]) for name, r in records.items()}
    needed = {name: int(r["bytesNeeded"]) for name, r in records.items()}
    tasks = len(records)
    TIMINGS["long-source export: bytes read by all tasks / tasks x source size"] = (
        f"{sum(read.values()) / 1e6:.1f} MB / {tasks * size / 1e6:.1f} MB; "
        f"read / needed {sum(read.values()) / sum(needed.values()):.2f}"
    )
    assert all(read[name] < size / 4 for name in read), read
    assert sum(read.values()) < 0.1 * tasks * size, (read, size)
    # a chunk reads its window's packets, from the keyframe before, and the index: at this small size
    # the index and the keyframe interval weigh more than at 1080p (make bench-fanout: the long-source case)
    assert sum(read.values()) <= 2.5 * sum(needed.values()), (read, needed)

    # and its frames match a single pass over the whole file
    fanned = _download(stack, job_id, tmp_path / "fanned.mp4")
    assets = tmp_path / "assets"
    (assets / keys["long.mp4"]).parent.mkdir(parents=True)
    shutil.copy(source, assets / keys["long.mp4"])
    single = tmp_path / "single.mp4"
    render_export(ExportRequest.model_validate(request), assets, single)
    assert frame_count(fanned) == frame_count(single) == round(seconds * FPS)
    boundaries = [w.start_frame for w in windows[1:]] + [round(part * FPS), round(2 * part * FPS)]
    indices = sorted({i for b in boundaries for i in (b - 1, b)})
    for index, a, b in zip(
        indices, _gray_frames(fanned, indices), _gray_frames(single, indices), strict=True
    ):
        assert _mean_abs_diff(a, b) <= 2.0, f"frame {index} differs from the single pass"
