"""The Runtime API bridge (`runtime_api.py`) with AWS's real runtime interface client as its runtime.

Each test starts the bridge as LocalStack's executor does: its own process group, the package on
`sys.path` through the same bootstrap (`image_runtime.BRIDGE_BOOTSTRAP`), and
`python -m awslambdaric fn_module.handler` as the image's entry point, against the fake LocalStack
executor endpoint. Only the image is left out: `test_image_environment.py` and `make e2e` run the
bridge in it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_lambda_executor import runtime_api
from local_lambda_executor.image_runtime import BRIDGE_BOOTSTRAP, PACKAGE_PARENT
from tests.unit.local_lambda_executor.fake_endpoint import RUNTIME_ID, FakeEndpoint, free_port, post_invoke

pytest.importorskip("awslambdaric", reason="make venv installs the worker group (awslambdaric)")


@dataclass
class RunningBridge:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def invoke(self, request_id: str, event: Any) -> None:
        post_invoke(self.port, request_id, event)

    def ended(self, timeout: float = 10) -> bool:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True


@pytest.fixture
def start_bridge(tmp_path: Path, endpoint: FakeEndpoint) -> Iterator[Callable[..., RunningBridge]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(
        code: str, handler: str = "fn_module.handler", timeout: int = 3, **extra_env: str
    ) -> RunningBridge:
        (tmp_path / "fn_module.py").write_text(textwrap.dedent(code))
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LOCAL_LAMBDA_PORT": str(port),
            "LOCALSTACK_RUNTIME_ENDPOINT": endpoint.url,
            "LOCALSTACK_RUNTIME_ID": RUNTIME_ID,
            "LAMBDA_TASK_ROOT": str(tmp_path),
            runtime_api.COMMAND_VARIABLE: json.dumps([sys.executable, "-m", "awslambdaric", handler]),
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout),
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        log = tmp_path / f"bridge-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-I", "-c", BRIDGE_BOOTSTRAP, str(PACKAGE_PARENT)],
                env=env,
                cwd="/",
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return RunningBridge(process, port, log)

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


HANDLER = """
    import os
    import subprocess
    import sys
    import time

    print("init output")

    def handler(event, context):
        print("handling", event.get("n"), context.aws_request_id)
        if event.get("fail"):
            raise ValueError("boom")
        if event.get("child"):  # a long child process, like ffmpeg
            child = subprocess.Popen(["sleep", "60"])
            print("child", child.pid, flush=True)
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("big"):
            return {"data": "x" * event["big"]}
        return {
            "n": event.get("n"),
            "function": context.function_name,
            "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis(),
            "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
            "leaked": [k for k in os.environ if k.startswith(("LOCALSTACK_RUNTIME", "LOCAL_LAMBDA"))],
            "handler_variable": os.environ.get("_HANDLER"),
            "cwd": os.getcwd(),
            "pid_parent_is_bridge": os.getppid() != 1,
        }
"""


def _logs(endpoint: FakeEndpoint, request_id: str) -> str:
    return str(json.loads(endpoint.wait_for(f"/invocations/{request_id}/logs"))["logs"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_ready_once_the_runtime_asks_for_work_then_logs_before_response(
    start_bridge: Callable[..., RunningBridge], endpoint: FakeEndpoint, tmp_path: Path
) -> None:
    bridge = start_bridge(HANDLER)
    endpoint.wait_for(f"/status/{RUNTIME_ID}/ready")

    bridge.invoke("req-1", {"n": 21})

    result = json.loads(endpoint.wait_for("/invocations/req-1/response"))
    assert result["n"] == 21
    assert result["function"] == "fn"
    assert result["memory"] == "256"  # awslambdaric reads it from the environment: a string
    assert result["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert 0 < result["remaining"] <= 3000  # the deadline header
    assert result["runtime_api"] == f"127.0.0.1:{bridge.port}"
    assert result["leaked"] == []  # the executor's plumbing stays with the bridge
    assert result["handler_variable"] == "fn_module.handler"
    assert result["cwd"] == str(tmp_path)  # LAMBDA_TASK_ROOT, the image's WORKDIR
    logs = _logs(endpoint, "req-1")
    assert logs.startswith("START RequestId: req-1 Version: $LATEST\n")
    assert "handling 21 req-1" in logs
    assert "init output" not in logs  # the init's output is the environment's, not the invocation's
    assert "END RequestId: req-1\nREPORT RequestId: req-1\t" in logs
    assert "Init Duration" in logs
    paths = endpoint.paths()
    assert [p.rsplit("/", 1)[1] for p in paths] == ["ready", "logs", "response"]
    # the environment's log file has everything, init included
    assert "init output" in bridge.log.read_text()

    bridge.invoke("req-2", {"n": 2})
    assert json.loads(endpoint.wait_for("/invocations/req-2/response"))["n"] == 2
    second = _logs(endpoint, "req-2")
    assert "handling 2 req-2" in second and "handling 21" not in second
    assert "Init Duration" not in second  # only the first invocation of an environment reports it


def test_handler_exception_is_the_runtime_clients_error_document(
    start_bridge: Callable[..., RunningBridge], endpoint: FakeEndpoint
) -> None:
    bridge = start_bridge(HANDLER)
    endpoint.wait_for("/ready")

    bridge.invoke("req-err", {"n": 1, "fail": True})

    error = json.loads(endpoint.wait_for("/invocations/req-err/error"))
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom"
    assert error["requestId"] == "req-err"
    assert any("fn_module.py" in frame for frame in error["stackTrace"])
    assert "[ERROR] ValueError: boom" in _logs(endpoint, "req-err")
    # the environment lives on
    bridge.invoke("req-ok", {"n": 3})
    assert json.loads(endpoint.wait_for("/invocations/req-ok/response"))["n"] == 3


def test_import_error_is_an_init_error_and_the_environment_ends(
    start_bridge: Callable[..., RunningBridge], endpoint: FakeEndpoint
) -> None:
    bridge = start_bridge("import no_such_module\n")

    error = json.loads(endpoint.wait_for(f"/status/{RUNTIME_ID}/error"))

    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_module" in error["errorMessage"]
    assert bridge.ended()
    assert not any(p.endswith("/ready") for p in endpoint.paths())


def test_missing_entry_point_is_an_init_error(
    start_bridge: Callable[..., RunningBridge], endpoint: FakeEndpoint
) -> None:
    bridge = start_bridge(HANDLER, **{runtime_api.COMMAND_VARIABLE: json.dumps(["/nonexistent/python3"])})

    error = json.loads(endpoint.wait_for(f"/status/{RUNTIME_ID}/error"))

    assert error["errorType"] == "Runtime.InvalidEntrypoint"
    assert bridge.ended()


def test_timeout_posts_sandbox_timedout_and_kills_the_group_ffmpeg_included(
    start_bridge: Callable[..., RunningBridge], endpoint: FakeEndpoint
) -> None:
    bridge = start_bridge(HANDLER, timeout=2)
    endpoint.wait_for("/ready")
    started = time.monotonic()

    bridge.invoke("req-slow", {"n": 1, "child": True, "sleep": 30})

    error = json.loads(endpoint.wait_for("/invocations/req-slow/error"))
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in error["errorMessage"]
    assert 2 <= time.monotonic() - started < 5
    logs = _logs(endpoint, "req-slow")
    child_pid = int(logs.split("child ", 1)[1].split()[0])
    assert "Task timed out" in logs
    assert bridge.ended()
    deadline = time.monotonic() + 5
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child_pid)  # the handler's child went with the environment


def test_a_runtime_that_dies_mid_invocation_fails_it_and_ends_the_environment(
    start_bridge: Callable[..., RunningBridge], endpoint: FakeEndpoint
) -> None:
    bridge = start_bridge(HANDLER, timeout=30)
    endpoint.wait_for("/ready")
    bridge.invoke("req-killed", {"n": 1, "child": True, "sleep": 30})
    deadline = time.monotonic() + 10
    runtime_pids: list[int] = []
    while not runtime_pids and time.monotonic() < deadline:
        runtime_pids = [
            int(pid)
            for pid in os.listdir("/proc")
            if pid.isdigit() and _parent(int(pid)) == bridge.process.pid and b"awslambdaric" in _cmdline(pid)
        ]
        time.sleep(0.05)
    assert runtime_pids, "no awslambdaric child of the bridge"
    time.sleep(0.5)  # in the handler

    os.kill(runtime_pids[0], signal.SIGKILL)  # what the fault suite does to the worker

    error = json.loads(endpoint.wait_for("/invocations/req-killed/error"))
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status -9" in error["errorMessage"]
    assert bridge.ended()


def test_a_restarted_environment_serves_without_a_second_ready(
    start_bridge: Callable[..., RunningBridge], endpoint: FakeEndpoint
) -> None:
    bridge = start_bridge(HANDLER, LOCAL_LAMBDA_RESTARTED="1")

    bridge.invoke("req-after-restart", {"n": 5})  # waits in the bridge until the runtime asks

    assert json.loads(endpoint.wait_for("/invocations/req-after-restart/response"))["n"] == 5
    assert not any(p.endswith("/ready") for p in endpoint.paths())


def test_a_large_response_passes_whole(
    start_bridge: Callable[..., RunningBridge], endpoint: FakeEndpoint
) -> None:
    bridge = start_bridge(HANDLER)
    endpoint.wait_for("/ready")
    started = time.monotonic()

    bridge.invoke("req-big", {"n": 1, "big": 3_000_000})

    assert len(json.loads(endpoint.wait_for("/invocations/req-big/response"))["data"]) == 3_000_000
    assert time.monotonic() - started < 2  # no `Expect: 100-continue` stall


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
