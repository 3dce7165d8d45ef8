"""Media made with ffmpeg's lavfi sources, and checks of a rendered file with ffprobe and frame samples."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

WIDTH, HEIGHT, FPS = 320, 180, 15


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def _clip_with_tone(path: Path, video: str, frequency: int, seconds: float) -> Path:
    _ffmpeg(
        "-f", "lavfi", "-i", video,
        "-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=48000:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
        str(path),
    )  # fmt: skip
    return path


def solid_clip_with_tone(path: Path, color: str, frequency: int, seconds: float = 3.0) -> Path:
    """A clip of one colour with a sine tone: easy to recognise in frames and audio."""
    return _clip_with_tone(path, f"color=c={color}:s=640x360:r=25:d={seconds}", frequency, seconds)


def still_image(path: Path, color: str) -> Path:
    _ffmpeg("-f", "lavfi", "-i", f"color=c={color}:s=200x200", "-frames:v", "1", str(path))
    return path


def music_track(path: Path, seconds: float = 6.0) -> Path:
    _ffmpeg(
        "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=48000:duration={seconds}",
        "-c:a", "libmp3lame", "-b:a", "96k", str(path),
    )  # fmt: skip
    return path


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        check=True,
        capture_output=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def pixel(path: Path, at_seconds: float, x: int, y: int) -> tuple[int, int, int]:
    """The RGB colour of one pixel of the frame shown at a time."""
    raw = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-ss", f"{at_seconds}", "-i", str(path),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout  # fmt: skip
    stream = next(s for s in probe(path)["streams"] if s["codec_type"] == "video")
    offset = (y * int(stream["width"]) + x) * 3
    return raw[offset], raw[offset + 1], raw[offset + 2]


def mean_volume_db(path: Path, start: float, duration: float) -> float:
    """Mean audio level of a window; about -91 dB is digital silence."""
    err = subprocess.run(
        ["ffmpeg", "-hide_banner", "-ss", f"{start}", "-t", f"{duration}", "-i", str(path),
         "-vn", "-af", "volumedetect", "-f", "null", "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stderr  # fmt: skip
    for line in err.splitlines():
        if "mean_volume:" in line:
            return float(line.split("mean_volume:")[1].split("dB")[0])
    raise AssertionError("volumedetect printed no mean volume")


def close_to(actual: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 48) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def busy_clip(path: Path, seconds: float = 6.0) -> Path:
    """A clip full of moving noise: expensive to encode, so a render of it takes visible time."""
    return _clip_with_tone(path, f"testsrc2=s=640x360:r=30:d={seconds},noise=alls=60:allf=t", 330, seconds)


def two_tone_clip(path: Path) -> Path:
    """2 s red at 440 Hz, then 2 s blue at 1000 Hz: a clip's place in its source shows in colour and pitch."""
    _ffmpeg(
        "-f", "lavfi", "-i", "color=c=red:s=640x360:r=25:d=2",
        "-f", "lavfi", "-i", "color=c=blue:s=640x360:r=25:d=2",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:duration=2",
        "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v];[2:a][3:a]concat=n=2:v=0:a=1[a]",
        "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-movflags", "+faststart", str(path),
    )  # fmt: skip
    return path


def silent_clip(path: Path, color: str, size: str = "480x360", seconds: float = 3.0) -> Path:
    """A clip without an audio stream, as screen recorders make them (480x360: 4:3)."""
    _ffmpeg(
        "-f", "lavfi", "-i", f"color=c={color}:s={size}:r=25:d={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path),
    )  # fmt: skip
    return path


def two_tone_music(path: Path) -> Path:
    """1.5 s of music: 0.75 s at 600 Hz, then 0.75 s at 1500 Hz (shows where a loop is in its source)."""
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=600:sample_rate=48000:duration=0.75",
        "-f", "lavfi", "-i", "sine=frequency=1500:sample_rate=48000:duration=0.75",
        "-filter_complex", "[0:a][1:a]concat=n=2:v=0:a=1", "-c:a", "libmp3lame", "-b:a", "128k", str(path),
    )  # fmt: skip
    return path
