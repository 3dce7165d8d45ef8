"""LocalStack `RuntimeExecutor` that runs each execution environment as a local Python process.

Runs inside LocalStack (its own venv). Each environment is `runtime.py` started with the project's
interpreter (`LOCAL_LAMBDA_PYTHON`) in a new process group on a free 127.0.0.1 port; it speaks the same
executor protocol as LocalStack's Docker runtime-init, so API Gateway proxies, event source mappings and
`lambda invoke` all go through LocalStack's real invocation path.

Settings (environment of the LocalStack process):
  LOCAL_LAMBDA_PYTHON         interpreter for the functions (default: the first `python3.12` on PATH)
  LOCAL_LAMBDA_IMAGE_HANDLERS JSON file mapping container-image functions to code in this repository
  LOCAL_LAMBDA_LOG_DIR        where each environment's stdout/stderr file goes
  LOCAL_LAMBDA_FORK_SERVER    1 (default): environments are forked from a per-version zygote that has
                              imported the handler already (`zygote.py`); 0: a fresh interpreter each
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
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import ExecutorEndpoint, StatusErrorException
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor
from localstack.utils.net import get_free_tcp_port

from local_lambda_executor.image_map import ImageMapError, resolve_image_handler
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
    return os.environ.get("LOCAL_LAMBDA_PYTHON") or shutil.which("python3.12") or "python3"


ZYGOTES = ZygotePool(default_python, RUNTIME_SCRIPT)
atexit.register(ZYGOTES.stop_all)


def version_owner(function_version: FunctionVersion) -> str:
    """Identifies one function version's code and configuration (an update gets a new revision)."""
    return f"{function_version.qualified_arn}#{function_version.config.internal_revision}"


class LocalProcessRuntimeExecutor(RuntimeExecutor):  # type: ignore[misc]
    """One execution environment = one local process (and its children, in one process group)."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = ExecutorEndpoint(id, container_address=LOCAL_HOST, container_port=None)
        self._process: subprocess.Popen[bytes] | ForkedProcess | None = None
        self._env: dict[str, str] = {}
        self._stopped = threading.Event()
        self._ready = False
        self._lock = threading.Lock()
        log_dir = Path(os.environ.get("LOCAL_LAMBDA_LOG_DIR") or Path(config.dirs.tmp) / "local-lambda")
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log_path = log_dir / f"{function_version.id.function_name}-{id}.log"
        # `make dev-down` kills the process groups listed here should LocalStack die without stopping them.
        self._pid_path = log_dir / f"{function_version.id.function_name}-{id}.pid"

    # --------------------------------------------------------------- lifecycle
    def start(self, env_vars: dict[str, str]) -> None:
        self.executor_endpoint.start()
        self.executor_endpoint.container_port = get_free_tcp_port()
        self._env = self._build_environment(env_vars)
        self._spawn(restarted=False)
        self.executor_endpoint.wait_for_startup()
        self._ready = True

    def _build_environment(self, env_vars: dict[str, Any]) -> dict[str, str]:
        env = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
        env.update({key: str(value) for key, value in env_vars.items() if key not in DROPPED_VARIABLES})
        config_ = self.function_version.config
        if config_.package_type == PackageType.Image:
            try:
                image = resolve_image_handler(
                    config_.image.image_uri,
                    config_.image_config.command if config_.image_config else None,
                    os.environ.get("LOCAL_LAMBDA_IMAGE_HANDLERS"),
                )
            except ImageMapError as exc:
                raise LambdaRuntimeException(str(exc)) from exc
            if not image.handler:
                raise LambdaRuntimeException(f"No handler for image function {config_.image.image_uri!r}")
            env["_HANDLER"] = image.handler
            env["LOCAL_LAMBDA_PYTHONPATH"] = os.pathsep.join(image.pythonpath)
            task_root = image.workdir or (image.pythonpath[0] if image.pythonpath else str(Path.cwd()))
        else:
            task_root = str(config_.code.get_unzipped_code_location())
            env["LOCAL_LAMBDA_PYTHONPATH"] = task_root
        env["LAMBDA_TASK_ROOT"] = task_root
        env["LOCAL_LAMBDA_PORT"] = str(self.executor_endpoint.container_port)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    def _spawn(self, restarted: bool) -> None:
        env = dict(self._env, LOCAL_LAMBDA_RESTARTED="1" if restarted else "0")
        process = self._fork(env) or self._start_process(env)
        with self._lock:
            self._process = process
            if self._stopped.is_set():  # stop() ran while this (re)start was under way
                _kill_group(process.pid)
                return
        self._pid_path.write_text(f"{process.pid}\n")
        LOG.debug("Lambda environment %s: pid %s, port %s", self.id, process.pid, env["LOCAL_LAMBDA_PORT"])
        threading.Thread(
            target=self._watch,
            args=(process, restarted, time.monotonic()),
            name=f"lambda-watch-{self.id}",
            daemon=True,
        ).start()

    def _fork(self, env: dict[str, str]) -> ForkedProcess | None:
        """The environment forked from its version's zygote; None: start a fresh interpreter."""
        if not fork_server_enabled():
            return None
        zygote = ZYGOTES.get(
            version_owner(self.function_version),
            env,
            self._log_path.parent,
            self.function_version.id.function_name,
        )
        if zygote is None:
            return None
        try:
            return ForkedProcess(zygote.spawn(env, self._log_path), zygote)
        except ZygoteError as exc:
            ZYGOTES.forget(zygote, str(exc))
            return None

    def _start_process(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log: IO[bytes] = self._log_path.open("ab")
        try:
            # -P: keep the runtime's own directory off sys.path; -s: no user site-packages.
            return subprocess.Popen(
                [default_python(), "-P", "-s", str(RUNTIME_SCRIPT)],
                env=env,
                cwd=env["LAMBDA_TASK_ROOT"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    def _watch(
        self, process: subprocess.Popen[bytes] | ForkedProcess, restarted: bool, started: float
    ) -> None:
        """Turns an unexpected exit into an error for whoever waits, then restarts the runtime."""
        code = process.wait()
        _kill_group(process.pid)
        if self._stopped.is_set():
            return
        endpoint = self.executor_endpoint
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
        if not self._ready:  # failed init: LocalStack stops this environment itself
            return
        if restarted and time.monotonic() - started < RESTART_MIN_LIFETIME_SECONDS:
            # A restart that dies at once would loop; the next invoke fails and LocalStack replaces us.
            LOG.warning("Lambda environment %s keeps exiting (%s); not restarting it again", self.id, code)
            return
        LOG.debug("Lambda environment %s exited (%s); restarting its runtime", self.id, code)
        self._spawn(restarted=True)

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            process = self._process
        if process is not None:
            _kill_group(process.pid)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                LOG.warning("Lambda environment %s (pid %s) did not exit", self.id, process.pid)
        self._pid_path.unlink(missing_ok=True)
        try:
            self.executor_endpoint.shutdown()
        except Exception as exc:
            LOG.debug("Error while shutting down executor endpoint %s: %s", self.id, exc)

    # --------------------------------------------------------------- protocol
    def get_address(self) -> str:
        return LOCAL_HOST

    def get_endpoint_from_executor(self) -> str:
        return LOCAL_HOST

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{LOCAL_HOST}:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        return self.executor_endpoint.invoke(payload)

    def get_logs(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-20000:]
        except OSError:
            return "No logs (the environment did not start)"

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        # Zip code is unzipped once per version; image functions need no preparation (no image pull).
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Stops the version's zygote (LocalStack removes the unzipped code itself)."""
        ZYGOTES.stop_owner(version_owner(function_version))

    @classmethod
    def validate_environment(cls) -> bool:
        python = default_python()
        if not (shutil.which(python) or Path(python).is_file()):
            LOG.warning("LOCAL_LAMBDA_PYTHON=%s not found: Lambda functions cannot start", python)
            return False
        return True


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
