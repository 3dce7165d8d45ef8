"""Runtime bootstrap of one local Lambda execution environment (standard library only).

Started by `executor.LocalProcessRuntimeExecutor` with the project's Python, in its own process group.
It plays the part the Lambda runtime-init plays in LocalStack's Docker containers:

1. bind `POST /invoke` on 127.0.0.1:`LOCAL_LAMBDA_PORT` (first, so early invokes wait in the backlog),
2. import `_HANDLER` with the code directories first on `sys.path` (failure: `.../status/<id>/error`),
3. report `.../status/<id>/ready`,
4. per invoke: run the handler with a `LambdaContext`, capture its stdout/stderr, post
   `.../invocations/<request id>/logs` and then `/response` or `/error`.

A handler that outlives the function timeout gets the `Sandbox.Timedout` error posted for it and the
whole process group (the handler's ffmpeg children too) is killed; the executor then starts a fresh
runtime on the same port, as Lambda resets the sandbox after a timeout.

With `LOCAL_LAMBDA_ZYGOTE_FD` set it is a fork server instead (`zygote_main`, driven by `zygote.py`): it
imports the handler once and forks environments that skip step 2 (the import is already done).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import gc
import importlib
import io
import json
import os
import queue
import resource
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

Handler = Callable[[Any, "LambdaContext"], Any]


class LambdaContext:
    """The subset of the AWS Lambda Python context object handlers and Powertools use."""

    def __init__(self, request_id: str, invoked_arn: str, deadline_ms: int, env: dict[str, str]) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class OutputCapture(io.TextIOBase):
    """Replaces sys.stdout/sys.stderr: writes through to the real stream and records the current
    invocation's output, which becomes the invocation's CloudWatch log events.

    Installed before the handler module is imported, so loggers that keep a reference to sys.stdout
    from import time (Powertools) are captured too."""

    def __init__(self, target: TextIO, sink: LogSink) -> None:
        self._target = target
        self._sink = sink

    def write(self, s: str) -> int:
        self._target.write(s)
        self._target.flush()
        self._sink.append(s)
        return len(s)

    def flush(self) -> None:
        self._target.flush()

    def fileno(self) -> int:
        return self._target.fileno()

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", "utf-8")


class LogSink:
    """Thread-safe buffer of the current invocation's output."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: list[str] = []

    def append(self, s: str) -> None:
        with self._lock:
            self._parts.append(s)

    def take(self) -> str:
        with self._lock:
            text = "".join(self._parts)
            self._parts.clear()
            return text


class RuntimeClient:
    """Talks to LocalStack's executor endpoint (`LOCALSTACK_RUNTIME_ENDPOINT`)."""

    def __init__(self, endpoint: str, runtime_id: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.runtime_id = runtime_id
        # Never send LocalStack-internal callbacks through a proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _post(self, path: str, body: bytes) -> None:
        request = urllib.request.Request(  # noqa: S310 (the endpoint is LocalStack's http URL)
            f"{self.endpoint}{path}", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with self._opener.open(request, timeout=30) as response:
            response.read()

    def ready(self) -> None:
        self._post(f"/status/{self.runtime_id}/ready", b"{}")

    def init_error(self, error: dict[str, Any]) -> None:
        self._post(f"/status/{self.runtime_id}/error", json.dumps(error).encode())

    def logs(self, request_id: str, text: str) -> None:
        self._post(f"/invocations/{request_id}/logs", json.dumps({"logs": text}).encode())

    def response(self, request_id: str, body: bytes) -> None:
        self._post(f"/invocations/{request_id}/response", body)

    def error(self, request_id: str, error: dict[str, Any]) -> None:
        self._post(f"/invocations/{request_id}/error", json.dumps(error).encode())


def error_payload(
    exc: BaseException, error_type: str | None = None, message: str | None = None
) -> dict[str, Any]:
    """The error document the Python Lambda runtime produces (errorMessage/errorType/stackTrace)."""
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        # Frames of this bootstrap are not the function's business (Lambda hides its runtime's too).
        "stackTrace": traceback.format_list(
            [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename != __file__]
        ),
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def load_handler(spec: str) -> Handler:
    """Import `module.path.function`; raises `InitError` with Lambda's error types."""
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise InitError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        raise InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    except ImportError as exc:
        raise InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise InitError(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return handler  # type: ignore[no-any-return]


class InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class InvokeServer(ThreadingHTTPServer):
    """Accepts `POST /invoke` from LocalStack and queues it for the main thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, invocations: queue.Queue[dict[str, Any]]) -> None:
        self.invocations = invocations
        super().__init__(("127.0.0.1", port), _InvokeRequestHandler)


class _InvokeRequestHandler(BaseHTTPRequestHandler):
    server: InvokeServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/invoke":
            self.send_response(HTTPStatus.NOT_FOUND)
            self.end_headers()
            return
        try:
            self.server.invocations.put(json.loads(body))
        except ValueError:
            self.send_response(HTTPStatus.BAD_REQUEST)
            self.end_headers()
            return
        self.send_response(HTTPStatus.ACCEPTED)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request access lines: they would land in the function's logs."""


class Runtime:
    """One execution environment: the handler, the invoke loop and the timeout watchdog."""

    def __init__(
        self,
        handler: Handler,
        *,
        client: RuntimeClient,
        sink: LogSink,
        env: dict[str, str],
        timeout_seconds: float,
        on_timeout: Callable[[], None],
        init_ms: float | None = None,
    ) -> None:
        self.handler = handler
        self.client = client
        self.sink = sink
        self.env = env
        self.timeout_seconds = timeout_seconds
        self.on_timeout = on_timeout
        self._init_ms = init_ms
        self._done_lock = threading.Lock()

    def run_forever(self, invocations: queue.Queue[dict[str, Any]]) -> None:
        while True:
            self.handle(invocations.get())

    def handle(self, invocation: dict[str, Any]) -> None:
        request_id = str(invocation["invoke-id"])
        arn = str(invocation.get("invoked-function-arn") or "")
        trace_id = invocation.get("trace-id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = str(trace_id)
        start = time.time()
        deadline_ms = int((start + self.timeout_seconds) * 1000)
        context = LambdaContext(request_id, arn, deadline_ms, self.env)
        finished = {"done": False}
        self.sink.take()  # drop output produced between invocations
        self.sink.append(f"START RequestId: {request_id} Version: {context.function_version}\n")

        def claim() -> bool:
            with self._done_lock:
                if finished["done"]:
                    return False
                finished["done"] = True
                return True

        def timed_out() -> None:
            if not claim():
                return
            message = (
                f"RequestId: {request_id} Error: Task timed out after {self.timeout_seconds:.2f} seconds"
            )
            self.sink.append(f"{utc_now()} {message}\n")
            self._finish(request_id, start, {"errorType": "Sandbox.Timedout", "errorMessage": message}, True)
            self.on_timeout()

        watchdog = threading.Timer(self.timeout_seconds, timed_out)
        watchdog.daemon = True
        watchdog.start()
        try:
            event = json.loads(invocation.get("payload") or "null")
            result = self.handler(event, context)
            body: dict[str, Any] | bytes = json.dumps(result, default=_json_default).encode()
            is_error = False
        except Exception as exc:
            # Lambda prints the error record into the function's log, then returns it to the caller.
            error = error_payload(exc)
            if isinstance(exc, TypeError) and "JSON serializable" in str(exc):
                error = error_payload(exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}")
            error["requestId"] = request_id
            sys.stderr.write(f"[ERROR] {error['errorType']}: {error['errorMessage']}\n")
            sys.stderr.write("Traceback (most recent call last):\n" + "".join(error["stackTrace"]))
            body, is_error = error, True
        finally:
            watchdog.cancel()
        if claim():
            self._finish(request_id, start, body, is_error)

    def _finish(self, request_id: str, start: float, body: dict[str, Any] | bytes, is_error: bool) -> None:
        self.sink.append(end_and_report(request_id, start, self.env, _peak_memory_mb(), self._init_ms))
        self._init_ms = None
        # The logs must arrive before the result: LocalStack attaches what it has when the result lands.
        self.client.logs(request_id, self.sink.take())
        if is_error:
            assert isinstance(body, dict)
            self.client.error(request_id, body)
        else:
            assert isinstance(body, bytes)
            self.client.response(request_id, body)


def end_and_report(
    request_id: str, started: float, env: dict[str, str], peak_memory_mb: int, init_ms: float | None
) -> str:
    """Lambda's END and REPORT lines of one invocation (Init Duration on a cold start's first)."""
    duration_ms = (time.time() - started) * 1000
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\t"
        f"Memory Size: {env.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', '128')} MB\t"
        f"Max Memory Used: {peak_memory_mb} MB"
    )
    if init_ms is not None:
        report += f"\tInit Duration: {init_ms:.2f} ms"
    return f"END RequestId: {request_id}\n{report}\n"


def _peak_memory_mb() -> int:
    """VmHWM of this process (ru_maxrss would include the forked LocalStack parent's peak)."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):  # noqa: SIM115
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _kill_own_process_group() -> None:
    """Ends this runtime and every child it started (ffmpeg), like the sandbox reset after a timeout."""
    sys.stdout.flush()
    os.killpg(os.getpgid(0), signal.SIGKILL)


def _exit_with_parent(parent_pid: int) -> None:
    """LocalStack killed without stopping its environments must not leave runtimes (and ffmpeg) behind.

    A forked environment watches its zygote, which itself exits with LocalStack."""
    while os.getppid() == parent_pid:
        time.sleep(1)
    _kill_own_process_group()


def _install_output_capture() -> LogSink:
    sink = LogSink()
    sys.stdout = OutputCapture(sys.__stdout__ or sys.stdout, sink)
    sys.stderr = OutputCapture(sys.__stderr__ or sys.stderr, sink)
    return sink


def _enter_code_directories(env: dict[str, str]) -> None:
    for path in reversed([p for p in env.get("LOCAL_LAMBDA_PYTHONPATH", "").split(os.pathsep) if p]):
        sys.path.insert(0, path)
    if env.get("LAMBDA_TASK_ROOT"):
        os.chdir(env["LAMBDA_TASK_ROOT"])


def _serve(
    handler: Handler,
    *,
    env: dict[str, str],
    sink: LogSink,
    client: RuntimeClient,
    invocations: queue.Queue[dict[str, Any]],
    init_ms: float,
) -> None:
    runtime = Runtime(
        handler,
        client=client,
        sink=sink,
        env=env,
        timeout_seconds=float(env.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or 3),
        on_timeout=_kill_own_process_group,
        init_ms=init_ms,
    )
    # A runtime restarted after a timeout replaces one LocalStack already saw as ready.
    if env.get("LOCAL_LAMBDA_RESTARTED") != "1":
        client.ready()
    runtime.run_forever(invocations)


def _start_invoke_server(env: dict[str, str]) -> queue.Queue[dict[str, Any]]:
    invocations: queue.Queue[dict[str, Any]] = queue.Queue()
    server = InvokeServer(int(env["LOCAL_LAMBDA_PORT"]), invocations)
    threading.Thread(target=server.serve_forever, name="invoke-server", daemon=True).start()
    return invocations


def main() -> None:
    env = dict(os.environ)
    if env.get(ZYGOTE_FD_VARIABLE):
        zygote_main(env)
        return
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    client = RuntimeClient(env["LOCALSTACK_RUNTIME_ENDPOINT"], env["LOCALSTACK_RUNTIME_ID"])
    invocations = _start_invoke_server(env)
    sink = _install_output_capture()
    _enter_code_directories(env)

    init_start = time.perf_counter()
    try:
        handler = load_handler(env.get("_HANDLER", ""))
    except InitError as exc:
        sys.stderr.write(f"[ERROR] {exc.error_type}: {exc}\n")
        client.init_error(error_payload(exc, exc.error_type))
        sys.exit(1)
    except Exception as exc:  # the module's top-level code raised
        sys.stderr.write("".join(traceback.format_exception(exc)))
        client.init_error(error_payload(exc))
        sys.exit(1)
    init_ms = (time.perf_counter() - init_start) * 1000
    _serve(handler, env=env, sink=sink, client=client, invocations=invocations, init_ms=init_ms)


# ------------------------------------------------------------------------------------------ zygote
# With LOCAL_LAMBDA_ZYGOTE_FD set, this process is a fork server for one function version: it imports
# the handler once, then forks one child per execution environment on request (newline-delimited JSON
# over the inherited socket). Requests: {"seq", "env", "log"}. Events: {"event": "ready"|"failed"},
# {"event": "spawned"|"spawn_failed", "seq", "pid"|"error"}, {"event": "exit", "pid", "code"}.
ZYGOTE_FD_VARIABLE = "LOCAL_LAMBDA_ZYGOTE_FD"
ZYGOTE_POLL_SECONDS = 0.2


def thread_count() -> int:
    """Threads of this process, native ones included: forking is only safe with exactly one."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    control.sendall(json.dumps(message).encode() + b"\n")


def zygote_main(env: dict[str, str]) -> None:
    control = socket.socket(fileno=int(env.pop(ZYGOTE_FD_VARIABLE)))
    os.environ.pop(ZYGOTE_FD_VARIABLE, None)
    parent_pid = os.getppid()
    sink = _install_output_capture()
    _enter_code_directories(env)
    try:
        handler = load_handler(env.get("_HANDLER", ""))
    except BaseException as exc:  # any failure: the executor starts plain runtimes instead
        sys.stderr.write("".join(traceback.format_exception(exc)))
        _send(control, {"event": "failed", "error": f"{type(exc).__name__}: {exc}"})
        sys.exit(1)
    threads = thread_count()
    if threads != 1:
        _send(control, {"event": "failed", "error": f"the handler module started threads ({threads})"})
        sys.exit(1)
    # The imported modules live as long as the environments: keep the collector off them (and their
    # pages shared with the children instead of copied when the GC touches them).
    gc.collect()
    gc.freeze()
    _send(control, {"event": "ready", "pid": os.getpid()})
    _zygote_loop(control, handler, sink, parent_pid)


def _zygote_loop(control: socket.socket, handler: Handler, sink: LogSink, parent_pid: int) -> None:
    children: set[int] = set()
    control.settimeout(ZYGOTE_POLL_SECONDS)
    buffer = b""
    try:
        while os.getppid() == parent_pid:
            try:
                data = control.recv(65536)
            except TimeoutError:
                data = None
            if data == b"":
                return  # LocalStack closed its end (stopped or died)
            if data:
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    request = json.loads(line)
                    try:
                        pid = _fork_environment(control, handler, sink, request["env"], request["log"])
                    except Exception as exc:  # reported; the executor falls back
                        _send(control, {"event": "spawn_failed", "seq": request["seq"], "error": str(exc)})
                    else:
                        children.add(pid)
                        _send(control, {"event": "spawned", "seq": request["seq"], "pid": pid})
            _reap(control, children)
    finally:
        for pid in children:  # environments do not outlive their zygote
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


def _reap(control: socket.socket, children: set[int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        _send(control, {"event": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


def _fork_environment(
    control: socket.socket, handler: Handler, sink: LogSink, env: dict[str, str], log_path: str
) -> int:
    threads = thread_count()
    if threads != 1:
        raise RuntimeError(f"the zygote has {threads} threads; refusing to fork")
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    ready_r, ready_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the environment
        code = 1
        try:
            os.close(ready_r)
            os.setsid()  # its own process group: a timeout kills it and its ffmpeg, not the zygote
            os.close(ready_w)
            control.close()
            _run_forked_environment(handler, sink, env, log_fd)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # must never return into the zygote's loop
            with contextlib.suppress(BaseException):
                os.write(2, "".join(traceback.format_exception(exc)).encode())
        finally:
            os._exit(code)
    os.close(log_fd)
    os.close(ready_w)
    try:
        os.read(ready_r, 1)  # returns once the child is a session leader (or died)
    finally:
        os.close(ready_r)
    return pid


def _run_forked_environment(handler: Handler, sink: LogSink, env: dict[str, str], log_fd: int) -> None:
    started = time.perf_counter()
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    client = RuntimeClient(env["LOCALSTACK_RUNTIME_ENDPOINT"], env["LOCALSTACK_RUNTIME_ID"])
    invocations = _start_invoke_server(env)
    init_ms = (time.perf_counter() - started) * 1000
    _serve(handler, env=env, sink=sink, client=client, invocations=invocations, init_ms=init_ms)


if __name__ == "__main__":
    main()
