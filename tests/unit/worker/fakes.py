"""The fast bench's stand-ins: a render engine that writes placeholder files instead of running ffmpeg,
and a manual clock that the worker's heartbeat waits on instead of real time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from export_worker.engine import FanoutLimits, FfmpegEngine, RenderRun
from render.chunking import ChunkWindow


@dataclass(frozen=True)
class FakeOutcome:
    duration_seconds: float
    width: int
    height: int
    size_bytes: int
    render_seconds: float = 0.5
    poster_path: Path | None = None
    audio_path: Path | None = None


@dataclass
class FakeEngine:
    """``RenderEngine`` without ffmpeg: the real (pure) planning, renders that write a few bytes.

    ``during(kind, run)`` runs inside every render, after its first progress report: a test raises there
    (a failure), or moves the manual clock (a render that takes a while). ``calls`` lists the renders.
    """

    width: int = 160
    height: int = 90
    during: Callable[[str, RenderRun], None] | None = None
    calls: list[str] = field(default_factory=list)
    planner: FfmpegEngine = field(default_factory=FfmpegEngine)

    def plan(self, request: Any, limits: FanoutLimits) -> tuple[ChunkWindow, ...]:
        return self.planner.plan(request, limits)

    def task_asset_keys(self, request: Any, window: ChunkWindow | None) -> list[str]:
        return self.planner.task_asset_keys(request, window)

    def _render(
        self, kind: str, output_path: Path, run: RenderRun, seconds: float, *, poster: bool = False
    ) -> FakeOutcome:
        self.calls.append(kind)
        if run.on_progress is not None:
            run.on_progress(0.5)
        if self.during is not None:
            self.during(kind, run)
        if run.on_progress is not None:
            run.on_progress(1.0)
        output_path.write_bytes(f"{kind}\n".encode())
        poster_path = output_path.with_name(f"{output_path.stem}.poster.jpg") if poster else None
        if poster_path is not None:
            poster_path.write_bytes(f"poster of {kind}\n".encode())
        return FakeOutcome(
            seconds, self.width, self.height, output_path.stat().st_size, poster_path=poster_path
        )

    def render(self, request: Any, assets_dir: Path, output_path: Path, run: RenderRun) -> FakeOutcome:
        poster = request.output.poster is not None
        return self._render("render", output_path, run, request.to_composition().duration, poster=poster)

    def render_chunk(
        self,
        request: Any,
        assets_dir: Path,
        window: ChunkWindow,
        output_path: Path,
        run: RenderRun,
        *,
        sound: bool = True,
    ) -> FakeOutcome:
        fps = request.to_composition().fps
        frame = request.poster_frame()
        poster = frame is not None and window.start_frame <= frame < window.end_frame
        seconds = (window.end_frame - window.start_frame) / fps
        outcome = self._render(f"chunk-{window.index}", output_path, run, seconds, poster=poster)
        if not sound:
            return outcome
        audio_path = output_path.with_suffix(".aac")
        audio_path.write_bytes(f"sound of chunk-{window.index}\n".encode())
        return replace(outcome, audio_path=audio_path)

    def render_audio(self, request: Any, assets_dir: Path, output_path: Path, run: RenderRun) -> FakeOutcome:
        return self._render("audio", output_path, run, request.to_composition().duration)

    def join(
        self,
        chunk_paths: Sequence[Path],
        audio: Path | Sequence[Path],
        output_path: Path,
        *,
        fps: float,
        duration: float,
        run: RenderRun,
    ) -> FakeOutcome:
        sounds = [audio] if isinstance(audio, Path) else list(audio)
        assert all(p.exists() for p in [*chunk_paths, *sounds])
        assert isinstance(audio, Path) or len(sounds) == len(chunk_paths)
        return self._render("join", output_path, run, float(len(chunk_paths)))


class ManualClock:
    """Time that moves only when a test says so; the heartbeat's waits end when it has moved far enough."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._changed = threading.Condition()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        with self._changed:
            self._now += seconds
            self._changed.notify_all()

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """The heartbeat's ``Waiter``: True when ``stop`` is set, False once ``seconds`` have passed."""
        deadline = self._now + seconds
        with self._changed:
            while not stop.is_set() and self._now < deadline:
                self._changed.wait(timeout=0.005)  # wakes on advance; also sees ``stop`` promptly
        return stop.is_set()


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Until another thread (the heartbeat) did something; a condition, not a sleep of fixed length."""
    deadline = time.monotonic() + timeout
    idle = threading.Event()  # never set: a short, interruptible pause between looks
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        idle.wait(0.005)
