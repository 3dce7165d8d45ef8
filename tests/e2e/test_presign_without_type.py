"""A file presigned with neither contentType nor ext (what a browser sends for a file it does not know)
is uploaded as application/octet-stream under a key without extension, and still renders."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.e2e.conftest import one_clip_request
from tests.e2e.stack import Stack


def test_an_untyped_upload_renders(stack: Stack, source_files: dict[str, Path]) -> None:
    response = stack.post_json("/export/presign", {"assets": [{"src": "untyped clip"}]})
    assert response.status_code == 200, response.text
    [upload] = response.json()["uploads"]
    assert upload["headers"] == {"Content-Type": "application/octet-stream"}
    assert "." not in upload["s3Key"].removeprefix("assets/"), upload["s3Key"]

    data = source_files["red.mp4"].read_bytes()
    put = requests.put(upload["uploadUrl"], data=data, headers=upload["headers"], timeout=60)
    assert put.status_code == 200, put.text

    created = stack.post_json("/export", one_clip_request("untyped clip", upload["s3Key"]))
    assert created.status_code == 202, created.text
    final, _ = stack.wait_for_final(created.json()["jobId"])
    assert final["status"] == "SUCCEEDED", final
    assert final["outputKey"] == f"exports/{created.json()['jobId']}.mp4"
