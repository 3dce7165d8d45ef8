"""The heartbeat of a running attempt: it extends the job's lease and its message's visibility, often.

Both are short (``JOB_LEASE_SECONDS``, two heartbeats or more), so an attempt that dies, whatever kills it
(a crash, an out-of-memory kill, the Lambda timeout, a lost host), stops extending them and its job is
taken over within one lease instead of after the queue's visibility timeout. While the attempt lives, the
heartbeat keeps both ahead of it for as long as the render takes.

An extension the jobs table refuses means another attempt owns the job now (this one's lease ran out,
for example while the heartbeat could not reach the table): ``lost`` is set and the beating stops; the
caller abandons its work. A failed call (network, throttling) is only logged: the next beat tries again,
and the lease outlives one missed beat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

logger = logging.getLogger(__name__)

JOIN_TIMEOUT_SECONDS = 10.0

type Waiter = Callable[[threading.Event, float], bool]
"""Waits up to ``seconds`` for ``stop``; True when it was set. Real time by default, a manual clock's
in the fast unit tests (``tests/unit/worker/fakes.py``)."""


def wait_in_real_time(stop: threading.Event, seconds: float) -> bool:
    return stop.wait(seconds)


class Heartbeat:
    """A daemon thread beating every ``interval_seconds`` while the ``with`` block runs."""

    def __init__(
        self,
        *,
        extend_lease: Callable[[], bool],
        extend_visibility: Callable[[], None] | None,
        interval_seconds: float,
        wait: Waiter | None = None,
    ) -> None:
        self._extend_lease = extend_lease
        self._extend_visibility = extend_visibility
        self._interval = interval_seconds
        self._wait = wait or wait_in_real_time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = threading.Event()
        self.beats = 0
        self.failures = 0

    def beat(self) -> None:
        """One extension of the lease, then (only while the job is still ours) of the message."""
        try:
            owned = self._extend_lease()
        except Exception:
            self.failures += 1
            logger.warning("heartbeat could not extend the job's lease", exc_info=True)
            owned = True  # unknown: keep the message hidden; the table decides at the next beat
        else:
            if not owned:
                self.lost.set()
                self._stop.set()
                logger.warning("job no longer owned by this attempt; heartbeat stops")
                return
            self.beats += 1
        if self._extend_visibility is not None:
            try:
                self._extend_visibility()
            except Exception:
                self.failures += 1
                logger.warning("heartbeat could not extend the message's visibility", exc_info=True)

    def _run(self) -> None:
        while not self._wait(self._stop, self._interval):
            self.beat()

    def __enter__(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            # a beat under way normally finishes first, so no extension lands after the final write;
            # one stuck on the network is not waited for (its late write is refused or harmless)
            self._thread.join(timeout=JOIN_TIMEOUT_SECONDS)
