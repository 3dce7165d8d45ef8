"""The per-version pool of environment processes: the bound, the FIFO queue and its deadline.

The first tests drive the pool with stand-in processes; the last ones with real runtime processes
forked from a zygote, invoked through their port and answering a fake LocalStack endpoint.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local_lambda_executor import runtime
from local_lambda_executor.limits import (
    MAX_ENVIRONMENTS_VARIABLE,
    default_max_environments,
    max_environments,
    usable_cores,
)
from local_lambda_executor.pool import EnvironmentPool, PoolClosedError, QueueTimeoutError
from local_lambda_executor.zygote import ForkedProcess, Zygote
from tests.unit.local_lambda_executor.fake_endpoint import FakeEndpoint, free_port, post_invoke


class Slot:
    """A stand-in for one environment process."""

    _ids = itertools.count(1)

    def __init__(self) -> None:
        self.id = next(self._ids)
        self.stopped = False


class Recorder:
    """start/stop callbacks for a pool of `Slot`s; counts what runs at once."""

    def __init__(self, start_delay: float = 0.0) -> None:
        self.start_delay = start_delay
        self.lock = threading.Lock()
        self.started: list[Slot] = []
        self.failures: list[Exception] = []  # raised by the next starts, in order
        self.busy = 0
        self.peak_busy = 0

    def start(self) -> Slot:
        time.sleep(self.start_delay)
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            slot = Slot()
            self.started.append(slot)
            return slot

    def stop(self, slot: Slot) -> None:
        slot.stopped = True

    def running(self) -> list[Slot]:
        with self.lock:
            return [slot for slot in self.started if not slot.stopped]

    def use(self, pool: EnvironmentPool[Slot], seconds: float, timeout: float = 10) -> Slot:
        """One invocation: acquire, `seconds` of work, release."""
        slot = pool.acquire(timeout)
        with self.lock:
            self.busy += 1
            self.peak_busy = max(self.peak_busy, self.busy)
        time.sleep(seconds)
        with self.lock:
            self.busy -= 1
        pool.release(slot)
        return slot


def _pool(recorder: Recorder, limit: int, members: int) -> EnvironmentPool[Slot]:
    pool = EnvironmentPool(limit, recorder.start, recorder.stop, name="fn:1")
    for _ in range(members):
        pool.attach()
    return pool


def _wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def _queue_in_order(
    pool: EnvironmentPool[Slot], count: int, target: Callable[[int], None]
) -> list[threading.Thread]:
    """Starts `count` invocations one after the other, each only once the previous one waits."""
    threads = []
    for index in range(count):
        waiting = pool.stats().waiting
        thread = threading.Thread(target=target, args=(index,))
        thread.start()
        _wait_until(lambda expected=waiting + 1: pool.stats().waiting == expected)
        threads.append(thread)
    return threads


def test_a_burst_runs_on_at_most_limit_processes_and_every_invocation_is_served() -> None:
    recorder = Recorder(start_delay=0.05)
    members = 30  # LocalStack made one execution environment per concurrent call
    pool = _pool(recorder, limit=4, members=members)
    with ThreadPoolExecutor(max_workers=members) as threads:
        served = list(threads.map(lambda _: recorder.use(pool, 0.02), range(members)))

    assert len(served) == members
    assert len(recorder.started) == 4
    assert recorder.peak_busy == 4
    assert {slot.id for slot in served} == {slot.id for slot in recorder.started}
    stats = pool.stats()
    assert (stats.processes, stats.idle, stats.waiting, stats.starting) == (4, 4, 0, 0)


def test_never_more_processes_than_execution_environments() -> None:
    recorder = Recorder()
    pool = _pool(recorder, limit=4, members=1)
    assert pool.warm()  # LocalStack's cold start of the only environment starts a process
    assert not pool.warm()  # ... and no second one for the same environment
    pool.attach()
    assert pool.warm()
    assert len(recorder.running()) == 2
    for _ in range(5):
        pool.attach()
    assert [pool.warm() for _ in range(5)] == [True, True, False, False, False]  # the limit
    assert len(recorder.running()) == 4


def test_the_queue_is_first_come_first_served() -> None:
    recorder = Recorder()
    pool = _pool(recorder, limit=1, members=6)
    held = pool.acquire(1)
    order: list[int] = []

    def invoke(index: int) -> None:
        slot = pool.acquire(10)
        order.append(index)
        pool.release(slot)

    threads = _queue_in_order(pool, 5, invoke)
    pool.release(held)
    for thread in threads:
        thread.join(10)

    assert order == [0, 1, 2, 3, 4]
    assert len(recorder.started) == 1  # all of them on the one process


def test_a_released_process_goes_to_the_head_of_the_queue_not_to_a_newcomer() -> None:
    recorder = Recorder()
    pool = _pool(recorder, limit=1, members=3)
    held = pool.acquire(1)
    got: list[str] = []
    threads = _queue_in_order(pool, 1, lambda _: got.append("queued") or pool.release(pool.acquire(10)))

    pool.release(held)
    late = pool.acquire(10)  # arrives after the release: the queued invocation had it first
    got.append("late")
    pool.release(late)
    threads[0].join(10)

    assert got == ["queued", "late"]


def test_an_invocation_waits_at_most_its_timeout_and_leaves_the_queue() -> None:
    recorder = Recorder()
    pool = _pool(recorder, limit=1, members=2)
    held = pool.acquire(1)

    started = time.monotonic()
    with pytest.raises(QueueTimeoutError, match=r"0\.3 s"):
        pool.acquire(0.3)
    assert 0.3 <= time.monotonic() - started < 2
    assert pool.stats().waiting == 0

    pool.release(held)  # nobody waits any more: the process goes idle
    assert pool.stats().idle == 1
    assert pool.acquire(0.1) is held


def test_stopped_environments_take_their_surplus_processes_with_them() -> None:
    recorder = Recorder()
    pool = _pool(recorder, limit=3, members=5)
    slots = [pool.acquire(1) for _ in range(3)]
    pool.release(slots[0])

    for _ in range(3):  # LocalStack's keep-alive stops three of the five environments
        pool.detach()
    assert slots[0].stopped  # idle: stopped at once (2 environments left, 3 processes)
    assert not slots[1].stopped
    pool.release(slots[1])
    pool.release(slots[2])
    assert len(recorder.running()) == 2

    pool.detach()
    pool.detach()
    assert recorder.running() == []  # no environment left, no process left


def test_a_start_error_fails_the_environment_that_started_it() -> None:
    recorder = Recorder()
    recorder.failures.append(RuntimeError("Unable to import module 'fn_module'"))
    pool = _pool(recorder, limit=2, members=1)

    with pytest.raises(RuntimeError, match="Unable to import"):
        pool.warm()
    assert pool.stats().processes == 0
    assert pool.warm()  # the next cold start tries again


def test_a_start_error_goes_to_the_head_of_the_queue_and_the_rest_still_get_processes() -> None:
    recorder = Recorder(start_delay=0.05)
    recorder.failures.append(RuntimeError("init failed"))
    pool = _pool(recorder, limit=1, members=3)
    outcomes: dict[int, str] = {}

    def invoke(index: int) -> None:
        try:
            slot = pool.acquire(10)
        except RuntimeError as exc:
            outcomes[index] = str(exc)
            return
        outcomes[index] = "served"
        pool.release(slot)

    with ThreadPoolExecutor(max_workers=3) as threads:
        list(threads.map(invoke, range(3)))

    assert sorted(outcomes.values()) == ["init failed", "served", "served"]
    assert len(recorder.started) == 1


def test_a_broken_process_is_replaced_for_the_waiting_invocations() -> None:
    recorder = Recorder()
    pool = _pool(recorder, limit=1, members=2)
    broken = pool.acquire(1)
    served: list[Slot] = []
    threads = _queue_in_order(pool, 1, lambda _: served.append(pool.acquire(10)))

    pool.discard(broken)  # it died mid-invocation
    threads[0].join(10)

    assert broken.stopped
    assert served and served[0] is not broken and not served[0].stopped
    assert pool.stats().processes == 1


def test_closing_the_version_fails_waiters_and_stops_every_process() -> None:
    recorder = Recorder()
    pool = _pool(recorder, limit=1, members=2)
    held = pool.acquire(1)
    errors: list[BaseException] = []

    def invoke(_: int) -> None:
        try:
            pool.acquire(10)
        except PoolClosedError as exc:
            errors.append(exc)

    threads = _queue_in_order(pool, 1, invoke)
    pool.close()
    threads[0].join(10)

    assert len(errors) == 1
    assert held.stopped
    with pytest.raises(PoolClosedError):
        pool.attach()


def test_the_limit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert max_environments({MAX_ENVIRONMENTS_VARIABLE: "5"}) == 5
    assert max_environments({MAX_ENVIRONMENTS_VARIABLE: " "}) == default_max_environments()
    assert max_environments({}) == default_max_environments()
    for bad in ("0", "-1", "four"):
        with pytest.raises(ValueError, match=MAX_ENVIRONMENTS_VARIABLE):
            max_environments({MAX_ENVIRONMENTS_VARIABLE: bad})
    monkeypatch.setattr("os.sched_getaffinity", lambda _: {0, 1})
    assert usable_cores() == 2
    assert default_max_environments() == 4  # two per core
    monkeypatch.setattr("os.sched_getaffinity", lambda _: {0})
    assert default_max_environments() == 2
    monkeypatch.setattr("os.sched_getaffinity", lambda _: set(range(64)))
    assert default_max_environments() == 16


# ------------------------------------------------------------------ real processes
HANDLER = """
    import os, time

    def handler(event, context):
        started = time.monotonic()
        time.sleep(event.get("sleep", 0))
        return {"pid": os.getpid(), "index": event["index"], "started": started}
"""


class RuntimeProcess:
    """An environment process forked from a zygote, with its own runtime id and port."""

    _ids = itertools.count(1)

    def __init__(self, zygote: Zygote, endpoint: FakeEndpoint, env: dict[str, str], log: Path) -> None:
        self.runtime_id = f"runtime{next(self._ids)}"
        self.port = free_port()
        self.endpoint = endpoint
        full = dict(
            env,
            LOCAL_LAMBDA_PORT=str(self.port),
            LOCALSTACK_RUNTIME_ENDPOINT=endpoint.url,
            LOCALSTACK_RUNTIME_ID=self.runtime_id,
            AWS_ACCESS_KEY_ID="AKIA1",
        )
        self.process = ForkedProcess(zygote.spawn(full, log), zygote)
        endpoint.wait_for(f"/status/{self.runtime_id}/ready")

    def invoke(self, request_id: str, event: dict[str, Any]) -> dict[str, Any]:
        post_invoke(self.port, request_id, event)
        result: dict[str, Any] = json.loads(self.endpoint.wait_for(f"/invocations/{request_id}/response"))
        return result

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=5)


@pytest.fixture
def zygote(tmp_path: Path) -> Iterator[Zygote]:
    (tmp_path / "fn_module.py").write_text(textwrap.dedent(HANDLER))
    started = Zygote(
        python=sys.executable,
        runtime_script=Path(runtime.__file__),
        env=_code_env(tmp_path),
        log_path=tmp_path / "zygote.log",
    )
    started.start(timeout=30)
    yield started
    started.stop()


def _code_env(code_dir: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "LOCAL_LAMBDA_PYTHONPATH": str(code_dir),
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": "fn_module.handler",
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "10",
        "PYTHONUNBUFFERED": "1",
    }


def _process_pool(
    zygote: Zygote, endpoint: FakeEndpoint, tmp_path: Path, limit: int, members: int
) -> tuple[EnvironmentPool[RuntimeProcess], list[RuntimeProcess]]:
    started: list[RuntimeProcess] = []

    def start() -> RuntimeProcess:
        process = RuntimeProcess(zygote, endpoint, _code_env(tmp_path), tmp_path / "env.log")
        started.append(process)
        return process

    pool: EnvironmentPool[RuntimeProcess] = EnvironmentPool(limit, start, RuntimeProcess.stop, name="fn:1")
    for _ in range(members):
        pool.attach()
    return pool, started


def _invoke(pool: EnvironmentPool[RuntimeProcess], index: int, sleep: float) -> dict[str, Any]:
    process = pool.acquire(20)
    try:
        return process.invoke(f"req-{index}", {"index": index, "sleep": sleep})
    finally:
        pool.release(process)


def test_real_processes_a_burst_of_twelve_runs_on_two_forks(
    zygote: Zygote, endpoint: FakeEndpoint, tmp_path: Path
) -> None:
    pool, started = _process_pool(zygote, endpoint, tmp_path, limit=2, members=12)
    try:
        with ThreadPoolExecutor(max_workers=12) as threads:
            results = list(threads.map(lambda index: _invoke(pool, index, 0.2), range(12)))
        assert [result["index"] for result in results] == list(range(12))  # every one answered
        assert len(started) == 2
        assert {result["pid"] for result in results} == {process.process.pid for process in started}
        # Never more than two at once: with two processes, 12 calls of 0.2 s take six rounds.
        ordered = sorted(result["started"] for result in results)
        assert all(later - earlier >= 0.15 for earlier, later in itertools.pairwise(ordered[::2]))
    finally:
        pool.close()


def test_real_processes_queued_invocations_run_in_arrival_order(
    zygote: Zygote, endpoint: FakeEndpoint, tmp_path: Path
) -> None:
    pool, started = _process_pool(zygote, endpoint, tmp_path, limit=1, members=6)
    try:
        pool.warm()
        results: dict[int, dict[str, Any]] = {}
        first = threading.Thread(target=lambda: results.setdefault(0, _invoke(pool, 0, 0.5)))
        first.start()
        _wait_until(lambda: pool.stats().idle == 0)
        threads = _queue_in_order(
            pool, 5, lambda index: results.setdefault(index + 1, _invoke(pool, index + 1, 0))
        )
        for thread in [first, *threads]:
            thread.join(20)

        by_start = sorted(results.values(), key=lambda result: result["started"])
        assert [result["index"] for result in by_start] == [0, 1, 2, 3, 4, 5]
        assert len(started) == 1
        response_order = [path.rsplit("/", 2)[-2] for path in endpoint.paths() if path.endswith("/response")]
        assert response_order == [f"req-{index}" for index in range(6)]
    finally:
        pool.close()
