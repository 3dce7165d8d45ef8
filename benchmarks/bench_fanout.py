#!/usr/bin/env python3
"""Fan-out benchmark: a 10-minute 720p export, single pass against 20 chunks + audio + join.

Parallel Lambdas cannot be shown on a 2-core machine, so every task runs here one at a time, each
timed alone, and the parallel wall time is projected from the parts:

    projected fan-out = max(slowest chunk, audio task) + join + orchestration overhead

The overhead is the queue-to-start latency of a task on the local stack (benchmarks/fanout_overhead.py:
one small export fanned out through the real API, SQS and worker). It is measured only when the stack
of `make dev-up` is reachable; otherwise it is omitted from the projection, and the bench says so.

The timeline: 15 trimmed 40 s clips from three sources of different sizes and frame rates (720p30,
1080p25 scaled, 720p24), a title, a logo at 0.8 opacity over everything, and 10 minutes of music.
Sources are generated once with ffmpeg's lavfi into a cache folder (`--cache`).

The cost model prints Lambda GB-seconds per export minute at the worker's memory size (the Terraform
module's default): the fan-out bills every chunk, the audio task and the join, the single pass one
render. Seconds are this machine's; a Lambda of that memory has about 1.7 vCPUs.

    .venv/bin/python benchmarks/bench_fanout.py [--cache DIR] [--no-overhead] [--minutes N]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from render import chunking, cost, fanout, limits
from render.encoding import Quality
from render.frames import output_frames
from render.model import ExportRequest
from render.pipeline import render_export

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks.fanout_overhead and the e2e helpers it uses

MINUTES = 10
MAX_MINUTES = 10  # the music's length
WIDTH, HEIGHT, FPS = 1280, 720, 30
CLIP_SECONDS, SOURCE_SECONDS = 40, 45
TARGET_RATIO = 0.125
TERRAFORM_VARIABLES = ROOT / "terraform" / "modules" / "export_service" / "variables.tf"

FAST_VIDEO = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
FAST = [*FAST_VIDEO, "-c:a", "aac", "-shortest"]
SOURCES: dict[str, list[str]] = {
    "clip1.mp4": ["-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=30:d={SOURCE_SECONDS}",
                  "-f", "lavfi", "-i", f"sine=f=330:d={SOURCE_SECONDS}", *FAST],
    "clip2.mp4": ["-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r=25:d={SOURCE_SECONDS}",
                  "-f", "lavfi", "-i", f"sine=f=550:d={SOURCE_SECONDS}", *FAST],
    "clip3.mp4": ["-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=24:d={SOURCE_SECONDS}", *FAST_VIDEO],
    "music.m4a": ["-f", "lavfi", "-i", f"sine=f=220:r=44100:d={MAX_MINUTES * 60}", "-c:a", "aac"],
    "logo.png": ["-f", "lavfi", "-i", "testsrc=s=200x200", "-frames:v", "1"],
}  # fmt: skip


def generate(cache: Path) -> Path:
    """The sources under `cache/assets/`, made once (a finished file is kept; a partial one is redone)."""
    (cache / "assets").mkdir(parents=True, exist_ok=True)
    for name, args in SOURCES.items():
        path = cache / "assets" / name
        if path.is_file():
            continue
        partial = path.with_name(f"partial-{name}")
        subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", *args, str(partial)], check=True)
        partial.rename(path)
    return cache


def _action(kind: str, start: float, end: float, **data: object) -> dict[str, object]:
    return {"id": f"{kind}-{start}", "start": start, "end": end, "effectId": kind, "data": data}


def timeline(minutes: int) -> ExportRequest:
    names = ["clip1.mp4", "clip2.mp4", "clip3.mp4"]
    clips = [
        _action("video", i * CLIP_SECONDS, (i + 1) * CLIP_SECONDS, src=names[i % 3], trimStart=i % 5)
        for i in range(minutes * 60 // CLIP_SECONDS)
    ]
    rows = [
        [_action("text", 0, 8, text="Fan-out benchmark: 10 min @ 720p", fontSize=56)],
        [_action("image", 0, minutes * 60, src="logo.png", x=1040, y=40, width=200, height=200, opacity=0.8)],
        clips,
        [_action("audio", 0, minutes * 60, src="music.m4a", volume=0.3, fadeIn=1, fadeOut=2)],
    ]
    return ExportRequest.model_validate(
        {
            "timeline": {"editorData": [{"id": str(i), "actions": r} for i, r in enumerate(rows)]},
            "assets": [{"src": n, "s3Key": f"assets/{n}"} for n in [*SOURCES]],
            "output": {"width": WIDTH, "height": HEIGHT, "fps": FPS},
        }
    )


def worker_memory_mb() -> int:
    """The worker Lambda's memory: the Terraform module's default for `worker_memory_size`."""
    text = TERRAFORM_VARIABLES.read_text(encoding="utf-8")
    block = re.search(r'variable "worker_memory_size" \{(.*?)\n\}', text, re.DOTALL)
    default = re.search(r"default\s*=\s*(\d+)", block.group(1)) if block else None
    if default is None:
        raise SystemExit(f"no default for worker_memory_size in {TERRAFORM_VARIABLES}")
    return int(default.group(1))


def overhead(enabled: bool) -> tuple[float | None, str]:
    """Per-task queue-to-start latency on the local stack (the smallest: a task that found a free
    worker), or None and why it is omitted."""
    if not enabled:
        return None, "--no-overhead was given"
    from benchmarks.fanout_overhead import measure_queue_latency  # noqa: PLC0415 - needs the repo root

    latencies, reason = measure_queue_latency()
    if latencies is None:
        return None, reason
    print(
        f"  queue-to-start per task on this box ({len(latencies)} tasks, at most a few run at once here): "
        + ", ".join(f"{v:.2f}" for v in latencies)
        + " s"
    )
    return min(latencies), ""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "video-export-bench-fanout",
        help="where the generated sources are kept between runs",
    )
    parser.add_argument("--no-overhead", action="store_true", help="do not measure on the local stack")
    parser.add_argument(
        "--minutes", type=int, choices=range(2, MAX_MINUTES + 1), default=MINUTES, help="a shorter smoke run"
    )
    args = parser.parse_args()

    started = time.monotonic()
    assets = generate(args.cache)
    print(f"sources ready in {time.monotonic() - started:.0f} s ({args.cache})")
    request = timeline(args.minutes)
    composition = request.to_composition()
    windows = chunking.plan_chunks(composition)
    total = output_frames(composition)
    print(f"timeline: {composition.duration:.0f} s at {WIDTH}x{HEIGHT} {FPS} fps = {total} frames, ", end="")
    print(f"{len(windows)} chunks (threshold {limits.FANOUT_THRESHOLD_SECONDS:g} s)")

    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        out = Path(tmp)
        single = render_export(request, assets, out / "single.mp4")
        print(f"single pass:            {single.render_seconds:7.1f} s")
        chunk_seconds: list[float] = []
        chunks = []
        for window in windows:
            path = out / f"{window.index}.mp4"
            chunk_seconds.append(fanout.render_video_chunk(request, assets, window, path).render_seconds)
            chunks.append(path)
            print(
                f"  chunk {window.index:2d} ({window.frames} frames): {chunk_seconds[-1]:6.1f} s", flush=True
            )
        audio = fanout.render_audio_track(request, assets, out / "audio.m4a")
        print(f"audio task:             {audio.render_seconds:7.1f} s")
        joined = fanout.join_chunks(
            chunks, out / "audio.m4a", out / "fanned.mp4", fps=FPS, expected_frames=total
        )
        print(f"join:                   {joined.render_seconds:7.1f} s")
        frames = (fanout.count_frames(out / "single.mp4"), fanout.count_frames(out / "fanned.mp4"))
        print(f"frames single / fanned: {frames[0]} / {frames[1]}")
        if frames[0] != frames[1]:
            print("the fanned-out export lost frames: the benchmark is void")
            return 1

    slowest = max(chunk_seconds)
    print(
        f"chunks: slowest {slowest:.1f} s, fastest {min(chunk_seconds):.1f} s, sum {sum(chunk_seconds):.1f} s"
    )
    latency, reason = overhead(not args.no_overhead)
    if latency is None:
        print(f"orchestration overhead: omitted ({reason}); the projection below leaves it out")
    else:
        print(f"orchestration overhead: {latency:.2f} s (queue-to-start of a task on LocalStack)")
    projected = max(slowest, audio.render_seconds) + joined.render_seconds + (latency or 0.0)
    ratio = projected / single.render_seconds
    print(
        f"projected fan-out wall time: {projected:.1f} s = max(slowest chunk {slowest:.1f}, "
        f"audio {audio.render_seconds:.1f}) + join {joined.render_seconds:.1f}"
        + (f" + overhead {latency:.2f}" if latency is not None else " (overhead omitted)")
    )
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(f"ratio fan-out / single-pass (projected): {ratio:.3f} ({verdict} the target <= {TARGET_RATIO})")

    memory_gb = worker_memory_mb() / 1024
    minutes = composition.duration / 60
    single_cost = memory_gb * single.render_seconds / minutes
    billed = sum(chunk_seconds) + audio.render_seconds + joined.render_seconds
    fan_cost = memory_gb * billed / minutes
    print(
        f"cost at {worker_memory_mb()} MB per worker (Terraform default worker_memory_size): "
        f"single pass {single_cost:.1f} GB-s per export minute, fan-out {fan_cost:.1f} GB-s per export "
        f"minute ({fan_cost / single_cost:.2f}x: {len(windows)} chunks + audio + join, each billed alone)"
    )
    print_cost_model(
        request,
        windows,
        single_seconds=single.render_seconds,
        chunk_seconds=chunk_seconds,
        audio_seconds=audio.render_seconds,
        join_seconds=joined.render_seconds,
        latency=latency,
    )
    return 0


def print_cost_model(
    request: ExportRequest,
    windows: tuple[chunking.ChunkWindow, ...],
    *,
    single_seconds: float,
    chunk_seconds: list[float],
    audio_seconds: float,
    join_seconds: float,
    latency: float | None,
) -> None:
    """The fan-out's part of the cost model (render/cost.py): its coefficients measured here beside the
    module's, and the quote's error on this timeline, in one pass and fanned out."""
    c = cost.COEFFICIENTS
    composition = request.to_composition()
    seconds = composition.duration
    megapixel_frames = output_frames(composition) * composition.width * composition.height / 1e6
    measured = {
        "audio_seconds_per_output_second": (audio_seconds - c.task_start_seconds) / seconds,
        "join_seconds_per_output_second": (join_seconds - c.task_start_seconds) / seconds,
        "video_seconds_per_megapixel_frame[standard]": (
            sum(chunk_seconds) - len(chunk_seconds) * c.task_start_seconds
        )
        / megapixel_frames,
    }
    model = {
        "audio_seconds_per_output_second": c.audio_seconds_per_output_second,
        "join_seconds_per_output_second": c.join_seconds_per_output_second,
        "video_seconds_per_megapixel_frame[standard]": c.video_seconds_per_megapixel_frame[Quality.STANDARD],
    }
    if latency is not None:
        measured["queue_to_start_seconds"] = latency
        model["queue_to_start_seconds"] = c.queue_to_start_seconds
    print("cost model (render/cost.py): measured here / in the module")
    for name, value in measured.items():
        print(f"  {name}: {value:.4f} / {model[name]:.4f}")
    memory = worker_memory_mb()
    one_pass = cost.estimate(cost.work_of(request, ()), memory_mb=memory).render_seconds
    fanned = cost.estimate(cost.work_of(request, windows), memory_mb=memory).render_seconds
    used = sum(chunk_seconds) + audio_seconds + join_seconds
    print(
        f"  quote error: single pass {cost.relative_error(one_pass, single_seconds):+.0%} "
        f"({one_pass:.1f} s quoted, {single_seconds:.1f} s rendered); fan-out render seconds "
        f"{cost.relative_error(fanned, used):+.0%} ({fanned:.1f} s quoted, {used:.1f} s over its tasks)"
    )


if __name__ == "__main__":
    sys.exit(main())
