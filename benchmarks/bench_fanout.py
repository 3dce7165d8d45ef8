#!/usr/bin/env python3
"""Fan-out benchmark: 10-minute 720p exports, single pass against 20 chunks (each with its sound) + join.

Two cases: 15 trimmed clips of three short sources (`short`), and a 10-minute cut of a 60-minute 1080p
recording (`long`: 20 cuts of 30 s spread over the hour, with its own sound).

Parallel Lambdas cannot be shown on a 2-core machine, so every task runs here one at a time, each
timed alone, and the parallel wall time is projected from the parts:

    projected fan-out = slowest chunk (its frames, then its sound) + join + orchestration overhead

and every task reads its sources as the worker does (``export_worker.sources.TaskSources``: each
mp4's index, then only the byte ranges its planned render reads, into a sparse file), here from the
cache folder instead of S3. Its read time is added to its render time at a stated S3 throughput
(`S3_MB_PER_SECOND` per Lambda, plus `S3_FIRST_BYTE_SECONDS` per round of concurrent GETs), so the
projection and the cost include downloads.

The overhead is the queue-to-start latency of a task on the local stack (benchmarks/fanout_overhead.py:
one small export fanned out through the real API, SQS and worker). It is measured only when the stack
of `make dev-up` is reachable; otherwise it is omitted from the projection, and the bench says so.

The timeline: 15 trimmed 40 s clips from three sources of different sizes and frame rates (720p30,
1080p25 scaled, 720p24), a title, a logo at 0.8 opacity over everything, and 10 minutes of music.
Sources are generated once with ffmpeg's lavfi into a cache folder (`--cache`).

The cost model prints Lambda GB-seconds per export minute at the worker's memory size (the Terraform
module's default): the fan-out bills every chunk and the join, the single pass one render. Seconds are
this machine's; a Lambda of that memory has about 1.7 vCPUs.

For comparison it also runs the audio task the fan-out had before its chunks encoded their own sound
(the whole timeline's audio in one task, `render.pipeline.render_audio`), and prints it beside the slowest
chunk and the chunks' sound.

    .venv/bin/python benchmarks/bench_fanout.py [--cache DIR] [--no-overhead] [--minutes N] [--case C]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# benchmarks.fanout_overhead and the e2e helpers it uses; the worker's source reader
sys.path[:0] = [str(ROOT), str(ROOT / "functions" / "worker"), str(ROOT / "functions" / "shared")]

from export_worker.sources import FETCH_CONCURRENCY, TaskSources  # noqa: E402
from export_worker.storage import AssetRef  # noqa: E402
from render import chunking, cost, fanout, limits, ranges  # noqa: E402
from render.encoding import Quality  # noqa: E402
from render.frames import output_frames  # noqa: E402
from render.model import ExportRequest  # noqa: E402
from render.pipeline import RenderResult, render_audio, render_export  # noqa: E402

MINUTES = 10
MAX_MINUTES = 10  # the music's length
WIDTH, HEIGHT, FPS = 1280, 720, 30
CLIP_SECONDS, SOURCE_SECONDS = 40, 45
TARGET_RATIO = 0.125
TARGET_READ_RATIO = 1.3
# What one Lambda reads from S3: about 85-90 MB/s per GET stream (Amazon S3 User Guide, "Performance
# guidelines for Amazon S3": one concurrent request per 85-90 MB/s of desired throughput), taken as the
# whole Lambda's rate although the worker fetches several ranges at once; and a first-byte latency per
# round of concurrent GETs (assumed: S3 small-object latency is tens of ms, 100-200 ms at its tail).
S3_MB_PER_SECOND = 90.0
S3_FIRST_BYTE_SECONDS = 0.1
# The long case: a 60-minute 1080p25 recording (6 Mbit/s, a keyframe every 2 s, AAC 128 kbit/s) made
# by encoding one minute and repeating it with stream copy (cheap; the bytes and the index are real).
LONG_MINUTES = 60
LONG_CUTS, LONG_CUT_SECONDS = 20, 30.0
LONG_MINUTE = ["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25:d=60", "-f", "lavfi", "-i",
               "sine=f=440:r=48000:d=60", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6M",
               "-maxrate", "6M", "-bufsize", "12M", "-g", "50", "-pix_fmt", "yuv420p",
               "-c:a", "aac", "-b:a", "128k"]  # fmt: skip
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
    long = cache / "assets" / "long.mp4"
    if not long.is_file():
        minute = cache / "assets" / "partial-minute.mp4"
        subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", *LONG_MINUTE, str(minute)], check=True)
        partial = long.with_name("partial-long.mp4")
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-v", "error", "-y", "-stream_loop", str(LONG_MINUTES - 1),
             "-i", str(minute), "-c", "copy", "-movflags", "+faststart", str(partial)],
            check=True,
        )  # fmt: skip
        minute.unlink()
        partial.rename(long)
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


def long_timeline(minutes: int) -> ExportRequest:
    """`minutes` of 30 s cuts spread evenly over the hour-long recording, with its own sound."""
    cuts = min(LONG_CUTS, round(minutes * 60 / LONG_CUT_SECONDS))
    spacing = LONG_MINUTES * 60 / cuts
    clips = [
        _action("video", i * LONG_CUT_SECONDS, (i + 1) * LONG_CUT_SECONDS, src="long.mp4",
                trimStart=round(i * spacing + 7.3, 2))
        for i in range(cuts)
    ]  # fmt: skip
    rows = [[_action("text", 0, 8, text="Long source: 10 min of a 60 min recording", fontSize=48)], clips]
    return ExportRequest.model_validate(
        {
            "timeline": {"editorData": [{"id": str(i), "actions": r} for i, r in enumerate(rows)]},
            "assets": [{"src": "long.mp4", "s3Key": "assets/long.mp4"}],
            "output": {"width": WIDTH, "height": HEIGHT, "fps": FPS},
        }
    )


class _LocalObjects:
    """The S3 calls ``TaskSources`` makes (HeadObject, ranged and whole GetObject), on the cache folder."""

    class _Body:
        def __init__(self, data: bytes) -> None:
            self._data = data

        def read(self) -> bytes:
            return self._data

        def iter_chunks(self, size: int) -> Iterator[bytes]:
            for at in range(0, len(self._data), size):
                yield self._data[at : at + size]

        def close(self) -> None:
            pass

    def __init__(self, root: Path) -> None:
        self._root = root

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        return {"ContentLength": (self._root / Key).stat().st_size}

    def get_object(self, *, Bucket: str, Key: str, Range: str | None = None) -> dict[str, Any]:  # noqa: N803
        path = self._root / Key
        if Range is None:
            data = path.read_bytes()
        else:
            first, last = (int(v) for v in Range.removeprefix("bytes=").split("-"))
            data = ranges.file_reader(path)(first, last - first + 1)
        return {"Body": self._Body(data), "ContentLength": len(data)}


@dataclass
class Task:
    name: str
    render_seconds: float
    bytes_read: int
    requests: int
    spans_bytes: int  # the packets (all tracks) of the source spans its render reads

    @property
    def read_seconds(self) -> float:
        rounds = -(-self.requests // FETCH_CONCURRENCY)
        return self.bytes_read / (S3_MB_PER_SECOND * 1e6) + rounds * S3_FIRST_BYTE_SECONDS

    @property
    def seconds(self) -> float:
        return self.read_seconds + self.render_seconds


def run_task(
    name: str,
    request: ExportRequest,
    cache: Path,
    keys: list[str],
    render: Callable[[Path, Callable[[Sequence[ranges.SourceSpan]], None]], RenderResult],
) -> Task:
    """One task as the worker runs it: its sources opened and read by range, then its render."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        assets = Path(tmp)
        names = {a.s3Key: a.src for a in request.assets}
        sources = TaskSources(_LocalObjects(cache), "cache", assets, max_bytes=10**12)  # type: ignore[arg-type]
        sources.open([AssetRef(names.get(key, key), key) for key in keys])
        spans: list[ranges.SourceSpan] = []

        def read_spans(planned: Sequence[ranges.SourceSpan]) -> None:
            spans.extend(planned)
            sources.read_spans(planned)

        result = render(assets, read_spans)
        spans_bytes = 0
        for span in spans:
            source = cache / span.path.relative_to(assets.resolve())
            index = ranges.read_index(ranges.file_reader(source), source.stat().st_size)
            if index is None or span.start is None or span.end is None:
                spans_bytes += source.stat().st_size
            else:
                spans_bytes += index.bytes_shown(span.start, span.end, span.kinds)
    return Task(name, result.render_seconds, sources.reads.bytes_read, sources.reads.requests, spans_bytes)


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


def run_case(label: str, request: ExportRequest, cache: Path, latency: float | None) -> bool:
    """Every task of `request` one at a time, each reading as the worker does; prints the figures and
    returns whether the fan-out kept every frame."""
    composition = request.to_composition()
    windows = fanout.plan_chunks(composition)
    total = fanout.output_frames(composition)
    print(
        f"\n== {label}: {composition.duration:.0f} s at {WIDTH}x{HEIGHT} {FPS} fps = {total} frames, ", end=""
    )
    print(f"{len(windows)} chunks (threshold {limits.FANOUT_THRESHOLD_SECONDS:g} s)")
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        out = Path(tmp)
        single = run_task(
            "single", request, cache, request.used_asset_keys(),
            lambda assets, read: render_export(request, assets, out / "single.mp4", read_spans=read),
        )  # fmt: skip
        _print_task("single pass", single)
        chunks: list[Task] = []
        sound_seconds: list[float] = []
        for window in windows:
            path = out / f"{window.index}.mp4"
            chunks.append(
                run_task(
                    f"chunk-{window.index}", request, cache, fanout.used_asset_keys(request, window),
                    partial(_render_chunk, request, window, path, sound_seconds=sound_seconds),
                )
            )  # fmt: skip
            _print_task(f"  chunk {window.index:2d} ({window.frames} frames)", chunks[-1])
            print(f"{'':24}(of which its sound {sound_seconds[-1]:.1f} s)")
        former = run_task(
            "audio", request, cache, fanout.used_asset_keys(request),
            lambda assets, read: render_audio(
                request, assets, out / "audio.m4a", read_spans=read
            ),
        )  # fmt: skip
        _print_task("former audio task", former)
        joined = fanout.join_chunks(
            [out / f"{w.index}.mp4" for w in windows], [out / f"{w.index}.aac" for w in windows],
            out / "fanned.mp4", fps=FPS, expected_frames=total, audio_seconds=composition.duration,
        )  # fmt: skip
        print(
            f"join:                   {joined.render_seconds:7.1f} s (its reads of the chunks: not counted)"
        )
        frames = (fanout.count_frames(out / "single.mp4"), fanout.count_frames(out / "fanned.mp4"))
        print(f"frames single / fanned: {frames[0]} / {frames[1]}")
        if frames[0] != frames[1]:
            print("the fanned-out export lost frames: the benchmark is void")
            return False

    tasks = chunks
    read = sum(t.bytes_read for t in tasks)
    needed = sum(c.spans_bytes for c in chunks)
    verdict = "meets" if read / needed <= TARGET_READ_RATIO else "misses"
    print(
        f"bytes read by all tasks {read / 1e6:.1f} MB; bytes needed (the packets of the source spans the "
        f"windows cover, each span's tracks) {needed / 1e6:.1f} MB; the former audio task read "
        f"{former.bytes_read / 1e6:.1f} MB more"
    )
    print(
        f"ratio bytes read / bytes needed: {read / needed:.2f} ({verdict} the target <= {TARGET_READ_RATIO})"
    )
    print(
        f"  (every task downloading its sources whole would read "
        f"{len(tasks) * _whole(cache, request) / 1e6:.0f} MB)"
    )
    slowest = max(chunks, key=lambda t: t.seconds)
    projected = slowest.seconds + joined.render_seconds + (latency or 0.0)
    print(
        f"projected fan-out wall time (reads at {S3_MB_PER_SECOND:g} MB/s and "
        f"{S3_FIRST_BYTE_SECONDS:g} s per "
        f"round of {FETCH_CONCURRENCY} GETs): {projected:.1f} s = slowest chunk {slowest.seconds:.1f} "
        f"[read {slowest.read_seconds:.1f}] + join {joined.render_seconds:.1f}"
        + (f" + overhead {latency:.2f}" if latency is not None else "")
    )
    ratio = projected / single.seconds
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(
        f"ratio fan-out / single-pass (projected, downloads included): {ratio:.3f} "
        f"({verdict} the target <= {TARGET_RATIO}); "
        f"single pass {single.seconds:.1f} s [read {single.read_seconds:.1f}]"
    )
    print(
        f"sound per chunk {min(sound_seconds):.1f}-{max(sound_seconds):.1f} s (median "
        f"{sorted(sound_seconds)[len(sound_seconds) // 2]:.1f}), of its chunk's render "
        f"{max(s / c.render_seconds for s, c in zip(sound_seconds, chunks, strict=True)):.0%} at most; the "
        f"former audio task {former.seconds:.1f} s [read {former.read_seconds:.1f}] = "
        f"{former.seconds / slowest.seconds:.2f} of the slowest chunk"
    )
    memory_gb = worker_memory_mb() / 1024
    minutes = composition.duration / 60
    single_cost = memory_gb * single.seconds / minutes
    fan_cost = memory_gb * (sum(t.seconds for t in tasks) + joined.render_seconds) / minutes
    print(
        f"cost at {worker_memory_mb()} MB per worker (Terraform default worker_memory_size), reads included: "
        f"single pass {single_cost:.1f} GB-s per export minute, fan-out {fan_cost:.1f} GB-s per export "
        f"minute ({fan_cost / single_cost:.2f}x: {len(windows)} chunks + join, each billed alone)"
    )
    print_cost_model(
        request,
        windows,
        single_seconds=single.render_seconds,
        chunk_seconds=[c.render_seconds for c in chunks],
        sound_seconds=sound_seconds,
        join_seconds=joined.render_seconds,
        latency=latency,
    )
    return True


def _render_chunk(
    request: ExportRequest,
    window: fanout.ChunkWindow,
    path: Path,
    assets: Path,
    read: Callable[[Sequence[ranges.SourceSpan]], None],
    *,
    sound_seconds: list[float],
) -> RenderResult:
    """What `fanout.render_chunk` runs, its two parts timed apart: the frames, then the sound."""
    video = fanout.render_video_chunk(request, assets, window, path, read_spans=read)
    sound = fanout.render_audio_window(
        request, assets, window, fanout.audio_part_path_of(path), read_spans=read
    )
    sound_seconds.append(sound.render_seconds)
    return replace(video, render_seconds=video.render_seconds + sound.render_seconds)


def _print_task(label: str, task: Task) -> None:
    print(
        f"{label + ':':<24}{task.render_seconds:7.1f} s render, read {task.bytes_read / 1e6:8.1f} MB "
        f"in {task.requests} GETs ({task.read_seconds:.1f} s), spans {task.spans_bytes / 1e6:.1f} MB",
        flush=True,
    )


def _whole(cache: Path, request: ExportRequest) -> int:
    return sum((cache / key).stat().st_size for key in request.used_asset_keys())


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
    parser.add_argument("--case", choices=("short", "long", "both"), default="both", help="which timelines")
    args = parser.parse_args()

    started = time.monotonic()
    cache = generate(args.cache)
    print(f"sources ready in {time.monotonic() - started:.0f} s ({args.cache})")
    latency, reason = overhead(not args.no_overhead)
    if latency is None:
        print(f"orchestration overhead: omitted ({reason}); the projections below leave it out")
    else:
        print(f"orchestration overhead: {latency:.2f} s (queue-to-start of a task on LocalStack)")
    cases = {"short": ("short sources", timeline), "long": ("long source", long_timeline)}
    ok = True
    for name, (label, make) in cases.items():
        if args.case in (name, "both"):
            ok = run_case(label, make(args.minutes), cache, latency) and ok
    return 0 if ok else 1


def print_cost_model(
    request: ExportRequest,
    windows: tuple[chunking.ChunkWindow, ...],
    *,
    single_seconds: float,
    chunk_seconds: list[float],
    sound_seconds: list[float],
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
        "audio_seconds_per_output_second": (
            sum(sound_seconds) - len(sound_seconds) * c.chunk_sound_start_seconds
        )
        / seconds,
        "join_seconds_per_output_second": (join_seconds - c.task_start_seconds) / seconds,
        "video_seconds_per_megapixel_frame[standard]": (
            sum(chunk_seconds) - sum(sound_seconds) - len(chunk_seconds) * c.task_start_seconds
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
    used = sum(chunk_seconds) + join_seconds
    print(
        f"  quote error: single pass {cost.relative_error(one_pass, single_seconds):+.0%} "
        f"({one_pass:.1f} s quoted, {single_seconds:.1f} s rendered); fan-out render seconds "
        f"{cost.relative_error(fanned, used):+.0%} ({fanned:.1f} s quoted, {used:.1f} s over its tasks)"
    )


if __name__ == "__main__":
    sys.exit(main())
