"""The Python client against the real handler over HTTP, end to end (the Node client: tests/unit/clients)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from export_common.jobs import JobOutput, JobRepository
from tests.unit.clients.api_server import serve_api

from .api_stack import SECRET, Stack

ROOT = Path(__file__).resolve().parents[3]


def _load_client() -> Any:
    spec = importlib.util.spec_from_file_location("export_client", ROOT / "scripts" / "export_client.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def api_url(stack: Stack) -> Iterator[str]:
    """The handler over HTTP as API Gateway would serve it (stage ``v1``)."""
    with serve_api(stack) as server:
        yield server.url


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
