"""A job whose asset is not media fails readably; a repeated Idempotency-Key yields one job."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from tests.e2e.conftest import presign_and_upload
from tests.e2e.stack import Stack


def test_a_non_media_asset_ends_failed_with_a_clear_error(stack: Stack, tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(os.urandom(4096))
    keys = presign_and_upload(stack, {"fake.mp4": fake})
    request = {
        "timeline": {
            "editorData": [
                {"id": "r", "actions": [{"id": "a", "start": 0, "end": 1, "effectId": "video",
                                         "data": {"src": "fake.mp4"}}]}
            ]
        },
        "assets": [{"src": "fake.mp4", "s3Key": keys["fake.mp4"]}],
        "output": {"width": 160, "height": 90, "fps": 10},
    }  # fmt: skip
    response = stack.post_json("/export", request)
    assert response.status_code == 202, response.text
    final, _ = stack.wait_for_final(response.json()["jobId"])
    assert final["status"] == "FAILED"
    assert final["error"]["code"] == "INVALID_MEDIA"
    assert final["error"]["message"]
    assert "/tmp" not in final["error"]["message"] and "ffmpeg version" not in final["error"]["message"]
    assert "downloadUrl" not in final


def test_the_same_idempotency_key_yields_one_job(stack: Stack, uploaded: dict[str, str]) -> None:
    request = {
        "timeline": {
            "editorData": [
                {"id": "r", "actions": [{"id": "a", "start": 0, "end": 1, "effectId": "video",
                                         "data": {"src": "red.mp4"}}]}
            ]
        },
        "assets": [{"src": "red.mp4", "s3Key": uploaded["red.mp4"]}],
        "output": {"width": 160, "height": 90, "fps": 10},
    }  # fmt: skip
    key = {"Idempotency-Key": str(uuid.uuid4())}
    before = stack.job_count()
    first = stack.post_json("/export", request, headers=key)
    second = stack.post_json("/export", request, headers=key)
    assert first.status_code == 202 and second.status_code == 202, (first.text, second.text)
    assert first.json()["jobId"] == second.json()["jobId"]
    assert stack.job_count() == before + 1

    changed = json.loads(json.dumps(request))
    changed["actions_note"] = None
    changed.pop("actions_note")
    changed["timeline"]["editorData"][0]["actions"][0]["end"] = 0.5
    conflict = stack.post_json("/export", changed, headers=key)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert stack.job_count() == before + 1
    assert stack.wait_for_final(first.json()["jobId"])[0]["status"] == "SUCCEEDED"
