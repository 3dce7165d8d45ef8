"""The environment processes of one function version: at most `limit`, shared by all of LocalStack's
execution environments of that version, handed to invocations in arrival order.

LocalStack creates an execution environment whenever an invocation finds none idle, so a burst of 70
calls makes 70 environments. Here an environment is only a *member* of its version's pool; processes
belong to the pool:

* a process is started when a member starts (`warm`, LocalStack's cold start) or an invocation finds
  none idle (`acquire`), but only while the pool holds fewer than `min(limit, members)` processes
  (started or starting): never more processes than `limit`, and never more than LocalStack keeps
  environments, so LocalStack's keep-alive still ends idle processes (`detach` stops the surplus);
* an invocation that finds no idle process and no room for another waits in one FIFO queue per
  version; a process that finishes an invocation goes to the head of the queue, else back to the idle
  list. A waiter gives up after its own deadline (`QueueTimeoutError`; the executor answers it as a
  function timeout);
* a process start that fails (the handler does not import, say) fails the invocation whose member
  started it (`warm`) or the invocation at the head of the queue; a broken process is `discard`ed and,
  when invocations wait, replaced.

Standard library only, no LocalStack: the unit tests drive it directly.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

LOG = logging.getLogger(__name__)


class QueueTimeoutError(Exception):
    """No process became free for an invocation within its deadline."""


class PoolClosedError(Exception):
    """The function version was cleaned up while an invocation waited."""


@dataclass(frozen=True)
class PoolStats:
    members: int
    processes: int
    idle: int
    starting: int
    waiting: int


class _Waiter[S]:
    """One invocation in the queue: it gets a process, or the error of a failed start."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.slot: S | None = None
        self.error: BaseException | None = None


class EnvironmentPool[S]:
    def __init__(
        self,
        limit: int,
        start_slot: Callable[[], S],
        stop_slot: Callable[[S], None],
        name: str = "",
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self.limit = limit
        self.name = name
        self._start_slot = start_slot
        self._stop_slot = stop_slot
        self._lock = threading.Lock()
        self._members = 0
        self._slots: list[S] = []
        self._idle: list[S] = []
        self._starting = 0
        self._waiters: deque[_Waiter[S]] = deque()
        self._closed = False

    # ------------------------------------------------------------------ members
    def attach(self) -> None:
        """A LocalStack execution environment of this version started."""
        with self._lock:
            if self._closed:
                raise PoolClosedError(f"the pool of {self.name} is closed")
            self._members += 1

    def detach(self) -> None:
        """A LocalStack execution environment stopped: idle processes beyond the new capacity stop
        (busy ones when they are released)."""
        with self._lock:
            self._members = max(0, self._members - 1)
            surplus = []
            while self._idle and len(self._slots) + self._starting > self._capacity():
                slot = self._idle.pop(0)  # the longest idle first
                self._slots.remove(slot)
                surplus.append(slot)
        for slot in surplus:
            self._stop_slot(slot)

    def warm(self) -> bool:
        """LocalStack's cold start of a member: starts a process if the pool has room for one (its
        start error is raised here). False: the pool is full, the member shares its processes."""
        with self._lock:
            if self._closed:
                raise PoolClosedError(f"the pool of {self.name} is closed")
            if not self._has_room():
                return False
            self._starting += 1
        self._start_one(error_to_queue=False)
        return True

    # -------------------------------------------------------------- invocations
    def acquire(self, timeout: float) -> S:
        """A process for one invocation: an idle one, a new one if there is room, else the next one
        released, in arrival order. Raises `QueueTimeoutError` after `timeout` seconds in the queue."""
        waiter: _Waiter[S] = _Waiter()
        with self._lock:
            if self._closed:
                raise PoolClosedError(f"the pool of {self.name} is closed")
            if self._idle and not self._waiters:
                return self._idle.pop()  # the most recently used: the warmest
            self._waiters.append(waiter)
            start = self._has_room()
            if start:
                self._starting += 1
            else:
                LOG.debug("%s: invocation queued (%d waiting)", self.name, len(self._waiters))
        if start:
            self._start_one(error_to_queue=True)
        if not waiter.event.wait(timeout):
            with self._lock:
                if not waiter.event.is_set():
                    self._waiters.remove(waiter)
                    raise QueueTimeoutError(f"no free environment process within {timeout:g} s")
        if waiter.error is not None:
            raise waiter.error
        assert waiter.slot is not None
        return waiter.slot

    def release(self, slot: S) -> None:
        """The invocation is over: the process serves the head of the queue, or waits idle. A process
        beyond the capacity (members left meanwhile) stops instead."""
        with self._lock:
            if slot not in self._slots:
                retire = True  # discarded or closed meanwhile
            elif self._closed or len(self._slots) + self._starting > self._capacity():
                self._slots.remove(slot)
                retire = True
            else:
                retire = False
                self._hand_out(slot)
        if retire:
            self._stop_slot(slot)
        self._refill()

    def discard(self, slot: S) -> None:
        """The process is broken (it died, or an invoke to it failed): stop it and, when invocations
        wait, start its replacement."""
        with self._lock:
            known = slot in self._slots
            if known:
                self._slots.remove(slot)
            if slot in self._idle:
                self._idle.remove(slot)
        if known:
            self._stop_slot(slot)
        self._refill()

    def close(self) -> None:
        """The version is gone: waiting invocations fail, every process stops."""
        with self._lock:
            self._closed = True
            slots, self._slots, self._idle = self._slots, [], []
            waiters, self._waiters = list(self._waiters), deque()
        for waiter in waiters:
            waiter.error = PoolClosedError(f"{self.name} was cleaned up")
            waiter.event.set()
        for slot in slots:
            self._stop_slot(slot)

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(
                members=self._members,
                processes=len(self._slots),
                idle=len(self._idle),
                starting=self._starting,
                waiting=len(self._waiters),
            )

    # ----------------------------------------------------------------- internal
    def _capacity(self) -> int:
        return min(self.limit, self._members)

    def _has_room(self) -> bool:
        # An invocation always comes from a member; room for one process at least, so it is served.
        return len(self._slots) + self._starting < max(self._capacity(), 1)

    def _hand_out(self, slot: S) -> None:
        """Under the lock: the slot goes to the head of the queue, else to the idle list."""
        if self._waiters:
            waiter = self._waiters.popleft()
            waiter.slot = slot
            waiter.event.set()
        else:
            self._idle.append(slot)

    def _start_one(self, *, error_to_queue: bool) -> None:
        """Starts one process (`_starting` already counts it) and hands it out. A start error goes to
        the head of the queue (`error_to_queue`), else to the caller."""
        try:
            slot = self._start_slot()
        except Exception as exc:
            with self._lock:
                self._starting -= 1
                head = self._waiters.popleft() if error_to_queue and self._waiters else None
                if head is not None:
                    head.error = exc
                    head.event.set()
            self._refill()
            if not error_to_queue:
                raise
            if head is None:
                LOG.warning("%s: an environment process failed to start: %s", self.name, exc)
            return
        with self._lock:
            self._starting -= 1
            closed = self._closed
            if not closed:
                self._slots.append(slot)
                self._hand_out(slot)
        if closed:
            self._stop_slot(slot)

    def _refill(self) -> None:
        """Invocations wait while the pool has room (a process died or failed to start): start more."""
        with self._lock:
            if self._closed:
                return
            count = 0
            while self._has_room() and self._starting < len(self._waiters):
                self._starting += 1
                count += 1
        for _ in range(count):
            threading.Thread(
                target=self._start_one, kwargs={"error_to_queue": True}, name="lambda-pool-start", daemon=True
            ).start()
