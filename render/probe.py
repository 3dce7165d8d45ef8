"""Media facts from ffprobe: what the planner needs to know about each source."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from render.confinement import ALLOWED_DEMUXERS, DEMUXER_ALLOW_LIST, tool_environment
from render.errors import InvalidMediaError
from render.isobmff import read_layout

# How far before its stated end a file's last packet may stop (track lengths differ a little; priming).
_TRUNCATION_SLACK_SECONDS = 1.0
_TRUNCATION_SLACK_SHARE = 0.02
# The tail read to find where the data really ends.
_TAIL_SECONDS = 3.0

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
    """Probe one uploaded file; InvalidMediaError when ffprobe cannot read it or it was cut short."""
    argv = [
        ffprobe,
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        DEMUXER_ALLOW_LIST,
        "-show_format",
        "-show_streams",
        "-of",
        "json",
        f"file:{path}",
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, env=tool_environment())
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
    if info.duration:
        _check_complete(path, data.get("format") or {}, info.duration, ffprobe=ffprobe, timeout=timeout)
    return info


def _float(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def data_end(packet_csv: str) -> float | None:
    """The end of the last packet in ffprobe's `pts_time,duration_time` lines (pure, tested on output)."""
    ends = []
    for line in packet_csv.splitlines():
        pts, _, duration = line.partition(",")
        at = _float(pts)
        if at is not None:
            ends.append(at + (_float(duration.strip(",")) or 0.0))
    return max(ends, default=None)


def _check_complete(
    path: Path, fmt: dict[str, Any], duration: float, *, ffprobe: str, timeout: float
) -> None:
    """INVALID_MEDIA when the file was cut short: its media data stops before the length it states.

    A file cut short in transfer (a faststart mp4 keeps its whole index up front) probes as the full
    length and would render as a picture that stops, then black. An mp4/mov says so in its box
    headers, read here without a process; for other files, or an mp4 its headers cannot vouch for (a
    fragmented one), reading the packets of the last few seconds tells where the data really ends.
    """
    if "mov" in str(fmt.get("format_name", "")).split(","):
        layout = read_layout(path)
        if layout is not None and layout.truncated:
            raise InvalidMediaError(
                f"the file is truncated: it lacks the last {layout.missing_bytes} bytes of its "
                f"'{layout.boxes[-1]}' box (was the upload cut short?)"
            )
        if layout is not None and layout.whole_movie:
            return
    start = _float(fmt.get("start_time")) or 0.0
    # Named, not detected: the demuxer the first probe chose under the allow-list. (ffprobe 7.1 reads no
    # packet after a -read_intervals seek when -format_whitelist is given, even with -f, so the list is
    # enforced by naming the demuxer it already admitted.)
    demuxer = str(fmt.get("format_name", "")).split(",")[0]
    if demuxer not in ALLOWED_DEMUXERS:
        raise InvalidMediaError(f"the file's format {demuxer!r} is not accepted")
    argv = [
        ffprobe, "-v", "error", "-protocol_whitelist", "file", "-f", demuxer,
        "-read_intervals", f"{max(0.0, start + duration - _TAIL_SECONDS):.3f}%",
        "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", f"file:{path}",
    ]  # fmt: skip
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, env=tool_environment())
    except subprocess.TimeoutExpired as exc:
        raise InvalidMediaError("probing the media timed out") from exc
    end = data_end(proc.stdout.decode(errors="replace"))
    stated = start + duration
    if end is None or end < stated - max(_TRUNCATION_SLACK_SECONDS, _TRUNCATION_SLACK_SHARE * duration):
        where = "no media data near its end" if end is None else f"media data only up to {end - start:.1f} s"
        raise InvalidMediaError(
            f"the file is truncated or corrupt: it says it lasts {duration:.1f} s but has {where} "
            "(was the upload cut short?)",
            stderr_tail=proc.stderr.decode(errors="replace")[-2000:],
        )
