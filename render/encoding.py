"""Output encoder settings, shared by the compiler and the benchmark's plain encode.

Pure (stdlib only): the request model reads `Quality` and `OutputFormat` from here, and the API Lambda
ships it without ffmpeg.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

AUDIO_SAMPLE_RATE: Final = 48_000
AUDIO_CHANNEL_LAYOUT: Final = "stereo"

VIDEO_OUTPUT_OPTIONS: Final[dict[str, str]] = {
    "c:v": "libx264",
    "preset": "veryfast",
    "crf": "23",
    "pix_fmt": "yuv420p",
}
AUDIO_OUTPUT_OPTIONS: Final[dict[str, str]] = {
    "c:a": "aac",
    "b:a": "128k",
    "ar": str(AUDIO_SAMPLE_RATE),
    "ac": "2",
}
CONTAINER_OPTIONS: Final[dict[str, str]] = {"movflags": "+faststart", "f": "mp4"}
# Threads of each source's decoder. The encoder takes every core; a decoder's frame threads each hold
# frames of their own, so the default (one per core, and more) costs memory that grows with the cores
# and buys no speed: two keep a source ahead of the encoder.
DECODER_THREADS: Final = 2


class Quality(StrEnum):
    """`output.quality`: how much encoder effort an export buys (the picture size never changes)."""

    DRAFT = "draft"
    STANDARD = "standard"
    HIGH = "high"


class OutputFormat(StrEnum):
    """`output.format`: the file the export produces."""

    MP4 = "mp4"  # H.264 + AAC
    M4A = "m4a"  # AAC only: no picture is decoded, drawn or encoded

    @property
    def has_video(self) -> bool:
        return self is OutputFormat.MP4

    @property
    def content_type(self) -> str:
        return "video/mp4" if self is OutputFormat.MP4 else "audio/mp4"


@dataclass(frozen=True)
class QualitySettings:
    """What a quality changes over the standard settings above (empty: today's output, unchanged)."""

    video: Mapping[str, str] = field(default_factory=dict)  # over VIDEO_OUTPUT_OPTIONS
    audio: Mapping[str, str] = field(default_factory=dict)  # over AUDIO_OUTPUT_OPTIONS
    scaler: str | None = None  # swscale flags of every `scale` in the graph (None: the filter's default)


# The one table of qualities. Draft: x264's fastest preset (no B-frames, no CABAC, the cheapest motion
# search), a bilinear scaler and AAC's fast coder without its stereo and noise tools (M/S, intensity
# stereo, PNS, TNS): at ultrafast, ffmpeg's AAC encoder was about a fifth of the draft's CPU (2.3 of
# 11.5 s on the bench's `mixed`), and those tools most of it; what it loses is detail per bit, not size,
# frames or samples. High: a slower preset (better motion search and decisions) at a lower CRF.
# `make bench` prints each one's render time and its SSIM/PSNR against a lossless render of the same
# timeline.
QUALITY_SETTINGS: Final[Mapping[Quality, QualitySettings]] = {
    Quality.DRAFT: QualitySettings(
        video={"preset": "ultrafast", "crf": "32"},
        audio={"aac_coder": "fast", "aac_ms": "0", "aac_is": "0", "aac_pns": "0", "aac_tns": "0"},
        scaler="fast_bilinear",
    ),
    Quality.STANDARD: QualitySettings(),
    Quality.HIGH: QualitySettings(video={"preset": "medium", "crf": "19"}),
}


def video_options(quality: Quality = Quality.STANDARD) -> dict[str, str]:
    """The video encoder options of `quality`."""
    return {**VIDEO_OUTPUT_OPTIONS, **QUALITY_SETTINGS[quality].video}


def audio_options(quality: Quality = Quality.STANDARD) -> dict[str, str]:
    """The audio encoder options of `quality`."""
    return {**AUDIO_OUTPUT_OPTIONS, **QUALITY_SETTINGS[quality].audio}


def output_argv(quality: Quality = Quality.STANDARD) -> list[str]:
    """The encoder options as ffmpeg arguments (for the benchmark's plain encode)."""
    argv: list[str] = []
    for options in (video_options(quality), audio_options(quality), CONTAINER_OPTIONS):
        for key, value in options.items():
            argv += [f"-{key}", value]
    return argv


# What a fan-out chunk adds to VIDEO_OUTPUT_OPTIONS so chunks join by stream copy: an IDR frame first
# and no frame referring across it (x264's default, said here so no one changes it unnoticed).
CHUNK_VIDEO_OPTIONS: Final[dict[str, str]] = {"force_key_frames": "expr:eq(n,0)", "x264-params": "open-gop=0"}
