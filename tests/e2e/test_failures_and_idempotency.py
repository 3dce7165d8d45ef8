"""A job whose asset is not media fails readably; a repeated Idempotency-Key yields one job."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from tests.e2e.conftest import one_clip_request, presign_and_upload
from tests.e2e.stack import Stack


def test_a_non_media_asset_ends_failed_with_a_clear_error(stack: Stack, tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(os.urandom(4096))
    keys = presign_and_upload(stack, {"fake.mp4": fake})
    response = stack.post_json("/export", one_clip_request("fake.mp4", keys["fake.mp4"]))
    assert response.status_code == 202, response.text
    final, _ = stack.wait_for_final(response.json()["jobId"])
    assert final["status"] == "FAILED"
    # the original contract: `error` is the readable message, `errorCode` the code
    assert final["errorCode"] == "INVALID_MEDIA"
    assert isinstance(final["error"], str) and final["error"].strip(), final
    assert "/tmp" not in final["error"] and "ffmpeg version" not in final["error"]
    assert "downloadUrl" not in final and "outputKey" not in final


def test_the_same_idempotency_key_yields_one_job(stack: Stack, uploaded: dict[str, str]) -> None:
    request = one_clip_request("red.mp4", uploaded["red.mp4"])
    key = {"Idempotency-Key": str(uuid.uuid4())}
    before = stack.job_count()
    first = stack.post_json("/export", request, headers=key)
    second = stack.post_json("/export", request, headers=key)
    assert first.status_code == 202 and second.status_code == 202, (first.text, second.text)
    assert first.json()["jobId"] == second.json()["jobId"]
    assert stack.job_count() == before + 1

    changed = one_clip_request("red.mp4", uploaded["red.mp4"], end=0.5)
    conflict = stack.post_json("/export", changed, headers=key)
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["code"] == "IDEMPOTENCY_CONFLICT"
    assert isinstance(body["error"], str) and "Idempotency-Key" in body["error"], body
    assert stack.job_count() == before + 1
    final, _ = stack.wait_for_final(first.json()["jobId"])
    assert final["status"] == "SUCCEEDED", final
    assert final["outputKey"] == f"exports/{first.json()['jobId']}.mp4"
    assert "error" not in final and "errorCode" not in final
