"""Run one ffmpeg command: time limit, progress from `-progress pipe:1`, errors with stderr's tail."""

from __future__ import annotations

import collections
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import IO

from render import limits
from render.confinement import tool_environment
from render.errors import RenderFailedError, RenderResourcesError, RenderTimeoutError

_STDERR_TAIL_LINES = 40
# ffmpeg's own words when it stops on a signal it catches (SIGTERM, SIGINT) or when memory runs out
_STOPPED_BY_SYSTEM = re.compile(
    r"received signal \d+|Cannot allocate memory|Out of memory|std::bad_alloc", re.IGNORECASE
)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def exit_error(returncode: int, stderr_tail: str) -> RenderFailedError | RenderResourcesError:
    """The error of a non-zero ffmpeg exit: killed or out of memory is transient, anything else is not.

    A negative return code is a signal (`subprocess`); SIGKILL is what the out-of-memory killer sends.
    The signal or exit code goes to the logs (``stderr_tail``), never into the client's message.
    """
    if returncode < 0:
        detail = f"ffmpeg killed by {_signal_name(-returncode)}"
        return RenderResourcesError(stderr_tail=f"{detail}\n{stderr_tail}".rstrip())
    if _STOPPED_BY_SYSTEM.search(stderr_tail):
        return RenderResourcesError(stderr_tail=f"ffmpeg exited with code {returncode}\n{stderr_tail}")
    return RenderFailedError(f"ffmpeg exited with code {returncode}", stderr_tail=stderr_tail)


def parse_progress(lines: Iterable[str], total_seconds: float) -> Iterable[float]:
    """Yield a fraction 0..1 for every progress block of ffmpeg's `-progress` output."""
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and value not in ("", "N/A"):
            try:
                seconds = int(value) / 1_000_000
            except ValueError:
                continue
            yield min(1.0, max(0.0, seconds / total_seconds)) if total_seconds > 0 else 0.0
        elif key == "progress" and value == "end":
            yield 1.0


def _drain(stream: IO[bytes], tail: collections.deque[str]) -> None:
    for raw in stream:
        tail.append(raw.decode(errors="replace").rstrip())


def run_ffmpeg(
    argv: Sequence[str],
    *,
    total_seconds: float,
    on_progress: Callable[[float], None] | None = None,
    timeout_seconds: float = limits.RENDER_TIMEOUT_SECONDS,
) -> float:
    """Run ffmpeg; return the wall-clock seconds it took.

    Raises RenderTimeoutError past `timeout_seconds` (the process is killed), RenderResourcesError when
    ffmpeg was killed by a signal or ran out of memory (transient), and RenderFailedError on any other
    non-zero exit; all carry the tail of stderr for logs.
    """
    started = time.monotonic()
    tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=tool_environment(),
        )
    except OSError as exc:
        raise RenderFailedError("the renderer could not start", stderr_tail=str(exc)) from exc
    timed_out = threading.Event()

    def _kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout_seconds, _kill)
    assert proc.stdout is not None and proc.stderr is not None  # noqa: S101 - both are pipes
    drainer = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
    drainer.start()
    timer.start()
    last = -1.0
    try:
        lines = (raw.decode(errors="replace") for raw in proc.stdout)
        for fraction in parse_progress(lines, total_seconds):
            if on_progress is not None and fraction > last:
                last = fraction
                on_progress(fraction)
        returncode = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        drainer.join(timeout=5)
    stderr_tail = "\n".join(tail)
    if timed_out.is_set():
        raise RenderTimeoutError(f"rendering took longer than {timeout_seconds:g} s", stderr_tail=stderr_tail)
    if returncode != 0:
        raise exit_error(returncode, stderr_tail)
    return time.monotonic() - started
