"""LocalStack's side of the executor protocol, for tests of the runtime and the zygote."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RUNTIME_ID = "0123456789abcdef0123456789abcdef"


@dataclass
class FakeEndpoint:
    """LocalStack's side of the executor protocol: records every callback in arrival order."""

    url: str = ""
    posts: list[tuple[str, bytes]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, suffix: str, timeout: float = 15) -> bytes:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for path, body in self.posts:
                    if path.endswith(suffix):
                        return body
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no POST ending in {suffix!r}; got {[p for p, _ in self.posts]}")
                self.changed.wait(remaining)

    def paths(self) -> list[str]:
        with self.changed:
            return [path for path, _ in self.posts]


@contextlib.contextmanager
def serve_fake_endpoint() -> Iterator[FakeEndpoint]:
    fake = FakeEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with fake.changed:
                fake.posts.append((self.path, body))
                fake.changed.notify_all()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/_localstack_lambda/{RUNTIME_ID}"
    yield fake
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post_invoke(port: int, request_id: str, event: Any) -> None:
    """`POST /invoke` as LocalStack sends it, retried until the runtime listens."""
    body = json.dumps(
        {
            "invoke-id": request_id,
            "invoked-function-arn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
            "payload": json.dumps(event),
            "trace-id": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
        }
    ).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invoke", data=body, method="POST")
    for _ in range(50):  # the port is bound first thing, but the process needs a moment to start
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                assert response.status == 202
                return
        except ConnectionRefusedError:
            time.sleep(0.1)
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError):
                raise
            time.sleep(0.1)
    raise AssertionError("runtime never accepted the invoke")
