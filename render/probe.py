"""Media facts from ffprobe: what the planner needs to know about each source."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from render.errors import InvalidMediaError

_IMAGE_CODECS = {"png", "mjpeg", "jpeg2000", "webp", "bmp", "gif", "tiff"}
_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif"}


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None  # None for still images
    has_video: bool
    has_audio: bool
    width: int = 0  # as displayed (after rotation)
    height: int = 0
    fps: float | None = None
    rotation: int = 0
    sample_rate: int | None = None
    is_still: bool = False


def _rate(text: str | None) -> float | None:
    if not text or "/" not in text:
        return None
    num, den = text.split("/", 1)
    try:
        value = float(num) / float(den)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return round(float(side["rotation"])) % 360
    rotate = (stream.get("tags") or {}).get("rotate")
    return int(rotate) % 360 if rotate else 0


def parse_probe(data: dict[str, Any]) -> MediaInfo:
    """Turn ffprobe's JSON into MediaInfo (pure, tested on recorded output)."""
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration: float | None = None
    for text in (fmt.get("duration"), (video or {}).get("duration"), (audio or {}).get("duration")):
        try:
            duration = float(text) if text not in (None, "N/A") else None
        except (TypeError, ValueError):
            duration = None
        if duration:
            break
    format_names = set(str(fmt.get("format_name", "")).split(","))
    is_still = bool(
        video is not None
        and audio is None
        and (format_names & _IMAGE_FORMATS or (video.get("codec_name") in _IMAGE_CODECS and not duration))
        and int(video.get("nb_frames") or 1) <= 1
    )
    width = height = 0
    rotation = 0
    if video is not None:
        width, height = int(video.get("width") or 0), int(video.get("height") or 0)
        rotation = _rotation(video)
        if rotation in (90, 270):
            width, height = height, width
    return MediaInfo(
        duration=None if is_still else duration,
        has_video=video is not None and width > 0 and height > 0,
        has_audio=audio is not None,
        width=width,
        height=height,
        fps=_rate((video or {}).get("avg_frame_rate")) or _rate((video or {}).get("r_frame_rate")),
        rotation=rotation,
        sample_rate=int(audio["sample_rate"]) if audio and audio.get("sample_rate") else None,
        is_still=is_still,
    )


def probe(path: Path, *, ffprobe: str = "ffprobe", timeout: float = 60) -> MediaInfo:
    """Probe one local file; InvalidMediaError when ffprobe cannot read it."""
    argv = [
        ffprobe,
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-show_format",
        "-show_streams",
        "-of",
        "json",
        f"file:{path}",
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise InvalidMediaError("probing the media timed out") from exc
    if proc.returncode != 0:
        raise InvalidMediaError(
            "the file is not a readable media file", stderr_tail=proc.stderr.decode(errors="replace")[-2000:]
        )
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise InvalidMediaError("the file is not a readable media file") from exc
    info = parse_probe(data)
    if not info.has_video and not info.has_audio:
        raise InvalidMediaError("the file has no audio or video stream")
    return info
