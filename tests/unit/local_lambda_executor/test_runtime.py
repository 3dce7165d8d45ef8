"""The runtime bootstrap against a fake LocalStack executor endpoint, as a real separate process.

The fake endpoint records what the runtime posts (`status/<id>/ready|error`,
`invocations/<id>/logs|response|error`); the tests drive it with `POST /invoke` like LocalStack does.
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
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local_lambda_executor import runtime
from local_lambda_executor.image_map import ImageMapError, image_key_candidates, resolve_image_handler
from tests.unit.local_lambda_executor.fake_endpoint import RUNTIME_ID, FakeEndpoint, free_port, post_invoke


@dataclass
class RunningRuntime:
    process: subprocess.Popen[bytes]
    port: int

    def invoke(self, request_id: str, event: Any) -> None:
        post_invoke(self.port, request_id, event)


@pytest.fixture
def start_runtime(tmp_path: Path, endpoint: FakeEndpoint) -> Iterator[Callable[..., RunningRuntime]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(code: str, handler: str = "fn_module.handler", timeout: int = 3) -> RunningRuntime:
        (tmp_path / "fn_module.py").write_text(textwrap.dedent(code))
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LOCAL_LAMBDA_PORT": str(port),
            "LOCALSTACK_RUNTIME_ENDPOINT": endpoint.url,
            "LOCALSTACK_RUNTIME_ID": RUNTIME_ID,
            "LOCAL_LAMBDA_PYTHONPATH": str(tmp_path),
            "LAMBDA_TASK_ROOT": str(tmp_path),
            "_HANDLER": handler,
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout),
        }
        process = subprocess.Popen(
            [sys.executable, "-P", "-s", runtime.__file__],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        started.append(process)
        return RunningRuntime(process, port)

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


HANDLER = """
    import time

    def handler(event, context):
        print("handling", event["n"], context.aws_request_id)
        if event.get("fail"):
            raise ValueError("boom")
        return {
            "double": event["n"] * 2,
            "function": context.function_name,
            "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(),
        }
"""


def test_invocation_posts_logs_then_response(
    start_runtime: Callable[..., RunningRuntime], endpoint: FakeEndpoint
) -> None:
    running = start_runtime(HANDLER)
    endpoint.wait_for(f"/status/{RUNTIME_ID}/ready")

    running.invoke("req-1", {"n": 21})

    result = json.loads(endpoint.wait_for("/invocations/req-1/response"))
    assert result["double"] == 42
    assert result["function"] == "fn"
    assert result["memory"] == 256
    assert 0 < result["remaining"] <= 3000
    logs = json.loads(endpoint.wait_for("/invocations/req-1/logs"))["logs"]
    assert "START RequestId: req-1" in logs
    assert "handling 21 req-1" in logs
    assert "REPORT RequestId: req-1" in logs
    assert "Init Duration" in logs  # first invocation of the environment
    paths = endpoint.paths()
    logs_at = next(i for i, p in enumerate(paths) if p.endswith("/invocations/req-1/logs"))
    response_at = next(i for i, p in enumerate(paths) if p.endswith("/invocations/req-1/response"))
    assert logs_at < response_at  # LocalStack attaches the logs it holds when the result arrives


def test_handler_exception_posts_lambda_error_document(
    start_runtime: Callable[..., RunningRuntime], endpoint: FakeEndpoint
) -> None:
    running = start_runtime(HANDLER)
    endpoint.wait_for("/ready")

    running.invoke("req-err", {"n": 1, "fail": True})
    running.invoke("req-ok", {"n": 2})

    error = json.loads(endpoint.wait_for("/invocations/req-err/error"))
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "boom"
    assert error["requestId"] == "req-err"
    assert any("fn_module.py" in line for line in error["stackTrace"])
    assert not any("runtime.py" in line for line in error["stackTrace"])
    logs = json.loads(endpoint.wait_for("/invocations/req-err/logs"))["logs"]
    assert "[ERROR] ValueError: boom" in logs
    # The environment survives a failed invocation.
    assert json.loads(endpoint.wait_for("/invocations/req-ok/response"))["double"] == 4


def test_timeout_posts_error_and_ends_the_process_group(
    start_runtime: Callable[..., RunningRuntime], endpoint: FakeEndpoint, tmp_path: Path
) -> None:
    running = start_runtime(
        f"""
        import subprocess, time

        def handler(event, context):
            child = subprocess.Popen(["sleep", "30"])
            open({str(tmp_path / "child.pid")!r}, "w").write(str(child.pid))
            time.sleep(30)
        """,
        timeout=1,
    )
    endpoint.wait_for("/ready")

    running.invoke("req-slow", {})

    error = json.loads(endpoint.wait_for("/invocations/req-slow/error", timeout=10))
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert running.process.wait(timeout=10) != 0
    child_pid = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the killed child may linger as a zombie briefly
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{child_pid}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.1)
    else:
        pytest.fail("the handler's child process outlived the timeout")


def test_import_failure_is_reported_as_init_error(
    start_runtime: Callable[..., RunningRuntime], endpoint: FakeEndpoint
) -> None:
    running = start_runtime("import module_that_does_not_exist\n")

    error = json.loads(endpoint.wait_for(f"/status/{RUNTIME_ID}/error"))
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "module_that_does_not_exist" in error["errorMessage"]
    assert running.process.wait(timeout=10) == 1
    assert not any(path.endswith("/ready") for path in endpoint.paths())


def test_missing_handler_function_is_reported(
    start_runtime: Callable[..., RunningRuntime], endpoint: FakeEndpoint
) -> None:
    start_runtime(HANDLER, handler="fn_module.nope")

    error = json.loads(endpoint.wait_for("/error"))
    assert error["errorType"] == "Runtime.HandlerNotFound"


class RecordingClient(runtime.RuntimeClient):
    def __init__(self) -> None:
        super().__init__("http://unused", RUNTIME_ID)
        self.calls: list[tuple[str, str, Any]] = []

    def logs(self, request_id: str, text: str) -> None:
        self.calls.append(("logs", request_id, text))

    def response(self, request_id: str, body: bytes) -> None:
        self.calls.append(("response", request_id, json.loads(body)))

    def error(self, request_id: str, error: dict[str, Any]) -> None:
        self.calls.append(("error", request_id, error))


def _in_process(handler: runtime.Handler) -> tuple[runtime.Runtime, RecordingClient]:
    client = RecordingClient()
    loop = runtime.Runtime(
        handler,
        client=client,
        sink=runtime.LogSink(),
        env={"AWS_LAMBDA_FUNCTION_NAME": "fn"},
        timeout_seconds=3,
        on_timeout=lambda: None,
    )
    return loop, client


def test_dynamodb_numbers_in_results_are_serialised_like_lambda() -> None:
    loop, client = _in_process(lambda event, context: {"progress": Decimal("0.5"), "attempt": Decimal(2)})

    loop.handle({"invoke-id": "r1", "payload": "{}"})

    assert client.calls[-1] == ("response", "r1", {"progress": 0.5, "attempt": 2})


def test_unserialisable_result_is_a_marshal_error() -> None:
    loop, client = _in_process(lambda event, context: {"x": object()})

    loop.handle({"invoke-id": "r2", "payload": "{}"})

    kind, _, error = client.calls[-1]
    assert kind == "error"
    assert error["errorType"] == "Runtime.MarshalError"


def test_image_map_matches_uri_repo_tag_or_repo(tmp_path: Path) -> None:
    mapping = tmp_path / "images.json"
    mapping.write_text(
        json.dumps({"video-export-worker": {"pythonpath": ["/w"], "handler": "export_worker.handler.h"}})
    )
    uri = "000000000000.dkr.ecr.us-east-1.localhost.localstack.cloud:4566/video-export-worker:local"

    assert image_key_candidates(uri)[-2:] == ["video-export-worker:local", "video-export-worker"]
    resolved = resolve_image_handler(uri, None, str(mapping))
    assert (resolved.pythonpath, resolved.handler) == (["/w"], "export_worker.handler.h")
    # ImageConfig.Command overrides the handler, as it does for the Lambda base image.
    assert resolve_image_handler(uri, ["other.mod.fn"], str(mapping)).handler == "other.mod.fn"
    with pytest.raises(ImageMapError, match="not in"):
        resolve_image_handler("somewhere/else:1", None, str(mapping))
