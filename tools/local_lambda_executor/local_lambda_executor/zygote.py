"""Fork servers ("zygotes"): execution environments of one function version start as forks of a process
that has already imported the handler module, instead of as fresh interpreters.

A cold start then costs a fork and a port bind, not ~0.6 s of imports per environment, which matters
when LocalStack starts twenty environments at once on two cores. The zygote is `runtime.py` in zygote
mode (`runtime.zygote_main`); this module is its executor-side client and knows nothing of LocalStack,
so the unit tests drive it directly.

Everything an environment reads at import time must be the same for all environments sharing a zygote:
the zygote key covers the whole environment except `PER_ENVIRONMENT_VARIABLES`, which each child gets
in its spawn request (credentials are per environment in LocalStack: each one assumes the role anew).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from pathlib import Path
from typing import IO, Any

LOG = logging.getLogger(__name__)

ZYGOTE_FD_VARIABLE = "LOCAL_LAMBDA_ZYGOTE_FD"  # same name as in runtime.py (which stays import-free)
# What differs between environments of one version; everything else keys the zygote.
PER_ENVIRONMENT_VARIABLES = frozenset(
    {
        "LOCALSTACK_RUNTIME_ID",
        "LOCALSTACK_RUNTIME_ENDPOINT",
        "LOCAL_LAMBDA_PORT",
        "LOCAL_LAMBDA_RESTARTED",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "_X_AMZN_TRACE_ID",
    }
)
# What the zygote itself does not get: it serves no invocations. It keeps the first environment's
# credentials, so that a handler module creating clients at import time still finds valid ones.
ZYGOTE_DROPPED_VARIABLES = frozenset(
    {"LOCALSTACK_RUNTIME_ID", "LOCALSTACK_RUNTIME_ENDPOINT", "LOCAL_LAMBDA_PORT", "LOCAL_LAMBDA_RESTARTED"}
)
START_TIMEOUT_SECONDS = 60.0
SPAWN_TIMEOUT_SECONDS = 10.0


class ZygoteError(Exception):
    """The zygote could not start or could not fork an environment: start a plain runtime instead."""


def fork_server_enabled() -> bool:
    return os.environ.get("LOCAL_LAMBDA_FORK_SERVER", "1").strip().lower() not in {"0", "false", "no", "off"}


# Folders never searched for the source a zygote imported (environments, caches, build output).
_NOT_SOURCE = frozenset({"node_modules", "__pycache__", "build", "dist"})


def source_fingerprint(pythonpath: str) -> str:
    """The newest modification time of the Python source on a code path (`LOCAL_LAMBDA_PYTHONPATH`).

    A container-image function runs from this repository's folders, not from a deployed copy, so its
    function version does not change when its code does: the fingerprint keys the zygote instead, and
    an edited module gets a fresh zygote at the next cold start.
    """
    newest = 0
    stack = [Path(entry) for entry in pythonpath.split(os.pathsep) if entry]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name in _NOT_SOURCE:
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.name.endswith(".py"):
                with contextlib.suppress(OSError):
                    newest = max(newest, entry.stat().st_mtime_ns)
    return str(newest)


def zygote_key(owner: str, python: str, env: dict[str, str]) -> str:
    """One zygote per function version (owner), interpreter, environment (per-env variables aside) and
    version of the source it imports."""
    stable = {name: value for name, value in env.items() if name not in PER_ENVIRONMENT_VARIABLES}
    source = source_fingerprint(env.get("LOCAL_LAMBDA_PYTHONPATH", ""))
    digest = hashlib.sha256(json.dumps([owner, python, sorted(stable.items()), source]).encode())
    return digest.hexdigest()[:16]


class Zygote:
    """One fork server process and the line protocol to it (requests are serialised by a lock)."""

    def __init__(
        self,
        *,
        python: str,
        runtime_script: Path,
        env: dict[str, str],
        log_path: Path,
        pid_path: Path | None = None,
    ) -> None:
        self._python = python
        self._runtime_script = runtime_script
        self._env = {name: value for name, value in env.items() if name not in ZYGOTE_DROPPED_VARIABLES}
        self.log_path = log_path
        self._pid_path = pid_path
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._state_lock = threading.Condition()
        self._seq = 0
        self._pending: dict[int, Future[int]] = {}
        self._exit_codes: dict[int, int] = {}
        self._ready: Future[int] = Future()
        self._dead = False
        self._stopping = False
        self.on_death: Callable[[Zygote], None] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Starts the zygote and waits until it has imported the handler; raises `ZygoteError`."""
        ours, theirs = socket.socketpair()
        log: IO[bytes] = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                [self._python, "-P", "-s", str(self._runtime_script)],
                env=dict(self._env, **{ZYGOTE_FD_VARIABLE: str(theirs.fileno())}),
                cwd=self._env.get("LAMBDA_TASK_ROOT") or None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            raise ZygoteError(f"cannot start the zygote: {exc}") from exc
        finally:
            log.close()
            theirs.close()
        self._socket = ours
        if self._pid_path is not None:
            self._pid_path.write_text(f"{self._process.pid}\n")
        threading.Thread(target=self._read_events, name=f"zygote-{self._process.pid}", daemon=True).start()
        try:
            self._ready.result(timeout=timeout)
        except FutureTimeoutError as exc:
            self.stop()
            raise ZygoteError(f"the zygote was not ready after {timeout:.0f} s") from exc
        except ZygoteError:
            self.stop()
            raise

    def alive(self) -> bool:
        with self._state_lock:
            return not self._dead and self._process is not None and self._process.poll() is None

    def spawn(self, env: dict[str, str], log_path: Path, timeout: float = SPAWN_TIMEOUT_SECONDS) -> int:
        """Forks one environment with `env` (the full environment) logging to `log_path`; its pid."""
        future: Future[int] = Future()
        with self._state_lock:
            if self._dead or self._socket is None:
                raise ZygoteError("the zygote is not running")
            self._seq += 1
            seq = self._seq
            self._pending[seq] = future
        request = json.dumps({"seq": seq, "env": env, "log": str(log_path)}).encode() + b"\n"
        try:
            with self._send_lock:
                self._socket.sendall(request)
            return future.result(timeout=timeout)
        except (OSError, FutureTimeoutError) as exc:
            raise ZygoteError(f"spawn request failed: {exc!r}") from exc
        finally:
            with self._state_lock:
                self._pending.pop(seq, None)

    def exit_code(self, pid: int, timeout: float) -> int | None:
        """The exit status the zygote reaped for `pid` (None: not reported in time, e.g. zygote gone)."""
        with self._state_lock:
            self._state_lock.wait_for(lambda: pid in self._exit_codes or self._dead, timeout=timeout)
            return self._exit_codes.pop(pid, None)

    def stop(self) -> None:
        """Kills the zygote (its environments follow it: they exit when their parent does)."""
        with self._state_lock:
            self._stopping = True
        process = self._process
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                LOG.warning("Lambda zygote pid %s did not exit", process.pid)
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
        if self._pid_path is not None:
            self._pid_path.unlink(missing_ok=True)
        self._mark_dead("stopped")

    # ------------------------------------------------------------------ events
    def _read_events(self) -> None:
        sock = self._socket
        assert sock is not None
        buffer = b""
        reason = "its control socket closed"
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self._handle_event(json.loads(line))
        except OSError as exc:
            reason = f"its control socket failed: {exc}"
        except ValueError as exc:
            reason = f"it sent a malformed event: {exc}"
        self._mark_dead(reason)

    def _handle_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "ready":
            self._ready.set_result(int(event["pid"]))
        elif kind == "failed":
            if not self._ready.done():
                self._ready.set_exception(ZygoteError(f"the zygote failed: {event.get('error')}"))
        elif kind in {"spawned", "spawn_failed"}:
            with self._state_lock:
                future = self._pending.get(int(event["seq"]))
            if future is not None and not future.done():
                if kind == "spawned":
                    future.set_result(int(event["pid"]))
                else:
                    future.set_exception(ZygoteError(f"fork failed: {event.get('error')}"))
        elif kind == "exit":
            with self._state_lock:
                self._exit_codes[int(event["pid"])] = int(event["code"])
                self._state_lock.notify_all()

    def _mark_dead(self, reason: str) -> None:
        was_running = self._ready.done() and self._ready.exception() is None
        with self._state_lock:
            if self._dead:
                return
            self._dead = True
            stopping = self._stopping or not was_running
            pending = list(self._pending.values())
            self._state_lock.notify_all()
        error = ZygoteError(f"the zygote is gone: {reason}")
        if not self._ready.done():
            self._ready.set_exception(error)
        for future in pending:
            if not future.done():
                future.set_exception(error)
        if not stopping:
            LOG.warning("Lambda zygote pid %s died (%s)", self.pid, reason)
            if self.on_death is not None:
                self.on_death(self)


class ForkedProcess:
    """A `Popen`-like handle on an environment forked by a zygote (not our child: no `waitpid`).

    The exit is seen through a pidfd, opened at once so that a reused pid can never be mistaken for it;
    the status comes from the zygote, which reaps its children."""

    def __init__(self, pid: int, zygote: Zygote) -> None:
        self.pid = pid
        self._zygote = zygote
        self.returncode: int | None = None
        self._lock = threading.Lock()
        self._pidfd: int | None
        try:
            self._pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._pidfd = None

    def poll(self) -> int | None:
        return self.wait(timeout=0) if self._exited(0) else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited(timeout):
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
        with self._lock:
            if self.returncode is None:
                code = self._zygote.exit_code(self.pid, timeout=2)
                self.returncode = code if code is not None else -signal.SIGKILL
            return self.returncode

    def __del__(self) -> None:
        # Closed only here: another thread may still be selecting on it.
        if getattr(self, "_pidfd", None) is not None:
            with contextlib.suppress(OSError):
                os.close(self._pidfd)  # type: ignore[arg-type]

    def _exited(self, timeout: float | None) -> bool:
        with self._lock:
            if self.returncode is not None or self._pidfd is None:
                return True
            pidfd = self._pidfd
        readable, _, _ = select.select([pidfd], [], [], timeout)
        return bool(readable)


class ZygotePool:
    """The zygotes of all function versions, by key; a key whose zygote failed or died falls back to
    plain runtimes for good (logged once)."""

    def __init__(self, python: Callable[[], str], runtime_script: Path) -> None:
        self._python = python
        self._runtime_script = runtime_script
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._zygotes: dict[str, Zygote] = {}
        self._owners: dict[str, str] = {}
        self._failed: set[str] = set()

    def get(self, owner: str, env: dict[str, str], log_dir: Path, name: str) -> Zygote | None:
        """The zygote for this environment (started on first use), or None: start a plain runtime."""
        python = self._python()
        key = zygote_key(owner, python, env)
        with self._lock:
            if key in self._failed:
                return None
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # concurrent first starts wait for one zygote instead of starting twenty
            with self._lock:
                if key in self._failed:
                    return None
                zygote = self._zygotes.get(key)
            if zygote is not None:
                if zygote.alive():
                    return zygote
                self.discard(key, "it died")
                return None
            zygote = Zygote(
                python=python,
                runtime_script=self._runtime_script,
                env=env,
                log_path=log_dir / f"zygote-{name}-{key}.log",
                pid_path=log_dir / f"zygote-{name}-{key}.pid",
            )
            try:
                zygote.start()
            except ZygoteError as exc:
                self.discard(key, str(exc))
                return None
            zygote.on_death = lambda dead: self.discard(key, "it died", only=dead)
            with self._lock:
                # A zygote of older source stays until its version is cleaned up: environments forked
                # from it end with it, and one of them may still be running.
                self._zygotes[key] = zygote
                self._owners[key] = owner
            LOG.debug("Lambda zygote for %s: pid %s", owner, zygote.pid)
            return zygote

    def discard(self, key: str, reason: str, only: Zygote | None = None) -> None:
        """Stops the key's zygote and starts plain runtimes for it from now on."""
        with self._lock:
            zygote = self._zygotes.get(key)
            if only is not None and zygote is not only:
                return
            self._zygotes.pop(key, None)
            self._owners.pop(key, None)
            self._failed.add(key)
        LOG.warning("Lambda fork server off for this function version (%s): plain runtimes instead", reason)
        if zygote is not None:
            zygote.stop()

    def forget(self, zygote: Zygote, reason: str) -> None:
        """A spawn failed: no more forks from this zygote."""
        with self._lock:
            keys = [key for key, known in self._zygotes.items() if known is zygote]
        for key in keys:
            self.discard(key, reason, only=zygote)

    def stop_owner(self, owner: str) -> None:
        with self._lock:
            keys = [key for key, known in self._owners.items() if known == owner]
            zygotes = [self._zygotes.pop(key) for key in keys if key in self._zygotes]
            for key in keys:
                self._owners.pop(key, None)
        for zygote in zygotes:
            zygote.stop()

    def stop_all(self) -> None:
        with self._lock:
            zygotes = list(self._zygotes.values())
            self._zygotes.clear()
            self._owners.clear()
        for zygote in zygotes:
            zygote.stop()
