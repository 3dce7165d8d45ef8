"""Output encoder settings, shared by the compiler and the benchmark's plain encode."""

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


def output_argv() -> list[str]:
    """The encoder options as ffmpeg arguments (for the benchmark's plain encode)."""
    argv: list[str] = []
    for options in (VIDEO_OUTPUT_OPTIONS, AUDIO_OUTPUT_OPTIONS, CONTAINER_OPTIONS):
        for key, value in options.items():
            argv += [f"-{key}", value]
    return argv


# What a fan-out chunk adds to VIDEO_OUTPUT_OPTIONS so chunks join by stream copy: an IDR frame first
# and no frame referring across it (x264's default, said here so no one changes it unnoticed).
CHUNK_VIDEO_OPTIONS: Final[dict[str, str]] = {"force_key_frames": "expr:eq(n,0)", "x264-params": "open-gop=0"}
