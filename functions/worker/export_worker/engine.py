"""The one render-engine interface the worker's flows call, and its ffmpeg implementation.

``WorkerDeps.engine`` is set once: ``FfmpegEngine`` in production (``render.pipeline`` and
``render.fanout``, imported when first used), a fake in the fast unit tests. What every render call of
an attempt shares (the progress callback, the time limit, the scratch directory) travels as one
``RenderRun``; the engine adds its binaries, so that keyword list is written once, here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from render.chunking import ChunkWindow
    from render.model import ExportRequest
    from render.ranges import SourceSpan


class RenderOutcome(Protocol):
    """What a render returns (``render.pipeline.RenderResult``)."""

    @property
    def duration_seconds(self) -> float: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def render_seconds(self) -> float: ...
    @property
    def poster_path(self) -> Path | None: ...  # output.poster's JPEG, when this render wrote it
    @property
    def audio_path(self) -> Path | None: ...  # a chunk's sound, beside its video


@dataclass(frozen=True)
class RenderRun:
    """What one render call of an attempt is given besides its inputs and output."""

    timeout_seconds: float
    scratch_dir: Path
    on_progress: Callable[[float], None] | None = None
    # called with what each source of the planned render reads, before ffmpeg starts (ranged reads)
    read_spans: Callable[[Sequence[SourceSpan]], None] | None = None


@dataclass(frozen=True)
class FanoutLimits:
    """The deployment's fan-out settings: when and how finely a long export is cut."""

    threshold_seconds: float
    max_chunks: int
    min_chunk_seconds: float


class RenderEngine(Protocol):
    """Everything the worker asks of the renderer: plan, render (whole, chunk, audio) and join."""

    def plan(self, request: ExportRequest, limits: FanoutLimits) -> tuple[ChunkWindow, ...]:
        """The chunks of this export; fewer than two: it renders in one pass."""
        ...

    def task_asset_keys(self, request: ExportRequest, window: ChunkWindow | None) -> list[str]:
        """The assets a fan-out task reads: what a chunk shows in ``window`` and sounds under it, or
        (None) what may sound anywhere (an earlier version's audio task)."""
        ...

    def render(
        self, request: ExportRequest, assets_dir: Path, output_path: Path, run: RenderRun
    ) -> RenderOutcome: ...

    def render_chunk(
        self,
        request: ExportRequest,
        assets_dir: Path,
        window: ChunkWindow,
        output_path: Path,
        run: RenderRun,
        *,
        sound: bool = True,
    ) -> RenderOutcome:
        """The chunk's frames to ``output_path`` and, with ``sound``, the sound under them beside it
        (``audio_path``); without, video only (a chunk of an earlier version's split)."""
        ...

    def render_audio(
        self, request: ExportRequest, assets_dir: Path, output_path: Path, run: RenderRun
    ) -> RenderOutcome: ...

    def join(
        self,
        chunk_paths: Sequence[Path],
        audio: Path | Sequence[Path],
        output_path: Path,
        *,
        fps: float,
        duration: float,
        run: RenderRun,
    ) -> RenderOutcome:
        """The chunks and their sound parts (or one whole-timeline m4a) into the export."""
        ...


@dataclass(frozen=True)
class FfmpegEngine:
    """``RenderEngine`` over the render library and the host's ffmpeg."""

    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"

    def _options(self, run: RenderRun) -> dict[str, Any]:
        return {
            "timeout_seconds": run.timeout_seconds,
            "ffmpeg": self.ffmpeg,
            "ffprobe": self.ffprobe,
            "scratch_dir": run.scratch_dir,
        }

    def _render_options(self, run: RenderRun) -> dict[str, Any]:
        return {**self._options(run), "on_progress": run.on_progress, "read_spans": run.read_spans}

    def plan(self, request: ExportRequest, limits: FanoutLimits) -> tuple[ChunkWindow, ...]:
        from render.chunking import plan_export_chunks  # noqa: PLC0415 -- the renderer is imported when first used

        return plan_export_chunks(
            request,
            threshold_seconds=limits.threshold_seconds,
            max_chunks=limits.max_chunks,
            min_chunk_seconds=limits.min_chunk_seconds,
        )

    def task_asset_keys(self, request: ExportRequest, window: ChunkWindow | None) -> list[str]:
        from render.fanout import used_asset_keys  # noqa: PLC0415

        return used_asset_keys(request, window)

    def render(
        self, request: ExportRequest, assets_dir: Path, output_path: Path, run: RenderRun
    ) -> RenderOutcome:
        from render.pipeline import render_export  # noqa: PLC0415

        return render_export(request, assets_dir, output_path, **self._render_options(run))

    def render_chunk(
        self,
        request: ExportRequest,
        assets_dir: Path,
        window: ChunkWindow,
        output_path: Path,
        run: RenderRun,
        *,
        sound: bool = True,
    ) -> RenderOutcome:
        from render.fanout import render_chunk, render_video_chunk  # noqa: PLC0415

        render = render_chunk if sound else render_video_chunk
        return render(request, assets_dir, window, output_path, **self._render_options(run))

    def render_audio(
        self, request: ExportRequest, assets_dir: Path, output_path: Path, run: RenderRun
    ) -> RenderOutcome:
        from render.pipeline import render_audio  # noqa: PLC0415

        return render_audio(request, assets_dir, output_path, **self._render_options(run))

    def join(
        self,
        chunk_paths: Sequence[Path],
        audio: Path | Sequence[Path],
        output_path: Path,
        *,
        fps: float,
        duration: float,
        run: RenderRun,
    ) -> RenderOutcome:
        from render.fanout import join_chunks  # noqa: PLC0415

        return join_chunks(
            chunk_paths,
            audio,
            output_path,
            fps=fps,
            audio_seconds=duration,
            on_progress=run.on_progress,
            **self._options(run),
        )
