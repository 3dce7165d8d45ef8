"""A cold start of the image's own entry point: AWS's runtime interface client (awslambdaric) loads the
worker's handler and serves one invocation through the Lambda Runtime API, as on Lambda."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.image.conftest import Image

API = "/2018-06-01/runtime"


class RuntimeApi(ThreadingHTTPServer):
    """The Runtime API's three calls, for one invocation: `next` hands out the event once (later calls
    wait, as on Lambda between invocations); `response`, `error` and `init/error` land in `results`."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)
        self.event = event
        self.handed_out = threading.Event()
        self.results: queue.Queue[tuple[str, Any]] = queue.Queue()


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    server: RuntimeApi

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != f"{API}/invocation/next":
            self.send_error(404)
            return
        if self.server.handed_out.is_set():
            time.sleep(60)  # the next invocation never comes; the test ends the runtime first
            return
        self.server.handed_out.set()
        body = json.dumps(self.server.event).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
        self.send_header(
            "Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:worker"
        )
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Lambda-Runtime-Client-Context", "")
        self.send_header("Lambda-Runtime-Cognito-Identity", "")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"null")
        kind = self.path.rsplit("/", 1)[-1]  # response | error (init/error too)
        self.server.results.put((kind, payload))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def runtime_api() -> Iterator[RuntimeApi]:
    # One SQS record whose body is not a job message: the worker drops it as poison and answers with no
    # batch item failure, without any AWS call.
    event = {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r-1",
                "body": "not a job message",
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:video-export-jobs",
                "awsRegion": "us-east-1",
            }
        ]
    }
    server = RuntimeApi(event)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_the_entry_point_cold_starts_and_answers_an_invocation(
    image: Image, image_tmp: Path, runtime_api: RuntimeApi
) -> None:
    env = {
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_api.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "video-export-image-test-worker",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "image-test",
        "AWS_SECRET_ACCESS_KEY": "image-test",
        # Nothing answers here: an AWS call the poison path should not make fails instead of leaving.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "JOBS_TABLE_NAME": "jobs",
        "ASSETS_BUCKET_NAME": "assets",
        "EXPORTS_BUCKET_NAME": "exports",
        "POWERTOOLS_SERVICE_NAME": "video-export-worker",
    }
    entry_point = [*image.config["Entrypoint"], *image.config["Cmd"]]  # type: ignore[misc]
    started = time.monotonic()
    process = subprocess.Popen(
        image.argv(entry_point, env=env, tmp=image_tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "IMAGE_REF": image.ref},
        start_new_session=True,
    )
    try:
        result = runtime_api.results.get(timeout=60)
    except queue.Empty:
        result = ("nothing", None)
    finally:
        elapsed = time.monotonic() - started
        os.killpg(process.pid, signal.SIGKILL)  # run.sh and the runtime inside the image
        output = process.communicate(timeout=10)[0]
    assert result == ("response", {"batchItemFailures": []}), output
    print(f"\nimage cold start to first response: {elapsed:.2f} s")
