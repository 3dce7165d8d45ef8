"""Throttled progress writes: a render reports often, the jobs table hears at most every few seconds."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger(__name__)


class ProgressSink(Protocol):
    """Where progress goes: ``JobRepository`` for a whole job, a chunk's frames for a fan-out task."""

    def report_progress(self, job_id: str, attempt: int, progress: float) -> bool: ...


class ProgressReporter:
    """``on_progress`` callback for the renderer. Never raises: progress is advisory."""

    def __init__(
        self,
        repo: ProgressSink,
        job_id: str,
        attempt: int,
        *,
        min_interval_seconds: float = 2.0,
        min_step: float = 0.05,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repo = repo
        self._job_id = job_id
        self._attempt = attempt
        self._min_interval = min_interval_seconds
        self._min_step = min_step
        self._monotonic = monotonic
        self._last_at: float | None = None
        self._last_value = 0.0
        self.writes = 0
        self.lost_ownership = False

    def __call__(self, progress: float) -> None:
        value = min(max(float(progress), 0.0), 1.0)
        now = self._monotonic()
        if self.lost_ownership or value <= self._last_value:
            return
        due = self._last_at is None or now - self._last_at >= self._min_interval
        if not due or (value - self._last_value < self._min_step and value < 1.0):
            return
        self._last_at = now
        self._last_value = value
        try:
            owned = self._repo.report_progress(self._job_id, self._attempt, value)
        except Exception:  # a throttled table must not fail the render
            logger.warning("progress write failed", exc_info=True)
            return
        self.writes += 1
        if not owned:
            self.lost_ownership = True
            logger.warning("job no longer owned by this attempt; progress writes stop")
