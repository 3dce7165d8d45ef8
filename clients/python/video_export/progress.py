"""A small progress bar on stderr: redrawn in place on a terminal, one line per step elsewhere."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

_WIDTH = 30


def _size(value: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


class ProgressBar:
    """``label [#######.......]  42% <detail>``; thread-safe, so parallel uploads may share one.

    ``total`` is in bytes when ``unit="bytes"``, else a fraction total of 1.0 (``unit="%"``). On a terminal
    the line is redrawn at most every ``interval`` seconds; on anything else (a log, a pipe) a line is
    written when the percentage passes the next 10 % step or the status changes, so logs stay short.
    """

    def __init__(
        self,
        label: str,
        total: float,
        *,
        unit: str = "%",
        stream: TextIO | None = None,
        enabled: bool = True,
        interval: float = 0.1,
    ):
        self.label = label
        self.total = max(float(total), 0.0)
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.interval = interval
        self.done = 0.0
        self.status = ""
        self._lock = threading.Lock()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn_at = float("-inf")
        self._last_step = -1
        self._last_status = ""
        self._last_line = ""
        self._closed = False
        self._touched = False

    def fraction(self) -> float:
        if self.total <= 0:
            return 1.0 if self._closed else 0.0
        return min(max(self.done / self.total, 0.0), 1.0)

    def advance(self, delta: float) -> None:
        """Adds ``delta`` (may be negative: bytes of a failed attempt that will be sent again)."""
        with self._lock:
            self.done += delta
            self._touched = True
            self._draw(force=False)

    def update(self, done: float, status: str | None = None) -> None:
        """Sets the amount done (and a status word shown after the bar)."""
        with self._lock:
            self.done = done
            if status is not None:
                self.status = status
            self._touched = True
            self._draw(force=False)

    def close(self, status: str | None = None) -> None:
        """Draws the final state and ends the line (nothing at all for a bar that never moved)."""
        with self._lock:
            if self._closed:
                return
            if status is not None:
                self.status = status
            self._closed = True
            if not self._touched:
                return
            self._draw(force=True)
            if self.enabled and self._tty:
                self.stream.write("\n")
                self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def line(self) -> str:
        fraction = self.fraction()
        filled = round(fraction * _WIDTH)
        detail = f" {_size(self.done)}/{_size(self.total)}" if self.unit == "bytes" else ""
        status = f" {self.status}" if self.status else ""
        return (
            f"{self.label} [{'#' * filled}{'.' * (_WIDTH - filled)}] {fraction * 100:3.0f}%{detail}{status}"
        )

    def _draw(self, *, force: bool) -> None:
        if not self.enabled:
            return
        if self._tty:
            now = time.monotonic()
            if force or now - self._drawn_at >= self.interval:
                self._drawn_at = now
                self.stream.write("\r\x1b[2K" + self.line())
                self.stream.flush()
            return
        step, line = int(self.fraction() * 10), self.line()
        if (force and line != self._last_line) or step > self._last_step or self.status != self._last_status:
            self._last_step, self._last_status, self._last_line = step, self.status, line
            self.stream.write(line + "\n")
            self.stream.flush()
