"""Audio measurements of rendered files, shared by the unit and end-to-end tests.

`tone` tells mixed sources apart by frequency (one Goertzel bin), so a test can check that each
source plays where it should even where several play at once.
"""

from __future__ import annotations

import math
import struct
import subprocess
from pathlib import Path

RATE = 48_000


def samples(path: Path, start: float, duration: float) -> tuple[float, ...]:
    """The mono-mixed audio in [start, start + duration) at 48 kHz."""
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", f"{start}", "-t", f"{duration}", "-i", str(path),
         "-vn", "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    )  # fmt: skip
    count = len(proc.stdout) // 4
    return struct.unpack(f"<{count}f", proc.stdout[: count * 4])


def rms(path: Path, start: float, duration: float) -> float:
    """Root mean square of the (mono-mixed) audio in [start, start + duration)."""
    values = samples(path, start, duration)
    return math.sqrt(sum(s * s for s in values) / len(values)) if values else 0.0


def tone(path: Path, start: float, duration: float, frequency: float) -> float:
    """Amplitude of one frequency in [start, start + duration): a sine of amplitude A reads about A."""
    values = samples(path, start, duration)
    step = 2 * math.pi * frequency / RATE
    re = sum(s * math.cos(step * i) for i, s in enumerate(values))
    im = sum(s * math.sin(step * i) for i, s in enumerate(values))
    return 2 * math.hypot(re, im) / max(1, len(values))
