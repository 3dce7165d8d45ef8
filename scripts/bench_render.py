#!/usr/bin/env python3
"""Render benchmark: a realistic 60 s 720p timeline vs a plain encode of a 60 s 720p source.

Both sides use the same encoder settings (`render.encoding`). Prints each wall time, the ratio
(render / plain encode; target <= 1.25) and the peak memory (max RSS of ffmpeg and of Python).
Each side runs in a fresh child process so its peak memory is its own.

    .venv/bin/python scripts/bench_render.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from render.encoding import output_argv
from render.model import ExportRequest
from render.pipeline import render_export

TARGET_RATIO = 1.25
DURATION = 60

SOURCES: dict[str, list[str]] = {
    "clip1.mp4": [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=1280x720:r=30:d=30",
        "-f",
        "lavfi",
        "-i",
        "sine=f=330:d=30",
    ],
    "clip2.mp4": [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=1920x1080:r=25:d=30",
        "-f",
        "lavfi",
        "-i",
        "sine=f=550:d=30",
    ],
    "clip3.mp4": ["-f", "lavfi", "-i", "testsrc2=s=1280x720:r=24:d=30"],  # other fps, no audio
    "music.m4a": ["-f", "lavfi", "-i", "sine=f=220:r=44100:d=60"],
    "logo.png": ["-f", "lavfi", "-i", "testsrc=s=200x200", "-frames:v", "1"],
    # the plain-encode input: a 60 s 720p source with sound
    "plain.mp4": [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=1280x720:r=30:d=60",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:d=60",
    ],
}
FAST_SOURCE = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]


def request_body() -> dict[str, object]:
    def action(kind: str, start: float, end: float, **data: object) -> dict[str, object]:
        return {"id": f"{kind}-{start}", "start": start, "end": end, "effectId": kind, "data": data}

    rows = [
        [
            action(
                "text",
                0,
                5,
                text='Benchmark: 60 s @ 720p — 100% "real"',
                fontSize=56,
                backgroundColor="#00000099",
            )
        ],
        [action("image", 0, 60, src="logo.png", x=1040, y=40, width=200, height=200, opacity=0.8)],
        [
            action("video", 0, 20, src="clip1.mp4", trimStart=5, fadeIn=0.5),
            action("video", 20, 40, src="clip2.mp4", trimStart=3, fit="cover"),
            action("video", 40, 60, src="clip3.mp4", trimStart=2),
        ],
        [action("audio", 0, 60, src="music.m4a", volume=0.3, fadeIn=1, fadeOut=2)],
    ]
    names = [n for n in SOURCES if n != "plain.mp4"]
    return {
        "timeline": {"editorData": [{"id": f"row{i}", "actions": r} for i, r in enumerate(rows)]},
        "assets": [{"src": n, "s3Key": f"assets/{n}"} for n in names],
        "output": {"width": 1280, "height": 720, "fps": 30},
    }


def _child_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def measure_render(workdir: Path) -> dict[str, float]:
    request = ExportRequest.model_validate(request_body())
    started = time.monotonic()
    result = render_export(request, workdir, workdir / "render.mp4")
    seconds = time.monotonic() - started
    return {
        "seconds": seconds,
        "ffmpeg_peak_mib": _child_peak_mib(),
        "python_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "duration": result.duration_seconds,
    }


def measure_plain(workdir: Path) -> dict[str, float]:
    argv = [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-y",
        "-v",
        "error",
        "-i",
        str(workdir / "assets" / "plain.mp4"),
    ]
    started = time.monotonic()
    subprocess.run([*argv, *output_argv(), str(workdir / "plain-out.mp4")], check=True)
    return {"seconds": time.monotonic() - started, "ffmpeg_peak_mib": _child_peak_mib()}


def _in_child(mode: str, workdir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, f"--{mode}", str(workdir)], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", type=Path, help="generate media and outputs here and keep them")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved plain/render pairs (default 3)")
    parser.add_argument("--measure-render", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure-plain", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_render:
        print(json.dumps(measure_render(args.measure_render)))
        return 0
    if args.measure_plain:
        print(json.dumps(measure_plain(args.measure_plain)))
        return 0

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-render-"))
    (workdir / "assets").mkdir(parents=True, exist_ok=True)
    print(f"generating sources in {workdir} ...", flush=True)
    for name, source in SOURCES.items():
        target = workdir / "assets" / name
        if not target.exists():
            extra = FAST_SOURCE if name.endswith(".mp4") else []
            subprocess.run(["ffmpeg", "-v", "error", "-y", *source, *extra, str(target)], check=True)

    # Interleaved rounds, each ratio taken from a pair run back to back: on a noisy machine the
    # median of paired ratios is steadier than one pair or than the ratio of two averages.
    plains, renders = [], []
    for round_number in range(1, args.rounds + 1):
        plain = _in_child("measure-plain", workdir)
        render = _in_child("measure-render", workdir)
        plains.append(plain)
        renders.append(render)
        print(
            f"round {round_number}: plain encode {plain['seconds']:.2f} s, "
            f"timeline render {render['seconds']:.2f} s, ratio {render['seconds'] / plain['seconds']:.2f}",
            flush=True,
        )
    ratios = [r["seconds"] / p["seconds"] for r, p in zip(renders, plains, strict=True)]
    print(f"plain encode of a {DURATION} s 720p source: median {median(p['seconds'] for p in plains):.2f} s")
    print(
        f"timeline render ({DURATION} s, 720p, 3 clips, image, title, music): "
        f"median {median(r['seconds'] for r in renders):.2f} s"
    )
    print(
        f"ratio render / plain encode: median {median(ratios):.2f} over {len(ratios)} rounds "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f}; target <= {TARGET_RATIO})"
    )
    print(
        f"peak memory: ffmpeg render {max(r['ffmpeg_peak_mib'] for r in renders):.0f} MiB, "
        f"ffmpeg plain {max(p['ffmpeg_peak_mib'] for p in plains):.0f} MiB, "
        f"Python renderer {max(r['python_peak_mib'] for r in renders):.0f} MiB"
    )
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
