#!/usr/bin/env python3
"""Render benchmark: two 60 s 720p timelines, each against three baselines, in interleaved rounds.

Timelines:
* `mixed`: generic kinds, three trimmed clips of different sizes and frame rates, an image at 0.8
  opacity, a title, music.
* `transitions`: `mixed` with a 1 s transition at each cut (crossfade, wipe);
* `melies`: a Melies snapshot, lanes V2/V1/A2/A1: three clips with offsets on V1, a 4:3 clip on V2
  (videoLayer 1), linked `effect2` audio, and music that loops.

Baselines, with the same encoder settings (`render.encoding`):
* `plain encode`: one 60 s 720p source re-encoded, the floor any render sits on;
* `naive concat`: the simplest worker that could render the timeline, as the original export worker
  did: cut the timeline at every boundary, take the top video of each interval through
  trim → fps → scale (contain) + pad → concat, mix the audio with atrim/adelay/amix, no input
  seeking, audio inputs opened with `-stream_loop -1`. It cannot draw images or text, so on the
  mixed timeline it does less work than the render.
* `seeking concat`: the naive worker with each interval's source opened on its own with input seeking
  (`-ss`/`-t` before `-i`): the hand-built single graph the render planner is measured against, the
  floor of what planning alone can save over the naive worker.

Qualities (`output.quality`, `render.encoding.QUALITY_SETTINGS`): every round also renders each timeline
as `draft` and `high` (the `render` side is `standard`), and once a lossless render (x264 at CRF 0, same
graph) that each quality's output is compared with (SSIM and PSNR over every frame). It prints `ratio
draft / standard` (target <= 0.5), and the cost model's figures (`render.cost`): each quality's seconds per
megapixel-frame as measured beside the model's coefficient, and the quote's error on each timeline.

Each measurement runs in a fresh child process so its peak memory (max RSS) is its own. The ratios are
medians of ratios taken within a round, because the machines are noisy.

    .venv/bin/python benchmarks/bench_render.py [--rounds N] [--keep DIR] [--variant NAME]...

`--variant` adds the render with one ffmpeg setting changed as a further side of every round, and prints
its ratio to the render as shipped: the settings the speed work weighed (`VARIANTS`), to measure again on
another ffmpeg. `make bench` runs all of this on the host's ffmpeg and inside the worker image.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from statistics import median
from typing import Any

from render import compiler, cost, encoding
from render.composition import Clip, ClipKind, Composition
from render.encoding import AUDIO_SAMPLE_RATE, Quality, output_argv
from render.model import ExportRequest
from render.pipeline import probe_assets, render_export

DURATION = 60
WIDTH, HEIGHT, FPS = 1280, 720, 30
TARGETS = {"render / plain encode": {"mixed": 1.10}, "render / naive concat": {"melies": 0.93}}
DRAFT_TARGET = 0.5  # ratio draft / standard
# The measured sides of each timeline, in the order each round runs them (`render` is standard quality).
SIDES = ("render", "naive", "seeking", "draft", "high")
QUALITY_SIDES = {"draft": Quality.DRAFT, "render": Quality.STANDARD, "high": Quality.HIGH}
# A render with one setting changed: global ffmpeg options put before the render's own, or the decoder
# threads of each input (the render's is render.encoding.DECODER_THREADS; 0 is ffmpeg's automatic choice).
VARIANTS: dict[str, dict[str, Any]] = {
    "filter-threads-2": {"global": ["-filter_complex_threads", "2"]},
    "decoder-threads-auto": {"decoder_threads": 0},
    "decoder-threads-1": {"decoder_threads": 1},
    "scaler-bilinear": {"global": ["-sws_flags", "bilinear"]},
}

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
    "clip4.mp4": ["-f", "lavfi", "-i", "testsrc=s=960x720:r=30:d=10", "-f", "lavfi", "-i", "sine=f=770:d=10"],
    "music.m4a": ["-f", "lavfi", "-i", "sine=f=220:r=44100:d=60"],
    "loop.m4a": ["-f", "lavfi", "-i", "sine=f=260:r=44100:d=25"],  # loops in the melies timeline
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


def _action(effect: str, start: float, end: float, **data: object) -> dict[str, object]:
    return {"id": f"{effect}-{start}", "start": start, "end": end, "effectId": effect, "data": data}


def _request(rows: list[list[dict[str, object]]], names: list[str], **timeline: object) -> dict[str, object]:
    return {
        "timeline": {**timeline, "editorData": [{"id": str(i), "actions": r} for i, r in enumerate(rows)]},
        "assets": [{"src": n, "s3Key": f"assets/{n}"} for n in names],
        "output": {"width": WIDTH, "height": HEIGHT, "fps": FPS},
    }


def start_body() -> dict[str, object]:
    """One output frame over every source: a render's fixed cost (probes, graph set-up, ffmpeg's start),
    the cost model's `task_start_seconds`."""
    frame = 1 / FPS
    rows = [[_action("video", 0, frame, src=f"clip{i}.mp4")] for i in range(1, 5)]
    rows += [[_action("image", 0, frame, src="logo.png")], [_action("audio", 0, frame, src="music.m4a")]]
    return _request(rows, [*(f"clip{i}.mp4" for i in range(1, 5)), "logo.png", "music.m4a"])


def mixed_body() -> dict[str, object]:
    title = 'Benchmark: 60 s @ 720p — 100% "real"'
    rows = [
        [_action("text", 0, 5, text=title, fontSize=56, backgroundColor="#00000099")],
        [_action("image", 0, 60, src="logo.png", x=1040, y=40, width=200, height=200, opacity=0.8)],
        [
            _action("video", 0, 20, src="clip1.mp4", trimStart=5, fadeIn=0.5),
            _action("video", 20, 40, src="clip2.mp4", trimStart=3, fit="cover"),
            _action("video", 40, 60, src="clip3.mp4", trimStart=2),
        ],
        [_action("audio", 0, 60, src="music.m4a", volume=0.3, fadeIn=1, fadeOut=2)],
    ]
    return _request(rows, ["clip1.mp4", "clip2.mp4", "clip3.mp4", "music.m4a", "logo.png"])


def melies_body() -> dict[str, object]:
    v2 = [_action("effect1", 25, 30, src="clip4.mp4", videoLayer=1, linkId="l4")]
    v1 = [
        _action("effect1", 0, 20, src="clip1.mp4", offset=5, linkId="l1"),
        _action("effect1", 20, 40, src="clip2.mp4", offset=3, linkId="l2"),
        _action("effect1", 40, 60, src="clip3.mp4", offset=2, linkId="l3"),
    ]
    a2 = [_action("effect2", 25, 30, src="clip4.mp4", linkId="l4"), _action("effect0", 0, 60, src="loop.m4a")]
    a1 = [
        _action("effect2", 0, 20, src="clip1.mp4", offset=5, linkId="l1"),
        _action("effect2", 20, 40, src="clip2.mp4", offset=3, linkId="l2"),
        _action("effect2", 40, 60, src="clip3.mp4", offset=2, linkId="l3"),  # a video without sound
    ]
    names = ["clip1.mp4", "clip2.mp4", "clip3.mp4", "clip4.mp4", "loop.m4a"]
    return _request([v2, v1, a2, a1], names, version=1, selectedActionId=None, timelineScaleWidth=160)


def transitions_body() -> dict[str, object]:
    """`mixed` with a 1 s transition at every cut (a crossfade at 20 s, a wipe at 40 s): against the
    same baselines (which cut), the ratio shows what the transitions cost."""
    body = mixed_body()
    rows = body["timeline"]["editorData"]  # type: ignore[index]
    clips = rows[2]["actions"]
    clips[1]["data"]["transition"] = {"type": "crossfade", "duration": 1}
    clips[2]["data"]["transition"] = {"type": "wipeleft", "duration": 1}
    return body


TIMELINES: dict[str, Callable[[], dict[str, object]]] = {
    "mixed": mixed_body,
    "melies": melies_body,
    "transitions": transitions_body,
}


# ------------------------------------------------------------------ the naive concat worker
@dataclass(frozen=True)
class _Segment:
    start: float
    end: float
    clip: Clip | None  # None: a black gap

    @property
    def in_point(self) -> float:
        """Seconds into the clip's source where this interval starts."""
        assert self.clip is not None
        return self.clip.trim_start + self.start - self.clip.start


def _top_video_segments(composition: Composition) -> list[_Segment]:
    """The interval cut: for each interval between boundaries, the top video clip (or a gap)."""
    videos = [c for c in composition.clips if c.kind is ClipKind.VIDEO]
    instants = sorted({0.0, composition.duration} | {c.start for c in videos} | {c.end for c in videos})
    segments = []
    for begin, finish in pairwise(instants):
        covering = [c for c in videos if c.start <= begin and c.end >= finish]
        segments.append(_Segment(begin, finish, min(covering, key=lambda c: c.layer) if covering else None))
    return segments


def naive_argv(request: ExportRequest, workdir: Path, output: Path, *, seek: bool = False) -> list[str]:
    """The original export worker's command for this timeline, with this project's encoder settings.

    `seek`: the issue's hand-built graph instead, the same in all else but each interval's source
    opened on its own with input seeking (`-ss`/`-t` before `-i`), so nothing is decoded before its
    in-point and no source is split between intervals."""
    composition = request.to_composition()
    media = probe_assets(request, workdir)
    segments = _top_video_segments(composition)
    audios = [
        c
        for c in composition.clips
        if (c.kind is ClipKind.AUDIO or (c.kind is ClipKind.VIDEO and not c.muted))
        and c.source_key is not None
        and media[c.source_key].has_audio
    ]
    inputs: list[str] = []

    def add_input(*argv: str) -> int:
        inputs.extend(argv)
        return inputs.count("-i") - 1

    # segment number -> (segment, its source), for the intervals that show a clip
    shown = {
        n: (s, s.clip.source_key)
        for n, s in enumerate(segments)
        if s.clip is not None and s.clip.source_key is not None
    }
    if seek:
        video_input = {
            n: add_input("-ss", f"{s.in_point:.4f}", "-t", f"{s.end - s.start}", "-i", str(workdir / key))
            for n, (s, key) in shown.items()
        }
    else:
        shared = {
            key: add_input("-i", str(workdir / key)) for key in dict.fromkeys(k for _, k in shown.values())
        }
        video_input = {n: shared[key] for n, (_, key) in shown.items()}
    audio_input = {
        key: add_input("-stream_loop", "-1", "-i", str(workdir / key))
        for key in dict.fromkeys(c.source_key for c in audios if c.source_key)
    }
    graph, labels = [], []
    size = f"{composition.width}:{composition.height}"
    for n, segment in enumerate(segments):
        duration = segment.end - segment.start
        if n not in video_input:
            graph.append(
                f"color=c=black:s={size.replace(':', 'x')}:r={FPS}:d={duration},format=yuv420p[v{n}]"
            )
        else:
            cut = f"[{video_input[n]}:v]" + (
                "" if seek else f"trim=start={segment.in_point:.4f}:duration={duration},"
            )
            graph.append(
                f"{cut}setpts=PTS-STARTPTS,fps={FPS},scale={size}:force_original_aspect_ratio=decrease,"
                f"pad={size}:(ow-iw)/2:(oh-ih)/2:color=black,format=yuv420p[v{n}]"
            )
        labels.append(f"[v{n}]")
    graph.append(f"{''.join(labels)}concat=n={len(labels)}:v=1:a=0[vout]")
    graph.append(f"anullsrc=r={AUDIO_SAMPLE_RATE}:cl=stereo:d={composition.duration}[abase]")
    for n, clip in enumerate(audios):
        assert clip.source_key is not None  # filtered above
        delay = round(clip.start * 1000)
        graph.append(
            f"[{audio_input[clip.source_key]}:a]atrim=start={clip.trim_start:.4f}:duration={clip.duration},"
            f"asetpts=PTS-STARTPTS,aresample={AUDIO_SAMPLE_RATE}:async=1,adelay={delay}|{delay}[a{n}]"
        )
    mix = "[abase]" + "".join(f"[a{n}]" for n in range(len(audios)))
    graph.append(
        f"{mix}amix=inputs={len(audios) + 1}:normalize=0:duration=longest,"
        f"atrim=0:{composition.duration},asetpts=PTS-STARTPTS[aout]"
    )
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", *inputs,
        "-filter_complex", ";".join(graph), "-map", "[vout]", "-map", "[aout]", *output_argv(), str(output),
    ]  # fmt: skip


# ------------------------------------------------------------------ measurements (each in a child)
def _child_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _timed(run: Callable[[], Any]) -> dict[str, float]:
    started = time.monotonic()
    run()
    return {"seconds": time.monotonic() - started, "ffmpeg_peak_mib": _child_peak_mib()}


def measure(side: str, timeline: str, workdir: Path) -> dict[str, float]:
    if side == "plain":
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
        return _timed(lambda: subprocess.run([*argv, *output_argv(), str(workdir / "plain.mp4")], check=True))
    body = start_body() if side == "start" else TIMELINES[timeline]()
    if side in ("draft", "high"):
        body["output"] = {**body["output"], "quality": side}  # type: ignore[dict-item]
    request = ExportRequest.model_validate(body)
    if side == "lossless":
        # the same graph, every frame kept exactly (x264's CRF 0 is lossless): the reference of SSIM/PSNR
        encoding.VIDEO_OUTPUT_OPTIONS.update({"crf": "0", "preset": "ultrafast"})
    if side in ("naive", "seeking"):
        argv = naive_argv(request, workdir, workdir / f"{side}-{timeline}.mp4", seek=side == "seeking")
        return _timed(lambda: subprocess.run(argv, check=True))
    ffmpeg = "ffmpeg"
    if side.startswith("render:"):
        variant = VARIANTS[side.removeprefix("render:")]
        if "decoder_threads" in variant:
            vars(compiler)["DECODER_THREADS"] = variant["decoder_threads"]  # what compile_plan reads
        if "global" in variant:
            wrapper = workdir / f"ffmpeg-{side.removeprefix('render:')}"
            wrapper.write_text(f'#!/bin/sh\nexec ffmpeg {" ".join(variant["global"])} "$@"\n')
            wrapper.chmod(0o755)
            ffmpeg = str(wrapper)
    output = workdir / f"{side.replace(':', '-')}-{timeline}.mp4"
    result = _timed(lambda: render_export(request, workdir, output, ffmpeg=ffmpeg))
    if side in QUALITY_SIDES and (workdir / f"lossless-{timeline}.mp4").exists():
        result |= picture_scores(output, workdir / f"lossless-{timeline}.mp4")
    return {**result, "python_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def picture_scores(output: Path, reference: Path) -> dict[str, float]:
    """SSIM (0..1) and PSNR (dB) of `output` against `reference`, over every frame."""
    scores = {}
    for metric, pattern in (("ssim", r"All:([0-9.]+)"), ("psnr", r"average:([0-9.]+|inf)")):
        log = subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(output), "-i", str(reference),
             "-lavfi", f"[0:v][1:v]{metric}", "-f", "null", "-"],
            check=True, capture_output=True, text=True,
        ).stderr  # fmt: skip
        found = re.findall(pattern, log)
        scores[metric] = float(found[-1]) if found and found[-1] != "inf" else float("inf")
    return scores


def quote_seconds(timeline: str, quality: Quality) -> float:
    """What `POST /export/quote` estimates for this timeline rendered in one pass."""
    body = TIMELINES[timeline]()
    body["output"] = {**body["output"], "quality": quality.value}  # type: ignore[dict-item]
    request = ExportRequest.model_validate(body)
    return cost.estimate(cost.work_of(request, ()), memory_mb=3008).render_seconds


def measured_coefficient(timeline: str, seconds: float) -> float:
    """Seconds per megapixel-frame of a render that took `seconds`, by the cost model's own terms."""
    c = cost.COEFFICIENTS
    work = cost.work_of(ExportRequest.model_validate(TIMELINES[timeline]()), ())
    picture = seconds - c.task_start_seconds - work.duration_seconds * c.audio_seconds_per_output_second
    return picture / (work.frames * work.width * work.height / 1e6)


def _in_child(side: str, timeline: str, workdir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", side, timeline, str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", type=Path, help="generate media and outputs here and keep them")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--timeline", choices=sorted(TIMELINES), action="append", help="default: all")
    parser.add_argument(
        "--variant",
        choices=sorted(VARIANTS),
        action="append",
        default=[],
        help="also render with this setting changed (repeatable)",
    )
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        side, timeline, workdir = args.measure
        print(json.dumps(measure(side, timeline, Path(workdir))))
        return 0

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-render-"))
    (workdir / "assets").mkdir(parents=True, exist_ok=True)
    print(f"generating sources in {workdir} ...", flush=True)
    for name, source in SOURCES.items():
        target = workdir / "assets" / name
        if not target.exists():
            extra = FAST_SOURCE if name.endswith(".mp4") else []
            subprocess.run(["ffmpeg", "-v", "error", "-y", *source, *extra, str(target)], check=True)

    timelines = args.timeline or list(TIMELINES)
    for timeline in timelines:  # the lossless reference of each timeline, once
        _in_child("lossless", timeline, workdir)
    sides = [*SIDES, *(f"render:{variant}" for variant in args.variant)]
    version = subprocess.run(["ffmpeg", "-version"], check=True, capture_output=True, text=True).stdout
    print(f"ffmpeg: {version.splitlines()[0]}", flush=True)
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for round_number in range(1, args.rounds + 1):
        line = []
        plain = _in_child("plain", "-", workdir)
        runs.setdefault(("plain", "-"), []).append(plain)
        line.append(f"plain {plain['seconds']:.2f} s")
        start = _in_child("start", "-", workdir)
        runs.setdefault(("start", "-"), []).append(start)
        line.append(f"start {start['seconds']:.2f} s")
        for timeline in timelines:
            for side in sides:
                result = _in_child(side, timeline, workdir)
                runs.setdefault((side, timeline), []).append(result)
                line.append(f"{timeline} {side} {result['seconds']:.2f} s")
        print(f"round {round_number}: " + ", ".join(line), flush=True)

    def ratios(a: tuple[str, str], b: tuple[str, str], key: str = "seconds") -> list[float]:
        return [x[key] / y[key] for x, y in zip(runs[a], runs[b], strict=True)]

    def summary(name: str, values: list[float], target: float | None) -> str:
        goal = f"; target <= {target}" if target is not None else ""
        return f"{name}: median {median(values):.3f} (min {min(values):.3f}, max {max(values):.3f}{goal})"

    plains = runs["plain", "-"]
    print(f"plain encode of a {DURATION} s 720p source: median {median(p['seconds'] for p in plains):.2f} s")
    print(
        f"cost model: task start-up (one frame over every source) median "
        f"{median(r['seconds'] for r in runs['start', '-']):.2f} s measured, "
        f"{cost.COEFFICIENTS.task_start_seconds:.2f} s in render/cost.py"
    )
    for timeline in timelines:
        render, naive = ("render", timeline), ("naive", timeline)
        print(f"--- {timeline} timeline ({DURATION} s, {WIDTH}x{HEIGHT} @ {FPS} fps)")
        print(f"  render median {median(r['seconds'] for r in runs[render]):.2f} s, "
              f"naive concat median {median(r['seconds'] for r in runs[naive]):.2f} s")  # fmt: skip
        seeking = ("seeking", timeline)
        print(f"  seeking concat median {median(r['seconds'] for r in runs[seeking]):.2f} s")
        for label, (a, b) in {"render / plain encode": (render, ("plain", "-")),
                              "render / naive concat": (render, naive),
                              "seeking concat / naive concat": (seeking, naive),
                              "render / seeking concat": (render, seeking)}.items():  # fmt: skip
            print("  ratio " + summary(label, ratios(a, b), TARGETS.get(label, {}).get(timeline)))
        for variant in args.variant:
            print(
                "  ratio "
                + summary(
                    f"render[{variant}] / render", ratios(("render:" + variant, timeline), render), None
                )
            )
        print("  ratio " + summary("draft / standard", ratios(("draft", timeline), render), DRAFT_TARGET))
        print("  ratio " + summary("high / standard", ratios(("high", timeline), render), None))
        for side, quality in QUALITY_SIDES.items():
            seconds = median(r["seconds"] for r in runs[side, timeline])
            ssim = median(r.get("ssim", float("nan")) for r in runs[side, timeline])
            psnr = median(r.get("psnr", float("nan")) for r in runs[side, timeline])
            quoted = quote_seconds(timeline, quality)
            print(
                f"  {quality.value:8} {seconds:6.2f} s; against lossless SSIM {ssim:.4f}, "
                f"PSNR {psnr:.2f} dB; "
                f"cost model: {measured_coefficient(timeline, seconds):.4f} s per megapixel-frame measured, "
                f"{cost.COEFFICIENTS.video_seconds_per_megapixel_frame[quality]:.4f} in render/cost.py; "
                f"quote {quoted:.2f} s, error {cost.relative_error(quoted, seconds):+.0%}"
            )
        memory = {
            side: max(r["ffmpeg_peak_mib"] for r in runs[side, timeline]) for side in ("render", "naive")
        }
        print(
            f"  peak memory: ffmpeg render {memory['render']:.0f} MiB, "
            f"naive concat {memory['naive']:.0f} MiB, "
            f"plain encode {max(p['ffmpeg_peak_mib'] for p in plains):.0f} MiB; "
            f"ratio render / naive concat {memory['render'] / memory['naive']:.2f} (target <= 1.0); "
            f"Python renderer {max(r['python_peak_mib'] for r in runs[render]):.0f} MiB"
        )
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
