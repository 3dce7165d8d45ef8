"""The clients against the real handler over HTTP: the Python client end to end, Node's signer on the wire."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from export_common.jobs import JobOutput, JobRepository

from .api_stack import SECRET, Stack, rest_event

ROOT = Path(__file__).resolve().parents[3]
NODE_DIR = ROOT / "scripts" / "node"


def _load_client() -> Any:
    spec = importlib.util.spec_from_file_location("export_client", ROOT / "scripts" / "export_client.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def api_url(stack: Stack) -> Iterator[str]:
    """A local HTTP server that hands each request to the handler as API Gateway would (stage ``v1``)."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            path = self.path.removeprefix("/v1")
            event = rest_event(self.command, path, body=body, headers=dict(self.headers.items()))
            response = stack.api.handle(event, None)  # type: ignore[arg-type]
            self.send_response(response["statusCode"])
            headers = {**(response.get("headers") or {})}
            for key, values in (response.get("multiValueHeaders") or {}).items():
                headers[key] = values[0]
            for key, value in headers.items():
                self.send_header(key, value)
            payload = response["body"].encode()
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_node_signer_matches_the_shared_vectors() -> None:
    result = subprocess.run(
        ["node", str(NODE_DIR / "test-vectors.mjs")], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6/6 vectors match" in result.stdout or "vectors match" in result.stdout


def test_node_client_is_accepted_by_the_api(stack: Stack, api_url: str, tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text(
        json.dumps(
            {"assets": [{"src": "Café — “clip”.mp4", "contentType": "video/mp4", "ext": ".mp4"}]},
            ensure_ascii=False,
        )
    )
    env = {
        "EXPORT_API_URL": api_url,
        "EXPORT_SIGNING_SECRET": SECRET,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    cmd = ["node", str(NODE_DIR / "export-client.mjs"), "request", "POST", "/export/presign", str(body)]
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["status"] == 200, reply
    assert reply["body"]["uploads"][0]["src"] == "Café — “clip”.mp4"
    job = str(uuid.uuid4())
    cmd = ["node", str(NODE_DIR / "export-client.mjs"), "request", "GET", f"/export/{job}"]
    reply = json.loads(
        subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=True).stdout
    )
    assert reply["status"] == 404
    bad = {**env, "EXPORT_SIGNING_SECRET": "wrong"}
    reply = json.loads(
        subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=bad, check=True).stdout
    )
    assert reply["status"] == 401


def test_python_client_full_flow(stack: Stack, api_url: str, tmp_path: Path) -> None:
    client_module = _load_client()
    client = client_module.ExportClient(api_url, SECRET, backoff=0.01)
    assert client.health()["status"] == "ok"
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not really a video")
    assets = client.upload_files({"clip.mp4": clip})
    assert (
        stack.s3.get_object(Bucket="assets-bucket", Key=assets[0]["s3Key"])["Body"].read()
        == clip.read_bytes()
    )
    request = {
        "timeline": {
            "editorData": [
                {"actions": [{"start": 0, "end": 1, "effectId": "video", "data": {"src": "clip.mp4"}}]}
            ]
        },
        "assets": assets,
    }
    job = client.create_export(request, idempotency_key="same")
    assert client.create_export(request, idempotency_key="same")["jobId"] == job["jobId"]
    assert client.get_status(job["jobId"])["status"] == "QUEUED"

    # play the worker's part, then follow and download
    repo = JobRepository(stack.table)
    claimed = repo.claim(job["jobId"], lease_seconds=60)
    assert claimed is not None
    key = f"exports/{job['jobId']}.mp4"
    stack.s3.put_object(Bucket="exports-bucket", Key=key, Body=b"rendered")
    repo.mark_succeeded(
        job["jobId"],
        claimed.attempt,
        JobOutput(key=key, duration_seconds=1, size_bytes=8, width=160, height=90, render_seconds=0.5),
    )
    seen: list[str] = []
    final = client.wait(job["jobId"], interval=0.01, on_status=lambda s: seen.append(s["status"]))
    assert final["status"] == "SUCCEEDED" and seen[-1] == "SUCCEEDED"
    out = client.download(final, tmp_path / "out.mp4")
    assert out.read_bytes() == b"rendered"

    with pytest.raises(client_module.ApiError) as error:
        client.get_status("nope")
    assert error.value.status == 404 and error.value.code == "NOT_FOUND"
