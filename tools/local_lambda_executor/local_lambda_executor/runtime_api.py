"""Lambda Runtime API bridge of one image environment (standard library only, run by the image's python).

A container-image function runs its image's own entry point (the worker's is AWS's runtime interface
client, `python3 -m awslambdaric HANDLER`), which speaks the Lambda Runtime API to
`AWS_LAMBDA_RUNTIME_API`. This process serves that API and translates it to LocalStack's executor
protocol, as the Lambda runtime-init does in LocalStack's Docker containers:

* it binds 127.0.0.1:`LOCAL_LAMBDA_PORT` first. LocalStack's `POST /invoke` and the runtime's
  `/2018-06-01/runtime/...` calls share that port;
* it starts the entry point (`LOCAL_LAMBDA_IMAGE_COMMAND`, a JSON argv) as its child, in its own process
  group, with `AWS_LAMBDA_RUNTIME_API` pointing at itself. The child's stdout/stderr become this
  process's output (the environment's log file) and the invocation's log events;
* the runtime's first `GET .../invocation/next` means its init is done: `.../status/<id>/ready`.
  `POST .../init/error` is posted as `.../status/<id>/error`;
* each `POST /invoke` is the answer to the pending `next`. The runtime's `.../response` or `.../error`
  becomes `.../invocations/<request id>/logs` and then `/response` or `/error`.

A runtime that outlives the function timeout gets `Sandbox.Timedout` posted for it, and the whole process
group is killed: this bridge, the runtime and its ffmpeg. A runtime that exits on its own has
`Runtime.ExitError` posted for its invocation and the group ends the same way. In both cases the
executor starts a fresh environment in its place (`executor.EnvironmentProcess._watch`).

The executor starts it inside the image's root file system (`executor.IMAGE_ENTER_SCRIPT`), with this
package mounted read-only at `RUNTIME_MOUNT`.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import select
import signal
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local_lambda_executor.runtime import LogSink, RuntimeClient, end_and_report, utc_now

API_PREFIX = "/2018-06-01/runtime"
COMMAND_VARIABLE = "LOCAL_LAMBDA_IMAGE_COMMAND"
# What the runtime does not see: the executor's plumbing between LocalStack and this bridge.
BRIDGE_VARIABLES = frozenset(
    {
        "LOCAL_LAMBDA_PORT",
        "LOCAL_LAMBDA_RESTARTED",
        COMMAND_VARIABLE,
        "LOCALSTACK_RUNTIME_ID",
        "LOCALSTACK_RUNTIME_ENDPOINT",
    }
)
# How long a result waits for the runtime's output still in the pipe (written before the result).
DRAIN_SECONDS = 1.0


@dataclass
class Invocation:
    request_id: str
    arn: str
    payload: bytes
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None
    started: float = 0.0
    deadline: float = 0.0
    done: bool = False
    timer: threading.Timer | None = None

    @classmethod
    def from_executor(cls, message: dict[str, Any]) -> Invocation:
        """LocalStack's `POST /invoke` body (`ExecutionEnvironment.invoke`)."""
        payload = message.get("payload")
        return cls(
            request_id=str(message["invoke-id"]),
            arn=str(message.get("invoked-function-arn") or ""),
            payload=(payload if payload is not None else "null").encode(),
            trace_id=str(message.get("trace-id") or ""),
            client_context=message.get("client-context"),
            cognito_identity=message.get("cognito-identity"),
        )


class OutputPump:
    """Copies the runtime's stdout/stderr (one pipe) to this process's stdout and the log sink.

    Reads happen under a lock and only when the pipe is readable, so `drain()` can take everything the
    runtime wrote before it posted a result: those bytes are in the pipe by then."""

    def __init__(self, fd: int, sink: LogSink) -> None:
        self._fd = fd
        self._sink = sink
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._run, name="runtime-output", daemon=True).start()

    def _read_available(self) -> bool:
        """Under the lock: reads what the pipe holds now. False at end of file."""
        while not self._closed and select.select([self._fd], [], [], 0)[0]:
            data = os.read(self._fd, 65536)
            if not data:
                self._closed = True
                return False
            text = data.decode(errors="replace")
            sys.stdout.write(text)
            sys.stdout.flush()
            self._sink.append(text)
            if len(data) < 65536:
                break
        return not self._closed

    def _run(self) -> None:
        while True:
            select.select([self._fd], [], [], 0.5)
            with self._lock:
                if not self._read_available():
                    return

    def drain(self) -> None:
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            with self._lock:
                self._read_available()
                if self._closed or _pending_bytes(self._fd) == 0:
                    return
            time.sleep(0.005)


def _pending_bytes(fd: int) -> int:
    try:
        buffer = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    return int.from_bytes(buffer, sys.byteorder)


class Bridge:
    """One environment: the runtime child, the pending `next`, the current invocation and its deadline."""

    def __init__(self, env: dict[str, str], client: RuntimeClient) -> None:
        self.env = env
        self.client = client
        self.sink = LogSink()
        self.invocations: queue.Queue[Invocation] = queue.Queue()
        self.timeout_seconds = float(env.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or 3)
        self.restarted = env.get("LOCAL_LAMBDA_RESTARTED") == "1"
        self.started = time.monotonic()
        self.init_ms: float | None = None
        self.child: subprocess.Popen[bytes] | None = None
        self.pump: OutputPump | None = None
        self._lock = threading.Lock()
        self._current: Invocation | None = None
        self._ready_sent = False
        self._init_failed = False

    # ------------------------------------------------------------------ runtime child
    def start_runtime(self, command: list[str], port: int) -> None:
        child_env = {k: v for k, v in self.env.items() if k not in BRIDGE_VARIABLES}
        child_env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{port}"
        if len(command) > 3 and "awslambdaric" in command[:3]:
            child_env.setdefault("_HANDLER", command[-1])
        read_fd, write_fd = os.pipe()
        self.child = subprocess.Popen(
            command,
            env=child_env,
            cwd=self.env.get("LAMBDA_TASK_ROOT") or "/",
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
        )
        os.close(write_fd)
        self.pump = OutputPump(read_fd, self.sink)
        threading.Thread(target=self._watch_child, name="runtime-watch", daemon=True).start()

    def _watch_child(self) -> None:
        assert self.child is not None
        code = self.child.wait()
        with self._lock:
            current = self._current
        if current is not None:
            self.sink.append(f"{utc_now()} RequestId: {current.request_id} Error: Runtime exited ({code})\n")
            self._finish(
                current,
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {current.request_id} Error: Runtime exited with error: "
                    f"exit status {code}",
                },
                is_error=True,
            )
        elif not self._ready_sent and not self._init_failed and not self.restarted:
            # It died before asking for work and without saying why (a missing python, a crash).
            self._drain()
            self.client.init_error(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"Runtime exited without providing a reason: exit status {code}",
                }
            )
        end_environment()

    def _drain(self) -> None:
        if self.pump is not None:
            self.pump.drain()

    # ------------------------------------------------------------------ Runtime API
    def next_invocation(self) -> Invocation:
        """The runtime's `GET .../invocation/next`: blocks until LocalStack sends an invocation."""
        with self._lock:
            first = not self._ready_sent
            self._ready_sent = True
        if first:  # reported with the first invocation, as Lambda's REPORT line does
            self.init_ms = (time.monotonic() - self.started) * 1000
        if first and not self.restarted:
            self._drain()  # init output belongs to the environment's log, not to the first invocation
            self.client.ready()
        invocation = self.invocations.get()
        self._drain()
        self.sink.take()  # output between invocations is not the next one's
        invocation.started = time.time()
        invocation.deadline = invocation.started + self.timeout_seconds
        version = self.env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.sink.append(f"START RequestId: {invocation.request_id} Version: {version}\n")
        with self._lock:
            self._current = invocation
        invocation.timer = threading.Timer(self.timeout_seconds, self._timed_out, args=(invocation,))
        invocation.timer.daemon = True
        invocation.timer.start()
        return invocation

    def result(self, request_id: str, body: bytes, is_error: bool, error_type: str | None) -> bool:
        """The runtime's `.../invocation/<id>/response|error`. False: not the current invocation."""
        with self._lock:
            current = self._current
        if current is None or current.request_id != request_id:
            return False
        if is_error:
            try:
                document: dict[str, Any] = json.loads(body or b"{}")
            except ValueError:
                document = {"errorMessage": body.decode(errors="replace")}
            if not isinstance(document, dict):
                document = {"errorMessage": str(document)}
            document.setdefault("errorType", error_type or "Runtime.Unknown")
            self._finish(current, document, is_error=True)
        else:
            self._finish(current, body, is_error=False)
        return True

    def init_error(self, body: bytes, error_type: str | None) -> None:
        """The runtime's `.../init/error` (the handler did not import): LocalStack's status error."""
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            document = {"errorMessage": body.decode(errors="replace")}
        if error_type and isinstance(document, dict):
            document.setdefault("errorType", error_type)
        self._init_failed = True
        self._drain()
        self.client.init_error(document)

    # ------------------------------------------------------------------ results
    def _timed_out(self, invocation: Invocation) -> None:
        seconds = self.timeout_seconds
        message = f"RequestId: {invocation.request_id} Error: Task timed out after {seconds:.2f} seconds"
        self.sink.append(f"{utc_now()} {message}\n")
        if self._finish(
            invocation, {"errorType": "Sandbox.Timedout", "errorMessage": message}, is_error=True
        ):
            end_environment()

    def _finish(self, invocation: Invocation, body: dict[str, Any] | bytes, *, is_error: bool) -> bool:
        """Posts the invocation's logs and result once (whichever of result, timeout and exit is first)."""
        with self._lock:
            if invocation.done:
                return False
            invocation.done = True
            if self._current is invocation:
                self._current = None
        if invocation.timer is not None and threading.current_thread() is not invocation.timer:
            invocation.timer.cancel()
        self._drain()
        self.sink.append(
            end_and_report(
                invocation.request_id, invocation.started, self.env, self._peak_memory_mb(), self.init_ms
            )
        )
        self.init_ms = None
        # The logs must arrive before the result: LocalStack attaches what it has when the result lands.
        self.client.logs(invocation.request_id, self.sink.take())
        if is_error:
            assert isinstance(body, dict)
            self.client.error(invocation.request_id, body)
        else:
            assert isinstance(body, bytes)
            self.client.response(invocation.request_id, body)
        return True

    def _peak_memory_mb(self) -> int:
        """VmHWM of the runtime process (the function's memory, not this bridge's)."""
        if self.child is None:
            return 0
        try:
            with open(f"/proc/{self.child.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) // 1024
        except OSError:
            pass
        return 0


class BridgeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int) -> None:
        self.bridge: Bridge | None = None
        super().__init__(("127.0.0.1", port), _BridgeRequestHandler)


class _BridgeRequestHandler(BaseHTTPRequestHandler):
    server: BridgeServer
    # HTTP/1.1: the runtime's client may keep its connection and send `Expect: 100-continue`.
    protocol_version = "HTTP/1.1"

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: HTTPStatus, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _status(self, status: HTTPStatus) -> None:
        self._answer(
            status, json.dumps({"status": status.phrase}).encode(), {"Content-Type": "application/json"}
        )

    def do_GET(self) -> None:
        bridge = self.server.bridge
        if bridge is None or self.path != f"{API_PREFIX}/invocation/next":
            self._status(HTTPStatus.NOT_FOUND)
            return
        invocation = bridge.next_invocation()
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(invocation.deadline * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
        }
        if invocation.client_context:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        if invocation.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
        self._answer(HTTPStatus.OK, invocation.payload, headers)

    def do_POST(self) -> None:
        body = self._body()
        bridge = self.server.bridge
        path = self.path.rstrip("/")
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        if path == "/invoke":  # LocalStack
            try:
                invocation = Invocation.from_executor(json.loads(body))
            except (ValueError, KeyError, TypeError):
                self._answer(HTTPStatus.BAD_REQUEST)
                return
            assert bridge is not None
            bridge.invocations.put(invocation)
            self._answer(HTTPStatus.ACCEPTED)
            return
        if bridge is None:
            self._status(HTTPStatus.NOT_FOUND)
            return
        if path == f"{API_PREFIX}/init/error":
            bridge.init_error(body, error_type)
            self._status(HTTPStatus.ACCEPTED)
            return
        prefix = f"{API_PREFIX}/invocation/"
        if path.startswith(prefix):
            request_id, _, kind = path[len(prefix) :].rpartition("/")
            if kind in {"response", "error"} and request_id:
                if bridge.result(request_id, body, kind == "error", error_type):
                    self._status(HTTPStatus.ACCEPTED)
                else:  # what Lambda answers for an unknown or finished request id
                    self._status(HTTPStatus.BAD_REQUEST)
                return
        self._status(HTTPStatus.NOT_FOUND)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request access lines: they would land in the function's logs."""


def end_environment() -> None:
    """Ends this bridge, the runtime and everything it started (ffmpeg): the sandbox reset."""
    sys.stdout.flush()
    os.killpg(os.getpgid(0), signal.SIGKILL)


def _exit_with_parent(parent_pid: int) -> None:
    """LocalStack killed without stopping its environments must not leave runtimes (and ffmpeg) behind."""
    while os.getppid() == parent_pid:
        time.sleep(1)
    end_environment()


def main() -> None:
    env = dict(os.environ)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    client = RuntimeClient(env["LOCALSTACK_RUNTIME_ENDPOINT"], env["LOCALSTACK_RUNTIME_ID"])
    port = int(env["LOCAL_LAMBDA_PORT"])
    server = BridgeServer(port)  # bound first: LocalStack's early invokes wait in the backlog
    bridge = Bridge(env, client)
    server.bridge = bridge
    threading.Thread(target=server.serve_forever, name="runtime-api", daemon=True).start()
    command = json.loads(env[COMMAND_VARIABLE])
    try:
        bridge.start_runtime(command, port)
    except OSError as exc:  # the entry point does not exist in the image
        message = f"Runtime failed to start: {command[0]}: {exc.strerror or exc}"
        sys.stderr.write(f"[ERROR] {message}\n")
        if not bridge.restarted:
            client.init_error({"errorType": "Runtime.InvalidEntrypoint", "errorMessage": message})
        sys.exit(1)
    threading.Event().wait()  # everything else happens on the server's and the watchers' threads


if __name__ == "__main__":
    main()
