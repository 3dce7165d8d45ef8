"""A webhook receiver on 127.0.0.1 for tests: records every request and answers as scripted.

Used by the sender's unit tests and the end-to-end webhook tests. ``answers`` is consumed one per request
(the last one repeats): an HTTP status, ``"hang"`` (accept, never answer), ``"stream"`` (200, then body
bytes without end) or ``("redirect", url)``.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = int | str | tuple[str, str]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str
    answers: list[Answer]
    received: list[Received] = field(default_factory=list)
    streamed_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def next_answer(self) -> Answer:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """Blocks until ``count`` requests arrived (or the timeout); returns what arrived."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count and time.monotonic() < deadline:
                self.arrived.wait(timeout=max(deadline - time.monotonic(), 0.01))
            return list(self.received)


@contextmanager
def receiving(
    answers: list[Answer], path: str = "/hooks/export", *, tls: ssl.SSLContext | None = None
) -> Iterator[Receiver]:
    """Serves until the block ends; ``receiver.url`` is ``http(s)://127.0.0.1:<port><path>``."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.arrived:
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                )
                receiver.arrived.notify_all()
            answer = receiver.next_answer()
            if answer == "hang":
                stop.wait(30)
                return
            if answer == "stream":
                self.send_response(200)
                self.end_headers()
                chunk = b"x" * 65536
                while not stop.is_set():
                    try:
                        self.wfile.write(chunk)
                    except OSError:
                        return
                    receiver.streamed_bytes += len(chunk)
                return
            if isinstance(answer, tuple):
                self.send_response(302)
                self.send_header("Location", answer[1])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(int(answer))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    receiver = Receiver(url=f"{scheme}://127.0.0.1:{server.server_port}{path}", answers=list(answers))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
