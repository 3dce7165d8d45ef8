"""clients/node/export-client.mjs on Node and on Deno, against the real API handler (moto) over HTTP."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from export_common.errors import ErrorCode
from export_common.jobs import JobError, JobOutput
from export_common.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from export_common.table import JobRepository
from tests.unit.api.api_stack import SECRET, Stack, timeline_request
from tests.unit.clients.api_server import ApiServer, finish_job, serve_api
from tests.unit.clients.runtimes import (
    CLIENT_DIR,
    RECORDER,
    ROOT,
    Runtime,
    as_bytes,
    runtime_command,
    runtime_env,
    wait_until,
)

VECTORS = ROOT / "tests" / "vectors" / "signing.json"
TIMELINE = timeline_request("clip.mp4")["timeline"]


def _header(headers: dict[str, str], name: str) -> str:
    return next(v for k, v in headers.items() if k.lower() == name)


def _job_gets(api: ApiServer, job_id: str) -> int:
    return sum(1 for s in api.api_calls() if s.method == "GET" and s.path.endswith(f"/export/{job_id}"))


def _queued_job(stack: Stack) -> str:
    stack.upload("assets/clip.mp4")
    reply = stack.call("POST", "/export", timeline_request("clip.mp4"))
    assert reply.status == 202, reply.body
    return str(reply.body["jobId"])


# ------------------------------------------------------------------------------------------ signing


@pytest.mark.parametrize("runtime_name", ["node", "deno"])
def test_signer_matches_the_shared_vectors(runtime_name: str, tmp_path: Path) -> None:
    count = len(json.loads(VECTORS.read_text())["vectors"])
    script = CLIENT_DIR / "test-vectors.mjs"
    run = subprocess.run(
        [*runtime_command(runtime_name, script), str(VECTORS)],
        capture_output=True, text=True, timeout=60, env=runtime_env(), check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{count}/{count} vectors match" in run.stdout

    # and the check can fail: one wrong signature is reported and fails the run
    tampered = json.loads(VECTORS.read_text())
    tampered["vectors"][1]["signature"] = "0" * 64
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    run = subprocess.run(
        [*runtime_command(runtime_name, script), str(tmp_path / "tampered.json")],
        capture_output=True, text=True, timeout=60, env=runtime_env(), check=False,
    )  # fmt: skip
    assert run.returncode == 1
    assert f"FAIL {tampered['vectors'][1]['name']}" in run.stdout
    assert f"{count - 1}/{count} vectors match" in run.stdout


def test_signing_functions_are_synchronous_and_agree(runtime: Runtime) -> None:
    """Code written against the original client may use them without `await`."""
    reply = runtime.call(
        "computeExportSignature",
        secret="k", timestampMs=1, method="post", path="/export", rawBody="{}",
    )  # fmt: skip
    assert reply["async"] is False
    assert reply["result"] == sign("k", "1", "POST", "/export", b"{}")
    reply = runtime.call("buildSignedHeaders", secret="k", method="GET", path="/export/x")
    assert reply["async"] is False
    headers = reply["result"]
    assert set(headers) == {TIMESTAMP_HEADER, SIGNATURE_HEADER}
    assert headers[SIGNATURE_HEADER] == sign("k", headers[TIMESTAMP_HEADER], "GET", "/export/x")


# ------------------------------------------------------------------------------------------ round trip


def test_signed_presign_upload_start_and_get(runtime: Runtime, stack: Stack, api: ApiServer) -> None:
    forms = ["uint8array", "buffer", "arraybuffer", "blob"]
    assets = [
        {"src": f"Café — “clip” {form}.mp4", "contentType": "video/mp4", "ext": ".mp4"} for form in forms
    ]
    presigned = runtime.ok("presignUploads", baseUrl=api.url, secret=SECRET, assets=assets)
    assert [u["src"] for u in presigned["uploads"]] == [a["src"] for a in assets]

    # what went over the wire: JSON.stringify({assets}), its content type, signed over the route path
    sent = api.api_calls()[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/export/presign")
    assert json.loads(sent.body) == {"assets": assets}
    assert _header(sent.headers, "content-type") == "application/json; charset=utf-8"
    timestamp = _header(sent.headers, TIMESTAMP_HEADER)
    assert _header(sent.headers, SIGNATURE_HEADER) == sign(
        SECRET, timestamp, "POST", "/export/presign", sent.body
    )

    for form, upload in zip(forms, presigned["uploads"], strict=True):
        assert upload["s3Key"].startswith("assets/") and upload["s3Key"].endswith(".mp4")
        body = f"bytes sent as {form}".encode()
        uploaded = runtime.ok(
            "uploadToPresignedUrl",
            uploadUrl=upload["uploadUrl"],
            body=as_bytes(body, form),
            contentType="video/mp4",
        )
        assert uploaded is None
        put = api.seen[-1]
        assert put.method == "PUT" and _header(put.headers, "content-type") == "video/mp4"
        assert stack.s3.get_object(Bucket="assets-bucket", Key=upload["s3Key"])["Body"].read() == body

    export_assets = [{"src": u["src"], "s3Key": u["s3Key"]} for u in presigned["uploads"][:1]]
    timeline = timeline_request(export_assets[0]["src"])["timeline"]
    started = runtime.ok(
        "startExport", baseUrl=api.url, secret=SECRET, timeline=timeline, assets=export_assets
    )
    assert started["status"] == "QUEUED"
    sent = api.api_calls()[-1]
    assert json.loads(sent.body) == {"timeline": timeline, "assets": export_assets}
    stored = JobRepository(stack.table).get(started["jobId"])
    assert stored is not None and stored.request_body()["assets"] == export_assets

    job = runtime.ok("getExportJob", baseUrl=api.url, secret=SECRET, jobId=started["jobId"])
    assert (job["jobId"], job["status"]) == (started["jobId"], "QUEUED")
    sent = api.api_calls()[-1]
    assert (sent.method, sent.body) == ("GET", b"")
    timestamp = _header(sent.headers, TIMESTAMP_HEADER)
    assert _header(sent.headers, SIGNATURE_HEADER) == sign(
        SECRET, timestamp, "GET", f"/export/{job['jobId']}"
    )


def test_upload_sends_a_content_type_only_when_given(runtime: Runtime, api: ApiServer) -> None:
    assets = [{"src": "a.mp4", "contentType": "video/mp4", "ext": ".mp4"}]
    presigned = runtime.ok("presignUploads", baseUrl=api.url, secret=SECRET, assets=assets)
    upload_url = presigned["uploads"][0]["uploadUrl"]
    runtime.ok("uploadToPresignedUrl", uploadUrl=upload_url, body=as_bytes(b"x"))
    assert not any(k.lower() == "content-type" for k in api.seen[-1].headers)


def test_upload_failure_names_the_status_and_text(runtime: Runtime, api: ApiServer) -> None:
    bad_url = api.url.rsplit("/v1", 1)[0] + "/not-s3"  # answered 403 by the stage check
    reply = runtime.call(
        "uploadToPresignedUrl", uploadUrl=bad_url, body=as_bytes(b"x"), contentType="video/mp4"
    )
    assert reply["error"]["message"] == 'S3 upload failed (403): {"message":"Forbidden"}'


# ------------------------------------------------------------------------------------------ errors


def test_api_errors_carry_the_api_message_string(runtime: Runtime, api: ApiServer) -> None:
    reply = runtime.call(
        "startExport", baseUrl=api.url, secret=SECRET, timeline={"editorData": "nope"}, assets=[]
    )
    error = reply["error"]
    assert error["status"] == 400
    message = error["body"]["error"]
    assert isinstance(message, str) and message.strip()
    assert error["message"] == f"Export API request failed (400): {message}"
    assert "[object Object]" not in error["message"]
    assert error["code"] == ErrorCode.VALIDATION_ERROR.value

    missing = str(uuid.uuid4())
    error = runtime.call("getExportJob", baseUrl=api.url, secret=SECRET, jobId=missing)["error"]
    assert error["status"] == 404 and error["code"] == ErrorCode.NOT_FOUND.value
    assert error["message"].startswith("Export API request failed (404): ") and "{" not in error["message"]

    error = runtime.call("getExportJob", baseUrl=api.url, secret="wrong", jobId=missing)["error"]
    assert error["status"] == 401 and error["message"].startswith("Export API request failed (401): ")


def test_an_error_body_without_error_is_quoted_as_json(runtime: Runtime, api: ApiServer) -> None:
    """A proxy in front of the API may answer in its own shape (here the test server's 403 off-stage)."""
    without_stage = api.url.removesuffix("/v1")
    error = runtime.call("getExportJob", baseUrl=without_stage, secret=SECRET, jobId="j")["error"]
    assert error["message"] == 'Export API request failed (403): {"message":"Forbidden"}'
    assert error["body"] == {"message": "Forbidden"}


# ------------------------------------------------------------------------------------------ presign


def test_presign_without_content_type_or_ext(runtime: Runtime, stack: Stack, api: ApiServer) -> None:
    """Needs the API change that makes `contentType` and `ext` optional in POST /export/presign."""
    presigned = runtime.ok(
        "presignUploads", baseUrl=api.url, secret=SECRET, assets=[{"src": "blob-from-browser"}]
    )
    upload = presigned["uploads"][0]
    assert upload["s3Key"].startswith("assets/")
    content_type = _header(upload["headers"], "content-type")
    runtime.ok(
        "uploadToPresignedUrl", uploadUrl=upload["uploadUrl"], body=as_bytes(b"abc"), contentType=content_type
    )
    assert stack.s3.get_object(Bucket="assets-bucket", Key=upload["s3Key"])["Body"].read() == b"abc"


# ------------------------------------------------------------------------------------------ waiting


def test_wait_for_export_reports_every_poll_until_final(
    runtime: Runtime, stack: Stack, api: ApiServer
) -> None:
    job_id = _queued_job(stack)
    waiting = runtime.start(
        "waitForExport", baseUrl=api.url, secret=SECRET, jobId=job_id, intervalMs=20, onProgress=RECORDER
    )
    wait_until(lambda: _job_gets(api, job_id) >= 2, "two polls while QUEUED")
    repo = JobRepository(stack.table)
    claimed = repo.claim(job_id, lease_seconds=60)
    assert claimed is not None and repo.report_progress(job_id, claimed.attempt, 0.5)
    polls = _job_gets(api, job_id)
    wait_until(lambda: _job_gets(api, job_id) >= polls + 2, "two polls while RUNNING")
    key = f"exports/{job_id}.mp4"
    output = JobOutput(key=key, duration_seconds=1, size_bytes=8, width=160, height=90, render_seconds=0.1)
    assert repo.mark_succeeded(job_id, claimed.attempt, output)
    reply = runtime.finish(waiting)

    assert reply["result"]["status"] == "SUCCEEDED"
    assert all(len(args) == 1 for args in reply["calls"]), "onProgress(job): one argument"
    jobs = [args[0] for args in reply["calls"]]
    assert len(jobs) == _job_gets(api, job_id), "one call per poll"
    assert jobs[-1] == reply["result"]
    states = [j["status"] for j in jobs]
    assert states[0] == "QUEUED" and states[-1] == "SUCCEEDED" and states.count("SUCCEEDED") == 1
    # A poll may land between the claim (progress 0) and the progress report; the ones after it see 0.5.
    running = [j for j in jobs if j["status"] == "RUNNING"]
    assert any({"jobId": job_id, "status": "RUNNING", "progress": 0.5}.items() <= j.items() for j in running)


def test_wait_for_export_returns_a_failed_job(runtime: Runtime, stack: Stack, api: ApiServer) -> None:
    job_id = _queued_job(stack)
    assert JobRepository(stack.table).mark_failed(
        job_id, JobError(code="INVALID_MEDIA", message="not a video")
    )
    reply = runtime.call("waitForExport", baseUrl=api.url, secret=SECRET, jobId=job_id, intervalMs=20)
    assert "error" not in reply, reply
    job = reply["result"]
    assert (job["jobId"], job["status"]) == (job_id, "FAILED")
    assert (job["error"], job["errorCode"]) == ("not a video", "INVALID_MEDIA")


def test_wait_for_export_times_out(runtime: Runtime, stack: Stack, api: ApiServer) -> None:
    job_id = _queued_job(stack)
    reply = runtime.call(
        "waitForExport", baseUrl=api.url, secret=SECRET, jobId=job_id, timeoutMs=400, intervalMs=100,
        onProgress=RECORDER,
    )  # fmt: skip
    assert reply["error"]["message"] == f"Timed out waiting for export job {job_id}"
    assert 400 <= reply["elapsedMs"] < 10_000
    assert len(reply["calls"]) == _job_gets(api, job_id) >= 2
    assert {args[0]["status"] for args in reply["calls"]} == {"QUEUED"}


# ------------------------------------------------------------------------------------------ exportVideo


def test_export_video_presigns_uploads_and_starts(runtime: Runtime, stack: Stack, api: ApiServer) -> None:
    assets = [
        {"src": "clip.mp4", "body": as_bytes(b"video bytes"), "contentType": "video/mp4", "ext": ".mp4"},
        {"src": "logo.png", "body": as_bytes(b"png bytes", "blob"), "contentType": "image/png"},
    ]
    timeline = timeline_request("clip.mp4", "logo.png")["timeline"]
    started = runtime.ok(
        "exportVideo", baseUrl=api.url, secret=SECRET, timeline=timeline, assets=assets, wait=False
    )
    assert set(started) == {"jobId"}

    calls = api.seen
    presign = next(s for s in calls if s.path.endswith("/export/presign"))
    assert json.loads(presign.body) == {
        "assets": [
            {"src": "clip.mp4", "contentType": "video/mp4", "ext": ".mp4"},
            {"src": "logo.png", "contentType": "image/png"},
        ]
    }
    puts = [s for s in calls if s.method == "PUT"]
    assert sorted(_header(p.headers, "content-type") for p in puts) == ["image/png", "video/mp4"]
    start = next(i for i, s in enumerate(calls) if s.method == "POST" and s.path == "/v1/export")
    assert all(calls.index(p) < start for p in puts), "every upload finishes before the export starts"

    sent = json.loads(calls[start].body)
    assert sent["timeline"] == timeline
    assert [a["src"] for a in sent["assets"]] == ["clip.mp4", "logo.png"]
    stored = JobRepository(stack.table).get(started["jobId"])
    assert stored is not None
    request = stored.request_body()
    assert request["assets"] == sent["assets"]
    for asset, data in zip(request["assets"], (b"video bytes", b"png bytes"), strict=True):
        assert stack.s3.get_object(Bucket="assets-bucket", Key=asset["s3Key"])["Body"].read() == data


def test_export_video_waits_and_passes_on_progress(runtime: Runtime, stack: Stack, api: ApiServer) -> None:
    timeline = {
        "editorData": [{"actions": [{"start": 0, "end": 1, "effectId": "text", "data": {"text": "hi"}}]}]
    }
    running = runtime.start(
        "exportVideo", baseUrl=api.url, secret=SECRET, timeline=timeline, onProgress=RECORDER
    )
    wait_until(lambda: any(s.method == "GET" for s in api.api_calls()), "the first poll")
    job_id = next(s for s in api.api_calls() if s.method == "GET").path.rsplit("/", 1)[-1]
    finish_job(stack, job_id)
    reply = runtime.finish(running)
    assert reply["result"]["status"] == "SUCCEEDED" and reply["result"]["jobId"] == job_id
    assert not any(s.path.endswith("/presign") for s in api.seen), "no assets, no presign"
    assert [args[0]["status"] for args in reply["calls"]][-1] == "SUCCEEDED"
    assert reply["calls"][-1][0] == reply["result"]


# ------------------------------------------------------------------------------------------ URL joining


@pytest.mark.parametrize("suffix", ["", "/", "///"])
def test_base_url_keeps_its_stage(runtime: Runtime, stack: Stack, suffix: str) -> None:
    """LocalStack's base URL has a long stage prefix; the route is appended, and signed without it."""
    prefix = "/_aws/execute-api/a1b2c3/local"
    with serve_api(stack, prefix=prefix) as server:
        presigned = runtime.ok(
            "presignUploads",
            baseUrl=server.url + suffix,
            secret=SECRET,
            assets=[{"src": "a.mp4", "ext": ".mp4"}],
        )
        assert len(presigned["uploads"]) == 1
        job_id = _queued_job(stack)
        job = runtime.ok("getExportJob", baseUrl=server.url + suffix, secret=SECRET, jobId=job_id)
        assert job["status"] == "QUEUED"
    assert [(s.method, s.path) for s in server.seen] == [
        ("POST", f"{prefix}/export/presign"),
        ("GET", f"{prefix}/export/{job_id}"),
    ]
    get = server.seen[-1]
    timestamp = _header(get.headers, TIMESTAMP_HEADER)
    assert _header(get.headers, SIGNATURE_HEADER) == sign(SECRET, timestamp, "GET", f"/export/{job_id}")


# ------------------------------------------------------------------------------------------ cancel


def test_cancel_export_cancels_and_the_wait_ends_on_cancelled(
    runtime: Runtime, stack: Stack, api: ApiServer
) -> None:
    queued = _queued_job(stack)
    reply = runtime.ok("cancelExport", baseUrl=api.url, secret=SECRET, jobId=queued)
    assert reply == {"jobId": queued, "status": "CANCELLED"}
    sent = api.api_calls()[-1]
    assert (sent.method, sent.body) == ("DELETE", b"")
    timestamp = _header(sent.headers, TIMESTAMP_HEADER)
    assert _header(sent.headers, SIGNATURE_HEADER) == sign(SECRET, timestamp, "DELETE", f"/export/{queued}")
    job = runtime.ok("waitForExport", baseUrl=api.url, secret=SECRET, jobId=queued, intervalMs=20)
    assert job["status"] == "CANCELLED"

    running = _queued_job(stack)
    assert JobRepository(stack.table).claim(running, lease_seconds=60) is not None
    reply = runtime.ok("cancelExport", baseUrl=api.url, secret=SECRET, jobId=running)
    assert reply == {"jobId": running, "status": "CANCELLING"}


def test_cancel_export_of_an_ended_job_throws_with_the_code(
    runtime: Runtime, stack: Stack, api: ApiServer
) -> None:
    job_id = _queued_job(stack)
    assert JobRepository(stack.table).mark_failed(job_id, JobError(code="INVALID_MEDIA", message="x"))
    error = runtime.call("cancelExport", baseUrl=api.url, secret=SECRET, jobId=job_id)["error"]
    assert error["status"] == 409 and error["code"] == ErrorCode.JOB_ALREADY_ENDED.value
    assert error["message"].startswith("Export API request failed (409): ")
