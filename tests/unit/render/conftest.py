"""Tiny media made with ffmpeg's lavfi sources, and helpers to look inside rendered files."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from render.model import ExportRequest
from render.pipeline import RenderResult, render_export
from tests import audio_levels

W, H, FPS = 160, 90, 10


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", *args], check=True)


def _rotate_90(path: Path) -> None:
    """Write a 90° display matrix into the mp4's track header (ffmpeg 5.1 cannot set one)."""
    data = bytearray(path.read_bytes())
    tkhd = data.index(b"tkhd")
    assert data[tkhd + 4] == 0, "expected a version 0 tkhd"
    matrix = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    data[tkhd + 44 : tkhd + 80] = matrix
    path.write_bytes(bytes(data))


# name -> ffmpeg arguments producing assets/<name>
_MEDIA: dict[str, list[str]] = {
    # solid colours, no audio, 10 fps
    "red.mp4": ["-f", "lavfi", "-i", f"color=red:s={W}x{H}:r=10:d=3", "-pix_fmt", "yuv420p"],
    "blue.mp4": ["-f", "lavfi", "-i", f"color=blue:s={W}x{H}:r=10:d=3", "-pix_fmt", "yuv420p"],
    # 1 s red then 1 s blue, for trims and speed
    "redblue.mp4": [
        "-f",
        "lavfi",
        "-i",
        f"color=red:s={W}x{H}:r=10:d=1",
        "-f",
        "lavfi",
        "-i",
        f"color=blue:s={W}x{H}:r=10:d=1",
        "-filter_complex",
        "[0:v][1:v]concat=n=2:v=1:a=0",
        "-pix_fmt",
        "yuv420p",
    ],
    # green with a 440 Hz tone, other size, fps and sample rate
    "green_tone.mp4": [
        "-f",
        "lavfi",
        "-i",
        "color=lime:s=320x240:r=25:d=2",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:r=44100:d=2",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
    ],
    # testsrc at 15 fps, odd size, variable frame rate (frames dropped irregularly)
    "testsrc_vfr.mp4": [
        "-f",
        "lavfi",
        "-i",
        "testsrc=s=200x150:r=15:d=2",
        "-vf",
        "select='not(mod(n\\,3))+eq(n\\,4)'",
        "-fps_mode",
        "vfr",
        "-pix_fmt",
        "yuv420p",
    ],
    # a landscape clip given a 90° display matrix below: it displays as portrait
    "rotated.mp4": [
        "-f",
        "lavfi",
        "-i",
        f"color=magenta:s={W}x{H}:r=10:d=2",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
    ],
    "tone.wav": ["-f", "lavfi", "-i", "sine=f=1000:r=22050:d=3"],
    "tone.mp3": ["-f", "lavfi", "-i", "sine=f=1000:r=44100:d=3", "-c:a", "libmp3lame"],  # states its length
    # Melies media. 2 s red with a 440 Hz tone, then 2 s blue with a 1000 Hz tone: where a clip and its
    # linked audio are in the source shows in both the picture and the pitch.
    "redblue_tones.mp4": [
        "-f",
        "lavfi",
        "-i",
        f"color=red:s={W}x{H}:r=10:d=2",
        "-f",
        "lavfi",
        "-i",
        f"color=blue:s={W}x{H}:r=10:d=2",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:r=48000:d=2",
        "-f",
        "lavfi",
        "-i",
        "sine=f=1000:r=48000:d=2",
        "-filter_complex",
        "[0:v][1:v]concat=n=2:v=1:a=0[v];[2:a][3:a]concat=n=2:v=0:a=1[a]",
        "-map",
        "[v]",
        "-map",
        "[a]",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
    ],
    # a 4:3 screen recording: yellow, no audio stream
    "yellow_4x3.mp4": ["-f", "lavfi", "-i", "color=yellow:s=120x90:r=10:d=3", "-pix_fmt", "yuv420p"],
    # 1.5 s of music: 0.75 s at 600 Hz, then 0.75 s at 1500 Hz (shows where a loop is in its source)
    "music.wav": [
        "-f",
        "lavfi",
        "-i",
        "sine=f=600:r=48000:d=0.75",
        "-f",
        "lavfi",
        "-i",
        "sine=f=1500:r=48000:d=0.75",
        "-filter_complex",
        "[0:a][1:a]concat=n=2:v=0:a=1",
    ],
    "logo.png": ["-f", "lavfi", "-i", "color=yellow:s=40x40", "-frames:v", "1"],
}


def _size(path: Path) -> tuple[int, int]:
    video = next(s for s in Media.probe(path)["streams"] if s["codec_type"] == "video")
    return int(video["width"]), int(video["height"])


@dataclass(frozen=True)
class Frame:
    width: int
    rgb: bytes

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        offset = (y * self.width + x) * 3
        r, g, b = self.rgb[offset : offset + 3]
        return r, g, b


@dataclass
class Media:
    """The assets directory and helpers to build requests and inspect outputs."""

    root: Path

    def request(self, rows: list[list[dict[str, Any]]], **output: Any) -> ExportRequest:
        """A request whose rows hold the given actions (first row on top), listing every asset."""
        body = {
            "timeline": {"editorData": [{"id": f"row{i}", "actions": row} for i, row in enumerate(rows)]},
            "assets": [{"src": name, "s3Key": f"assets/{name}"} for name in _MEDIA],
            "output": {"width": W, "height": H, "fps": FPS, **output},
        }
        return ExportRequest.model_validate(body)

    def render(self, request: ExportRequest, out: Path, **kwargs: Any) -> RenderResult:
        return render_export(request, self.root, out, **kwargs)

    @staticmethod
    def probe(path: Path) -> dict[str, Any]:
        proc = subprocess.run(
            ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
            capture_output=True,
            check=True,
        )
        data: dict[str, Any] = json.loads(proc.stdout)
        return data

    @staticmethod
    def frame(path: Path, t: float) -> Frame:
        """The frame shown at time t, as RGB bytes."""
        width, height = _size(path)
        proc = subprocess.run(
            ["ffmpeg", "-v", "error", "-ss", f"{t}", "-i", str(path), "-frames:v", "1",
             "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            capture_output=True,
            check=True,
        )  # fmt: skip
        assert len(proc.stdout) == width * height * 3, f"no frame at {t} s"
        return Frame(width, proc.stdout)

    @staticmethod
    def frames(path: Path) -> list[Frame]:
        """Every frame of the file, as RGB bytes."""
        width, height = _size(path)
        raw = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            capture_output=True,
            check=True,
        ).stdout
        size = width * height * 3
        return [Frame(width, raw[i : i + size]) for i in range(0, len(raw), size)]

    @staticmethod
    def pixel(path: Path, t: float, x: int, y: int) -> tuple[int, int, int]:
        return Media.frame(path, t).pixel(x, y)

    tone = staticmethod(audio_levels.tone)
    samples = staticmethod(audio_levels.samples)
    rms = staticmethod(audio_levels.rms)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    root = tmp_path_factory.mktemp("render-media")
    (root / "assets").mkdir()
    for name, args in _MEDIA.items():
        _ffmpeg(*args, str(root / "assets" / name))
    _rotate_90(root / "assets" / "rotated.mp4")
    return Media(root)


def near(color: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, expected, strict=True))


@pytest.fixture
def is_near() -> Callable[..., bool]:
    return near
