"""Fan-out rendering: one long export cut into video chunks, one audio track, and a join by stream copy.

A chunk is a half-open range of **output frames**. It is rendered from the same planner as the single
pass, on the composition restricted to its window (only the clips that overlap it, start times shifted,
in-points moved), video only, with the single pass's encoder settings and a keyframe (IDR, closed GOP)
on its first frame, so the chunks join with ffmpeg's concat demuxer and `-c copy`, frame-exactly.
The audio of the whole timeline is rendered once, apart: audio cut per chunk clicks and drifts at
the joins. The join concatenates the chunks, muxes the audio (both stream copy) and checks that no
frame was lost.

Pure library like the rest of `render/`: files in, files out, no AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from render import limits
from render.composition import Composition
from render.model import ExportRequest
from render.pipeline import RenderResult


@dataclass(frozen=True)
class ChunkWindow:
    """Output frames [start_frame, end_frame) of chunk `index` (0-based, in timeline order)."""

    index: int
    start_frame: int
    end_frame: int

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame


def plan_chunks(
    composition: Composition,
    *,
    threshold_seconds: float = limits.FANOUT_THRESHOLD_SECONDS,
    max_chunks: int = limits.FANOUT_MAX_CHUNKS,
    min_chunk_seconds: float = limits.FANOUT_MIN_CHUNK_SECONDS,
) -> tuple[ChunkWindow, ...]:
    """How to cut the output: `()` when it is not longer than `threshold_seconds` (render in one pass).

    Otherwise as many chunks as fit (at most `max_chunks`, each at least `min_chunk_seconds` and at
    least two), of equal length to within one frame, covering every output frame once. Pure: only the
    composition's duration and frame rate count, nothing is probed.
    """
    raise NotImplementedError


def used_asset_keys(request: ExportRequest, window: ChunkWindow | None = None) -> list[str]:
    """s3Keys a task needs, in first-use order: the visuals on screen in `window` (a video chunk), or,
    with no window, the assets that may play sound (the audio task)."""
    raise NotImplementedError


def render_video_chunk(
    request: ExportRequest,
    assets_dir: Path,
    window: ChunkWindow,
    output_path: Path,
    *,
    on_progress: Callable[[float], None] | None = None,
    timeout_seconds: float = limits.RENDER_TIMEOUT_SECONDS,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    scratch_dir: Path | None = None,
) -> RenderResult:
    """Render the frames of `window` to a video-only mp4 (no audio stream) at `output_path`.

    Exactly `window.frames` frames, the same pixels as those frames of the single pass (same planner,
    same encoder options), the first frame a keyframe, timestamps from 0. `assets_dir` needs only the
    assets of `used_asset_keys(request, window)`. `on_progress` gets the fraction of this chunk done
    (rendered frames = fraction * window.frames). Raises the `render.errors` of `render_export`.
    """
    raise NotImplementedError


def render_audio_track(
    request: ExportRequest,
    assets_dir: Path,
    output_path: Path,
    *,
    on_progress: Callable[[float], None] | None = None,
    timeout_seconds: float = limits.RENDER_TIMEOUT_SECONDS,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    scratch_dir: Path | None = None,
) -> RenderResult:
    """Render the whole timeline's audio, once, to an AAC-only mp4 (`.m4a`) at `output_path`.

    Exactly the output's duration, silence where nothing plays, the single pass's audio settings.
    `assets_dir` needs only `used_asset_keys(request)`. Raises the `render.errors` of `render_export`.
    """
    raise NotImplementedError


def join_chunks(
    chunk_paths: Sequence[Path],
    audio_path: Path,
    output_path: Path,
    *,
    fps: float,
    timeout_seconds: float = limits.RENDER_TIMEOUT_SECONDS,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    scratch_dir: Path | None = None,
) -> RenderResult:
    """Join chunks (in order) and the audio track into the final mp4, by stream copy (+faststart).

    Raises RenderFailedError when the joined video does not have exactly the chunks' frames together
    (a missing, truncated or foreign chunk), so a bad join never becomes a SUCCEEDED export.
    """
    raise NotImplementedError
