"""The cost model of an export: what `POST /export/quote` answers before anything renders.

One place for the coefficients: `make bench` measures the render's seconds per megapixel-frame of each
quality and the task start-up, `make bench-fanout` the sound, the join and the queue-to-start
latency, and both print the figures beside the ones below (update these from their output). Pure
(stdlib only): the API ships it without the renderer.

The model, per task (a single pass is one task; a fan-out is its chunks and the join):
* render seconds = picture work + sound work + `task_start_seconds` (probes, ffmpeg's start), where the
  picture is frames x megapixels x `video_seconds_per_megapixel_frame[quality]` and the sound is output
  seconds x `audio_seconds_per_output_second`; a chunk's sound is its own seconds' (a second ffmpeg run:
  `chunk_sound_start_seconds` more); the join is output seconds x `join_seconds_per_output_second`;
* a task's duration (what Lambda bills) = its render seconds + `task_io_seconds` (downloads, upload);
* GB-seconds = the worker's memory (GB) x the sum of the task durations;
* wall seconds: a single pass's task; a fan-out's slowest chunk, plus the queue-to-start latency and the
  join.

What it does not see: the sources (a timeline of many small overlays or 4K sources costs more per
output frame than the bench's), and a busy machine. `usage` on the ended job reports what was spent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from render.encoding import OutputFormat, Quality
from render.frames import output_frames

if TYPE_CHECKING:
    from render.chunking import ChunkWindow
    from render.model import ExportRequest


@dataclass(frozen=True)
class CostCoefficients:
    video_seconds_per_megapixel_frame: Mapping[Quality, float]
    audio_seconds_per_output_second: float
    chunk_sound_start_seconds: float
    join_seconds_per_output_second: float
    task_start_seconds: float
    task_io_seconds: float
    queue_to_start_seconds: float


# Measured on a 2-core x86_64 machine (Debian's ffmpeg 7.1) by `make bench` (the mixed and Melies 720p
# timelines, each quality) and `make bench-fanout` (a 10-minute 720p timeline); a Lambda of 3008 MB has
# about 1.7 vCPUs, so these are about right there too.
COEFFICIENTS: Final = CostCoefficients(
    video_seconds_per_megapixel_frame={
        Quality.DRAFT: 0.011,
        Quality.STANDARD: 0.021,
        Quality.HIGH: 0.068,
    },
    audio_seconds_per_output_second=0.038,
    chunk_sound_start_seconds=0.3,
    join_seconds_per_output_second=0.0075,
    task_start_seconds=1.2,
    task_io_seconds=0.2,
    queue_to_start_seconds=1.25,
)


@dataclass(frozen=True)
class Estimate:
    render_seconds: float
    wall_seconds: float
    lambda_gb_seconds: float
    tasks: int


@dataclass(frozen=True)
class Work:
    """What an export renders: its frames, picture size and length, and how it is cut."""

    duration_seconds: float
    frames: int
    width: int
    height: int
    quality: Quality
    format: OutputFormat
    chunk_frames: Sequence[int]  # frames of each chunk; empty: a single pass


def estimate(work: Work, *, memory_mb: int, coefficients: CostCoefficients = COEFFICIENTS) -> Estimate:
    """The model above, for `work` on a worker of `memory_mb` MB."""
    c = coefficients
    megapixels = work.width * work.height / 1e6
    per_frame = c.video_seconds_per_megapixel_frame[work.quality] * megapixels
    sound = work.duration_seconds * c.audio_seconds_per_output_second
    if not work.format.has_video:
        renders = [c.task_start_seconds + sound]
        wall = renders[0] + c.task_io_seconds
    elif not work.chunk_frames:
        renders = [c.task_start_seconds + work.frames * per_frame + sound]
        wall = renders[0] + c.task_io_seconds
    else:
        seconds_per_frame = work.duration_seconds / max(1, work.frames)
        chunks = [
            c.task_start_seconds
            + frames * per_frame
            + c.chunk_sound_start_seconds
            + frames * seconds_per_frame * c.audio_seconds_per_output_second
            for frames in work.chunk_frames
        ]
        join = c.task_start_seconds + work.duration_seconds * c.join_seconds_per_output_second
        renders = [*chunks, join]
        wall = max(chunks) + c.queue_to_start_seconds + join + 2 * c.task_io_seconds
    render_seconds = sum(renders)
    task_seconds = render_seconds + len(renders) * c.task_io_seconds
    return Estimate(
        render_seconds=render_seconds,
        wall_seconds=wall,
        lambda_gb_seconds=memory_mb / 1024 * task_seconds,
        tasks=len(renders),
    )


def relative_error(estimated: float, measured: float) -> float:
    """(estimate - measured) / measured: what the bench and the e2e test print and bound."""
    return (estimated - measured) / measured


def work_of(request: ExportRequest, windows: Sequence[ChunkWindow]) -> Work:
    """The work of `request` cut into `windows` (`render.chunking.plan_export_chunks`; empty: one pass)."""
    composition = request.to_composition()
    video = request.output.format.has_video
    return Work(
        duration_seconds=composition.duration,
        frames=output_frames(composition) if video else 0,
        width=composition.width,
        height=composition.height,
        quality=request.output.quality,
        format=request.output.format,
        chunk_frames=[w.frames for w in windows],
    )
