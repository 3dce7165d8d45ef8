"""LocalStack `RuntimeExecutor` that runs Lambda execution environments as local processes (no Docker).

Runs inside LocalStack (its own venv). An environment process runs in a new process group on a free
127.0.0.1 port and speaks the same executor protocol as LocalStack's Docker runtime-init, so API Gateway
proxies, event source mappings and `lambda invoke` all go through LocalStack's real invocation path:

* a zip function, and an image function mapped to this repository's source, is `runtime.py` started
  with the project's interpreter (`LOCAL_LAMBDA_PYTHON`), which imports the handler itself;
* an image function mapped to its built image (`image_map.ImageRootfs`) runs inside the image's root
  file system (`scripts/image/enter.sh`: read-only root, a fresh writable /tmp,
  the image's user): the image's python runs `runtime_api.py` (mounted read-only, `image_runtime.py`),
  which starts the image's own entry point (awslambdaric) and serves it the Lambda Runtime API. No fork
  server for these.

At most `LOCAL_LAMBDA_MAX_ENVIRONMENTS` processes per function version, and a FIFO queue beyond them
(`pool.py`). LocalStack creates one execution environment (one `LocalProcessRuntimeExecutor`) for each
invocation that finds none idle, so a burst of 70 calls makes 70 of them. Each is a member of its
version's pool of processes:

* `start()` (LocalStack's cold start) starts a process only while the version has fewer than
  `min(LOCAL_LAMBDA_MAX_ENVIRONMENTS, its environments)` processes; beyond that the environment is a
  lightweight proxy with no process of its own;
* `invoke()` runs the invocation on any idle process of the version. With none idle and no room for
  another, the invocation waits in the version's queue: first come, first served, each one for at most
  its function's timeout. It then runs with its full timeout as usual. An invocation still waiting after
  its timeout is answered as a Lambda timeout (`Sandbox.Timedout`, "no free environment process"),
  never throttled (no 429) and never sent to a new process;
* `stop()` (LocalStack's keep-alive, an error, a new version) removes the member; processes beyond the
  version's remaining environments stop, so idle processes still end after `LAMBDA_KEEPALIVE_MS`.

A process that dies is restarted on its port (as Lambda resets the sandbox after a timeout); one that
cannot be reached or keeps dying is replaced. With the fork server every process of a version is a fork
of its zygote (`zygote.py`), started only when the pool needs a process.

Settings (environment of the LocalStack process):
  LOCAL_LAMBDA_PYTHON           interpreter for the functions (default: `python3` on PATH)
  LOCAL_LAMBDA_IMAGE_HANDLERS   JSON file mapping container-image functions to their built image (its
                                mounted root file system) or to code in this repository (`image_map.py`)
  LOCAL_LAMBDA_LOG_DIR          where each environment process's stdout/stderr file goes
  LOCAL_LAMBDA_FORK_SERVER      1 (default): processes are forked from a per-version zygote that has
                                imported the handler already (`zygote.py`); 0: a fresh interpreter each
  LOCAL_LAMBDA_MAX_ENVIRONMENTS most environment processes per function version (default: two per
                                usable core, 2 to 16; `limits.py`)
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from pathlib import Path
from typing import IO, Any

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import (
    NAMESPACE,
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor
from localstack.utils.net import get_free_tcp_port

from local_lambda_executor.image_map import ImageMapError, ImageRootfs, resolve_image_handler
from local_lambda_executor.image_runtime import enter_command, fresh_tmp
from local_lambda_executor.limits import MAX_ENVIRONMENTS_VARIABLE, max_environments
from local_lambda_executor.pool import EnvironmentPool, PoolClosedError, QueueTimeoutError
from local_lambda_executor.runtime_api import COMMAND_VARIABLE as IMAGE_COMMAND_VARIABLE
from local_lambda_executor.zygote import ForkedProcess, ZygoteError, ZygotePool, fork_server_enabled

LOG = logging.getLogger(__name__)

RUNTIME_SCRIPT = Path(__file__).with_name("runtime.py")
LOCAL_HOST = "127.0.0.1"
# Variables of the LocalStack process passed on to functions: tools (ffmpeg on PATH), locale, temp dir.
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
# Docker-only paths in LocalStack's environment that make no sense for a local process.
DROPPED_VARIABLES = ("LAMBDA_RUNTIME_DIR", "LOCALSTACK_CHMOD_PATHS")
RESTART_MIN_LIFETIME_SECONDS = 5.0


def default_python() -> str:
    return os.environ.get("LOCAL_LAMBDA_PYTHON") or shutil.which("python3") or "python3"


ZYGOTES = ZygotePool(default_python, RUNTIME_SCRIPT)


def version_owner(function_version: FunctionVersion) -> str:
    """Identifies one function version's code and configuration (an update gets a new revision)."""
    return f"{function_version.qualified_arn}#{function_version.config.internal_revision}"


def runtime_endpoint(runtime_id: str) -> str:
    """Where a process with this id posts ready/response/error (LocalStack's executor router)."""
    return f"http://{LOCAL_HOST}:{config.GATEWAY_LISTEN[0].port}{NAMESPACE}/{runtime_id}"


def log_dir() -> Path:
    path = Path(os.environ.get("LOCAL_LAMBDA_LOG_DIR") or Path(config.dirs.tmp) / "local-lambda")
    path.mkdir(parents=True, exist_ok=True)
    return path


class EnvironmentProcess:
    """One runtime process of a version's pool (and its children, in one process group), with its own
    id and LocalStack executor endpoint: whichever execution environment holds it sends it invocations."""

    def __init__(
        self,
        function_version: FunctionVersion,
        template: dict[str, str],
        image: ImageRootfs | None,
        on_broken: Callable[[EnvironmentProcess], None],
    ) -> None:
        self.id = uuid.uuid4().hex
        self.function_version = function_version
        self.image = image
        self.endpoint = ExecutorEndpoint(self.id, container_address=LOCAL_HOST, container_port=None)
        self.endpoint.container_port = get_free_tcp_port()
        self._env = dict(
            template,
            LOCAL_LAMBDA_PORT=str(self.endpoint.container_port),
            LOCALSTACK_RUNTIME_ID=self.id,
            LOCALSTACK_RUNTIME_ENDPOINT=runtime_endpoint(self.id),
        )
        self._on_broken = on_broken
        self._process: subprocess.Popen[bytes] | ForkedProcess | None = None
        self._stopped = threading.Event()
        self._ready = False
        self._lock = threading.Lock()
        name = function_version.id.function_name
        self.log_path = log_dir() / f"{name}-{self.id}.log"
        # `make dev-down` kills the process groups listed here should LocalStack die without stopping them.
        self._pid_path = self.log_path.with_suffix(".pid")
        # An image environment's /tmp: emptied for every (re)start, as a fresh sandbox's.
        self.tmp_path = Path(tempfile.gettempdir()) / "lambda-tmp" / f"{name}-{self.id}"

    # --------------------------------------------------------------- lifecycle
    def start(self, timeout: float) -> None:
        """Starts the runtime and waits for its ready (an init error raises `StatusErrorException`)."""
        self.endpoint.start()
        try:
            self._spawn(restarted=False)
            assert self.endpoint.startup_future is not None
            self.endpoint.startup_future.result(timeout=timeout)
        except FutureTimeoutError as exc:
            self.stop()
            raise LambdaRuntimeException(f"Lambda environment process not ready after {timeout:g} s") from exc
        except CancelledError as exc:  # stopped while starting
            self.stop()
            raise LambdaRuntimeException("Lambda environment process stopped during start-up") from exc
        except BaseException:
            self.stop()
            raise
        self._ready = True

    def _spawn(self, restarted: bool) -> None:
        env = dict(self._env, LOCAL_LAMBDA_RESTARTED="1" if restarted else "0")
        # The fork server imports handlers with the project's python: not for image environments.
        process = (None if self.image else self._fork(env)) or self._start_process(env)
        with self._lock:
            self._process = process
            if self._stopped.is_set():  # stop() ran while this (re)start was under way
                _kill_group(process.pid)
                return
        self._pid_path.write_text(f"{process.pid}\n")
        LOG.debug(
            "Lambda environment process %s: pid %s, port %s", self.id, process.pid, env["LOCAL_LAMBDA_PORT"]
        )
        threading.Thread(
            target=self._watch,
            args=(process, restarted, time.monotonic()),
            name=f"lambda-watch-{self.id}",
            daemon=True,
        ).start()

    def _fork(self, env: dict[str, str]) -> ForkedProcess | None:
        """The process forked from its version's zygote; None: start a fresh interpreter."""
        if not fork_server_enabled():
            return None
        zygote = ZYGOTES.get(
            version_owner(self.function_version),
            env,
            self.log_path.parent,
            self.function_version.id.function_name,
        )
        if zygote is None:
            return None
        try:
            return ForkedProcess(zygote.spawn(env, self.log_path), zygote)
        except ZygoteError as exc:
            ZYGOTES.forget(zygote, str(exc))
            return None

    def _start_process(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        if self.image is None:
            # -P: keep the runtime's own directory off sys.path; -s: no user site-packages.
            argv, cwd = [default_python(), "-P", "-s", str(RUNTIME_SCRIPT)], env["LAMBDA_TASK_ROOT"]
        else:
            argv, cwd = self._image_command(self.image), None
        log: IO[bytes] = self.log_path.open("ab")
        try:
            return subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    def _image_command(self, image: ImageRootfs) -> list[str]:
        fresh_tmp(image, self.tmp_path)
        return enter_command(image, self.tmp_path)

    def _watch(
        self, process: subprocess.Popen[bytes] | ForkedProcess, restarted: bool, started: float
    ) -> None:
        """Turns an unexpected exit into an error for whoever waits, then restarts the runtime."""
        code = process.wait()
        _kill_group(process.pid)
        if self._stopped.is_set():
            return
        endpoint = self.endpoint
        error = json.dumps(
            {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"Runtime exited with error: exit status {code}",
            }
        ).encode()
        if endpoint.startup_future is not None and not endpoint.startup_future.done():
            endpoint.startup_future.set_exception(
                StatusErrorException("Environment startup failed", payload=error)
            )
            return
        invocation: Future[InvocationResult] | None = endpoint.invocation_future
        if invocation is not None and not invocation.done():
            invocation.set_result(InvocationResult("", error, is_error=True, logs=endpoint.logs))
        if not self._ready:  # failed init: start() reports it
            return
        if restarted and time.monotonic() - started < RESTART_MIN_LIFETIME_SECONDS:
            # A restart that dies at once would loop: the pool replaces this process instead.
            LOG.warning("Lambda environment process %s keeps exiting (%s); replacing it", self.id, code)
            self._on_broken(self)
            return
        LOG.debug("Lambda environment process %s exited (%s); restarting its runtime", self.id, code)
        self._spawn(restarted=True)

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        return self.endpoint.invoke(payload)

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            process = self._process
        if process is not None:
            _kill_group(process.pid)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                LOG.warning("Lambda environment process %s (pid %s) did not exit", self.id, process.pid)
        self._pid_path.unlink(missing_ok=True)
        shutil.rmtree(self.tmp_path, ignore_errors=True)
        try:
            self.endpoint.shutdown()
        except Exception as exc:
            LOG.debug("Error while shutting down executor endpoint %s: %s", self.id, exc)

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except OSError:
            return "No logs (the environment process did not start)"


class VersionPool:
    """The processes of one function version: an `EnvironmentPool` that starts `EnvironmentProcess`es
    from the environment LocalStack gave the latest execution environment (fresh credentials)."""

    def __init__(self, function_version: FunctionVersion, limit: int) -> None:
        self.function_version = function_version
        self.template: dict[str, str] = {}
        self.image: ImageRootfs | None = None
        self.last_started: EnvironmentProcess | None = None
        self.processes: EnvironmentPool[EnvironmentProcess] = EnvironmentPool(
            limit,
            self._start_process,
            self._stop_process,
            name=f"Lambda {function_version.qualified_arn}",
        )

    def attach(self, template: dict[str, str], image: ImageRootfs | None) -> None:
        self.template = template
        self.image = image
        self.processes.attach()

    def _start_process(self) -> EnvironmentProcess:
        process = EnvironmentProcess(self.function_version, self.template, self.image, self.processes.discard)
        self.last_started = process
        process.start(timeout=float(config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT))
        return process

    @staticmethod
    def _stop_process(process: EnvironmentProcess) -> None:
        process.stop()


class VersionPools:
    """The pools of all function versions, by `version_owner`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, VersionPool] = {}

    def get(self, function_version: FunctionVersion) -> VersionPool:
        owner = version_owner(function_version)
        with self._lock:
            pool = self._pools.get(owner)
            if pool is None:
                pool = self._pools[owner] = VersionPool(function_version, max_environments())
                LOG.debug("%s: at most %d environment processes", owner, pool.processes.limit)
            return pool

    def close(self, function_version: FunctionVersion) -> None:
        with self._lock:
            pool = self._pools.pop(version_owner(function_version), None)
        if pool is not None:
            pool.processes.close()

    def close_all(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.processes.close()


POOLS = VersionPools()
atexit.register(ZYGOTES.stop_all)
atexit.register(POOLS.close_all)  # runs first: environments before their zygotes


class LocalProcessRuntimeExecutor(RuntimeExecutor):  # type: ignore[misc]
    """One LocalStack execution environment: a member of its version's pool of processes."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._pool: VersionPool | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._last_process: EnvironmentProcess | None = None

    # --------------------------------------------------------------- lifecycle
    def start(self, env_vars: dict[str, str]) -> None:
        template, image = self._build_environment(env_vars)
        pool = POOLS.get(self.function_version)
        with self._lock:
            if self._stopped:
                raise LambdaRuntimeException(f"Lambda environment {self.id} stopped before it started")
            pool.attach(template, image)
            self._pool = pool
        if not pool.processes.warm():
            LOG.debug(
                "Lambda environment %s shares the %d processes of its version", self.id, pool.processes.limit
            )

    def _build_environment(self, env_vars: dict[str, Any]) -> tuple[dict[str, str], ImageRootfs | None]:
        """The environment of the version's processes, and the image to run them in (None: on the host)."""
        function_env = {key: str(value) for key, value in env_vars.items() if key not in DROPPED_VARIABLES}
        env = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
        env.update(function_env)
        config_ = self.function_version.config
        if config_.package_type == PackageType.Image:
            image_config = config_.image_config
            try:
                image = resolve_image_handler(
                    config_.image.image_uri,
                    image_config.command if image_config else None,
                    os.environ.get("LOCAL_LAMBDA_IMAGE_HANDLERS"),
                    entrypoint=image_config.entrypoint if image_config else None,
                    working_directory=image_config.working_directory if image_config else None,
                )
            except ImageMapError as exc:
                raise LambdaRuntimeException(str(exc)) from exc
            if image.rootfs is not None:
                return self._image_environment(image.rootfs, function_env), image.rootfs
            if not image.handler:
                raise LambdaRuntimeException(f"No handler for image function {config_.image.image_uri!r}")
            env["_HANDLER"] = image.handler
            env["LOCAL_LAMBDA_PYTHONPATH"] = os.pathsep.join(image.pythonpath)
            task_root = image.workdir or (image.pythonpath[0] if image.pythonpath else str(Path.cwd()))
        else:
            task_root = str(config_.code.get_unzipped_code_location())
            env["LOCAL_LAMBDA_PYTHONPATH"] = task_root
        env["LAMBDA_TASK_ROOT"] = task_root
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env, None

    @staticmethod
    def _image_environment(image: ImageRootfs, function_env: dict[str, str]) -> dict[str, str]:
        """The image's variables, then the function's and LocalStack's (they win, as on Lambda); none of
        the host's: its PATH, HOME and TMPDIR mean nothing inside the image."""
        env = dict(image.env)
        env.update(function_env)
        env["LAMBDA_TASK_ROOT"] = image.workdir
        env[IMAGE_COMMAND_VARIABLE] = json.dumps(image.command)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.processes.detach()

    # --------------------------------------------------------------- protocol
    def get_address(self) -> str:
        return LOCAL_HOST

    def get_endpoint_from_executor(self) -> str:
        return LOCAL_HOST

    def get_runtime_endpoint(self) -> str:
        # Each process gets its own (`EnvironmentProcess`); this one only fills LocalStack's variables.
        return runtime_endpoint(self.id)

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        pool = self._pool
        if pool is None:
            raise LambdaRuntimeException(f"Lambda environment {self.id} is not running")
        timeout = float(self.function_version.config.timeout)
        try:
            process = pool.processes.acquire(timeout)
        except QueueTimeoutError:
            return self._queue_timeout(payload, timeout, pool.processes.limit)
        except PoolClosedError as exc:
            raise LambdaRuntimeException(str(exc)) from exc
        self._last_process = process
        try:
            result = process.invoke(payload)
        except BaseException:
            pool.processes.discard(process)  # unreachable or stopped: not for the next invocation
            raise
        pool.processes.release(process)
        return result

    @staticmethod
    def _queue_timeout(payload: dict[str, str], timeout: float, limit: int) -> InvocationResult:
        request_id = str(payload.get("invoke-id", ""))
        message = (
            f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
            f" (waiting for a free environment process: {MAX_ENVIRONMENTS_VARIABLE}={limit})"
        )
        body = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
        return InvocationResult(request_id, body, is_error=True, logs=message + "\n")

    def get_logs(self) -> str:
        process = self._last_process or (self._pool.last_started if self._pool else None)
        if process is None:
            return "No logs (no environment process ran for this environment)"
        return process.logs()

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        # Zip code is unzipped once per version; image functions need no preparation (no image pull).
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Stops the version's processes and its zygote (LocalStack removes the unzipped code itself)."""
        POOLS.close(function_version)
        ZYGOTES.stop_owner(version_owner(function_version))

    @classmethod
    def validate_environment(cls) -> bool:
        python = default_python()
        if not (shutil.which(python) or Path(python).is_file()):
            LOG.warning("LOCAL_LAMBDA_PYTHON=%s not found: Lambda functions cannot start", python)
            return False
        try:
            max_environments()
        except ValueError as exc:
            LOG.warning("%s: Lambda functions cannot start", exc)
            return False
        return True


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
