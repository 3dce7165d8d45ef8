"""The moto-backed API handler served over real HTTP on 127.0.0.1, for clients in other processes.

Requests must come under the stage prefix (``/v1`` by default, or a LocalStack-style
``/_aws/execute-api/<id>/<stage>``), as API Gateway requires: anything else is a 403, so a client that drops
the stage from its base URL fails here too.

S3 lives inside this process (moto intercepts botocore and ``requests``), which a Node or Deno process cannot
reach. With ``relay_s3=True`` the server rewrites every ``uploadUrl``/``downloadUrl`` in the API's answers to
``<server>/__s3__?url=<the presigned URL>`` and forwards those requests to moto with ``requests``.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from export_common.jobs import JobOutput
from export_common.table import JobRepository
from tests.unit.api.api_stack import Stack, rest_event

RELAY_PATH = "/__s3__"
_RELAYED_KEYS = ("uploadUrl", "downloadUrl")


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ApiServer:
    url: str
    """The base URL clients use, stage included (no trailing slash)."""
    seen: list[Seen] = field(default_factory=list)

    def api_calls(self) -> list[Seen]:
        return [s for s in self.seen if not s.path.startswith(RELAY_PATH)]


def _relayed(value: Any, relay: str) -> Any:
    if isinstance(value, dict):
        return {
            k: f"{relay}?url={urllib.parse.quote(v, safe='')}"
            if k in _RELAYED_KEYS and isinstance(v, str)
            else _relayed(v, relay)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_relayed(v, relay) for v in value]
    return value


@contextmanager
def serve_api(stack: Stack, *, prefix: str = "/v1", relay_s3: bool = False) -> Iterator[ApiServer]:
    """Serve ``stack.api`` under ``prefix`` (whose last segment is the stage) until the block ends."""
    stage = prefix.rstrip("/").rsplit("/", 1)[-1]
    state = ApiServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            if relay_s3 and self.path.startswith(RELAY_PATH + "?"):
                self._relay(body)
                return
            if not self.path.startswith(prefix + "/"):
                self._reply(403, {"Content-Type": "application/json"}, b'{"message":"Forbidden"}')
                return
            path = self.path.removeprefix(prefix)
            event = rest_event(
                self.command,
                path,
                body=body if length else None,
                headers=dict(self.headers.items()),
                stage=stage,
            )
            response = stack.api.handle(event, None)  # type: ignore[arg-type]
            headers = {**(response.get("headers") or {})}
            for key, values in (response.get("multiValueHeaders") or {}).items():
                headers[key] = values[0]
            payload = response["body"].encode()
            if relay_s3 and payload:
                relay = state.url.rsplit(prefix, 1)[0] + RELAY_PATH
                payload = json.dumps(_relayed(json.loads(payload), relay)).encode()
            self._reply(response["statusCode"], headers, payload)

        def _relay(self, body: bytes) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            headers = {k: v for k, v in self.headers.items() if k.lower() == "content-type"}
            answer = requests.request(self.command, query["url"][0], data=body, headers=headers, timeout=30)
            self._reply(answer.status_code, {"Content-Type": "application/octet-stream"}, answer.content)

        do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815

        def log_message(self, *_: Any) -> None:
            pass

    with serving(Handler) as base_url:
        state.url = base_url + prefix
        yield state


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on a free loopback port for the duration of the block; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def finish_job(stack: Stack, job_id: str, data: bytes = b"rendered") -> None:
    """Plays the worker: claims the job, puts its output where the worker would, marks it SUCCEEDED."""
    repo = JobRepository(stack.table)
    claimed = repo.claim(job_id, lease_seconds=60)
    assert claimed is not None
    key = f"exports/{job_id}.mp4"
    stack.s3.put_object(Bucket="exports-bucket", Key=key, Body=data)
    output = JobOutput(
        key=key, duration_seconds=1, size_bytes=len(data), width=160, height=90, render_seconds=0.1
    )
    assert repo.mark_succeeded(job_id, claimed.attempt, output)
