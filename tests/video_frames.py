"""Small media made with ffmpeg's lavfi sources, and frame counts, shared by unit, e2e and bench code."""

from __future__ import annotations

import subprocess
from pathlib import Path


def lavfi_clip(path: Path, video: str, *, seconds: float, frequency: int = 440) -> Path:
    """An H.264 + AAC mp4 of a lavfi video source with a sine tone, as a browser upload would be."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-v", "error", "-y",
         "-f", "lavfi", "-i", video,
         "-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
         str(path)],
        check=True,
    )  # fmt: skip
    return path


def frame_count(path: Path) -> int:
    """Video frames actually decoded (not the container's claim)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return int(out.strip())
