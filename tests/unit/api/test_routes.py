"""Routes end to end through the handler with moto: presign, create (idempotency, queue failure), status."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from export_common.errors import ErrorCode, ServiceError
from export_common.jobs import JobError, JobOutput
from export_common.keys import output_key
from export_common.table import JobRepository
from render import limits
from render.model import ASSET_KEY_PATTERN, ExportRequest

from .api_stack import SECRET, Stack, error_code, rest_event


def _code(reply: Any) -> str:
    return error_code(reply)


# ----------------------------------------------------------------- presign
def test_presign_issues_one_fresh_key_per_asset(stack: Stack) -> None:
    body = {
        "assets": [
            {"src": "clip.mp4", "contentType": "video/mp4", "ext": ".mp4"},
            {"src": "song", "contentType": "audio/mpeg", "ext": "MP3"},
            {"src": "logo.png", "contentType": "image/png", "ext": ".png"},
        ]
    }
    reply = stack.call("POST", "/export/presign", body)
    assert reply.status == 200, reply.body
    uploads = reply.body["uploads"]
    assert [u["src"] for u in uploads] == ["clip.mp4", "song", "logo.png"]
    for upload, ext, ctype in zip(
        uploads, [".mp4", ".mp3", ".png"], ["video/mp4", "audio/mpeg", "image/png"], strict=True
    ):
        key = upload["s3Key"]
        assert key.startswith("assets/") and key.endswith(ext)
        uuid.UUID(key[len("assets/") : -len(ext)])
        # the key passes the export request's asset key pattern:
        ExportRequest.model_validate(
            {
                "timeline": {
                    "editorData": [
                        {"actions": [{"start": 0, "end": 1, "effectId": "text", "data": {"text": "x"}}]}
                    ]
                },
                "assets": [{"src": "a", "s3Key": key}],
            }
        )
        assert upload["method"] == "PUT"
        assert upload["headers"] == {"Content-Type": ctype}
        assert "assets-bucket" in upload["uploadUrl"] and key in upload["uploadUrl"]
        assert "content-type" in upload["uploadUrl"].lower()  # the content type is a signed header
        fields = upload["post"]["fields"]
        assert fields["key"] == key and fields["Content-Type"] == ctype
        policy = json.loads(base64.b64decode(fields["policy"]))
        assert ["content-length-range", 1, stack.settings.max_upload_bytes] in policy["conditions"]
        assert {"Content-Type": ctype} in policy["conditions"]
    assert len({u["s3Key"] for u in uploads}) == 3
    assert reply.body["expiresInSeconds"] == 900


def test_presigned_put_url_actually_uploads(stack: Stack) -> None:
    """The URL is usable (moto serves it through botocore's HTTP layer)."""
    import requests  # moto intercepts botocore, not requests: use the responses-backed passthrough of moto

    reply = stack.call(
        "POST", "/export/presign", {"assets": [{"src": "a", "contentType": "video/mp4", "ext": ".mp4"}]}
    )
    upload = reply.body["uploads"][0]
    response = requests.put(upload["uploadUrl"], data=b"abc", headers=upload["headers"], timeout=10)
    assert response.status_code == 200
    assert stack.s3.get_object(Bucket="assets-bucket", Key=upload["s3Key"])["Body"].read() == b"abc"


@pytest.mark.parametrize(
    ("asset", "path"),
    [
        ({"src": "a", "contentType": "application/pdf", "ext": ".pdf"}, "assets[0].contentType"),
        ({"src": "a", "contentType": "text/html"}, "assets[0].contentType"),
        ({"src": "a", "contentType": "video/mp4\r\nX-Evil: 1"}, "assets[0].contentType"),
        ({"src": "a", "contentType": 5}, "assets[0].contentType"),
        ({"src": "", "contentType": "video/mp4", "ext": ".mp4"}, "assets[0].src"),
        ({"src": "a" * 4097, "contentType": "video/mp4"}, "assets[0].src"),
        ({"contentType": "video/mp4"}, "assets[0].src"),
        ({"src": "a", "contentType": "video/mp4", "ext": ".mp4", "extra": 1}, "assets[0].extra"),
        ({"src": "a", "size": "100"}, "assets[0].size"),
        ({"src": "a", "size": 0}, "assets[0].size"),
        ({"src": "a", "size": 10.5}, "assets[0].size"),
        ({"src": "a", "size": 3 * 1024**3}, "assets[0].size"),  # over the upload limit
    ],
)
def test_presign_rejects_bad_assets_with_the_field_path(
    stack: Stack, asset: dict[str, Any], path: str
) -> None:
    reply = stack.call("POST", "/export/presign", {"assets": [asset]})
    assert reply.status == 400
    assert _code(reply) == "VALIDATION_ERROR"
    assert path in [d["path"] for d in reply.body["details"]]
    assert path in reply.body["error"]  # the readable message names the field too
    assert "Traceback" not in json.dumps(reply.body)


def test_a_stated_size_binds_the_upload_length(stack: Stack) -> None:
    import requests

    reply = stack.call(
        "POST", "/export/presign", {"assets": [{"src": "a", "contentType": "video/mp4", "size": 3}]}
    )
    upload = reply.body["uploads"][0]
    assert upload["headers"] == {"Content-Type": "video/mp4", "Content-Length": "3"}
    assert "content-length" in upload["uploadUrl"].lower()  # a signed header of the URL
    policy = json.loads(base64.b64decode(upload["post"]["fields"]["policy"]))
    assert ["content-length-range", 3, 3] in policy["conditions"]
    response = requests.put(upload["uploadUrl"], data=b"abc", headers=upload["headers"], timeout=10)
    assert response.status_code == 200


def test_presign_limits_the_number_of_assets(stack: Stack) -> None:
    assets = [{"src": f"a{i}", "contentType": "image/png", "ext": ".png"} for i in range(51)]
    assert stack.call("POST", "/export/presign", {"assets": assets}).status == 400
    assert stack.call("POST", "/export/presign", {"assets": assets[:50]}).status == 200
    assert stack.call("POST", "/export/presign", {"assets": []}).status == 400
    dup = [assets[0], assets[0]]
    assert stack.call("POST", "/export/presign", {"assets": dup}).status == 400


def _presign_one(stack: Stack, asset: dict[str, Any]) -> dict[str, Any]:
    reply = stack.call("POST", "/export/presign", {"assets": [{"src": "file", **asset}]})
    assert reply.status == 200, reply.body
    upload: dict[str, Any] = reply.body["uploads"][0]
    return upload


def _key_ext(upload: dict[str, Any]) -> str:
    """The extension of an issued key ("" for none), after checking the rest is a fresh uuid."""
    name = upload["s3Key"].removeprefix("assets/")
    uuid.UUID(name[:36])
    assert re.fullmatch(ASSET_KEY_PATTERN, upload["s3Key"]), upload["s3Key"]
    return str(name[36:])


@pytest.mark.parametrize(
    ("asset", "content_type", "ext"),
    [
        # contentType missing, null or empty (what a browser reports for an unknown file): octet-stream
        ({}, "application/octet-stream", ""),
        ({"contentType": None}, "application/octet-stream", ""),
        ({"contentType": "  "}, "application/octet-stream", ""),
        ({"contentType": ""}, "application/octet-stream", ""),
        # with octet-stream a known media ext is kept, anything else leaves the key without one
        ({"ext": ".mkv"}, "application/octet-stream", ".mkv"),
        ({"contentType": "application/octet-stream", "ext": "MP4"}, "application/octet-stream", ".mp4"),
        ({"ext": ".exe"}, "application/octet-stream", ""),
        ({"ext": ".html"}, "application/octet-stream", ""),
        ({"ext": "../x"}, "application/octet-stream", ""),
        # ext missing, null, not a string, empty or absurd: ignored, the type's own extension is used
        ({"contentType": "video/mp4"}, "video/mp4", ".mp4"),
        ({"contentType": "video/mp4", "ext": None}, "video/mp4", ".mp4"),
        ({"contentType": "video/mp4", "ext": 4}, "video/mp4", ".mp4"),
        ({"contentType": "video/mp4", "ext": ["mp4"]}, "video/mp4", ".mp4"),
        ({"contentType": "video/mp4", "ext": ""}, "video/mp4", ".mp4"),
        ({"contentType": "video/mp4", "ext": "." + "x" * 50}, "video/mp4", ".mp4"),
        # an ext that disagrees with the type: the type wins (no 400)
        ({"contentType": "video/mp4", "ext": ".png"}, "video/mp4", ".mp4"),
        ({"contentType": "image/jpeg", "ext": ".exe"}, "image/jpeg", ".jpg"),
        # an ext that agrees is kept, also the type's second spelling
        ({"contentType": "image/jpeg", "ext": "JPEG"}, "image/jpeg", ".jpeg"),
        ({"contentType": "video/mp4", "ext": ".m4v"}, "video/mp4", ".m4v"),
    ],
)
def test_presign_content_type_and_ext_are_optional(
    stack: Stack, asset: dict[str, Any], content_type: str, ext: str
) -> None:
    upload = _presign_one(stack, asset)
    assert _key_ext(upload) == ext
    # the PUT is bound to the content type: the response says which header to send, octet-stream too
    assert upload["headers"] == {"Content-Type": content_type}
    assert upload["post"]["fields"]["Content-Type"] == content_type


@pytest.mark.parametrize(
    ("content_type", "ext"),
    [
        ("audio/x-m4a", ".m4a"),
        ("audio/mp3", ".mp3"),
        ("audio/x-wav", ".wav"),
        ("audio/wave", ".wav"),
        ("video/x-matroska", ".mkv"),
        ("video/x-msvideo", ".avi"),
        ("audio/aac", ".aac"),
        ("audio/ogg", ".ogg"),
        ("video/ogg", ".ogv"),
        ("image/webp", ".webp"),
        ("image/gif", ".gif"),
        ("audio/webm", ".weba"),
        ("audio/flac", ".flac"),
        ("video/quicktime", ".mov"),
    ],
)
def test_presign_accepts_the_media_types_browsers_report(stack: Stack, content_type: str, ext: str) -> None:
    upload = _presign_one(stack, {"contentType": content_type})
    assert _key_ext(upload) == ext
    assert upload["headers"] == {"Content-Type": content_type}


def test_presign_binds_the_content_type_as_sent(stack: Stack) -> None:
    """Case and parameters are kept (the PUT must repeat them); the type is looked up without them."""
    upload = _presign_one(stack, {"contentType": " Video/WebM;codecs=vp8,opus ", "ext": ".webm"})
    assert _key_ext(upload) == ".webm"
    assert upload["headers"] == {"Content-Type": "Video/WebM;codecs=vp8,opus"}


def test_presigned_octet_stream_put_uploads_with_the_header_it_names(stack: Stack) -> None:
    import requests

    upload = _presign_one(stack, {})
    assert upload["headers"] == {"Content-Type": "application/octet-stream"}
    response = requests.put(upload["uploadUrl"], data=b"abc", headers=upload["headers"], timeout=10)
    assert response.status_code == 200
    head = stack.s3.head_object(Bucket="assets-bucket", Key=upload["s3Key"])
    assert head["ContentType"] == "application/octet-stream"


def test_unaccepted_content_type_message_names_the_value(stack: Stack) -> None:
    asset = {"src": "a", "contentType": "application/pdf", "ext": ".pdf"}
    reply = stack.call("POST", "/export/presign", {"assets": [asset]})
    assert (reply.status, _code(reply)) == (400, "VALIDATION_ERROR")
    [detail] = reply.body["details"]
    assert detail["path"] == "assets[0].contentType"
    assert detail["message"].startswith("content type 'application/pdf' is not accepted; use one of ")
    assert "audio/x-m4a" in detail["message"] and "application/octet-stream" in detail["message"]
    assert "{" not in detail["message"] and "!r" not in detail["message"]
    assert "content type 'application/pdf' is not accepted" in reply.body["error"]


def test_presign_src_may_be_a_long_url(stack: Stack) -> None:
    src = "https://storage.example.com/bucket/clip.mp4?X-Signature=" + "a" * 3900
    assert len(src) <= limits.MAX_SRC_LENGTH == 4096
    upload = _presign_one(stack, {"src": src, "contentType": "video/mp4"})
    assert upload["src"] == src
    longest = "s" * limits.MAX_SRC_LENGTH
    assert _presign_one(stack, {"src": longest})["src"] == longest


# ----------------------------------------------------------------- body checks
def test_body_too_large_is_413(stack: Stack) -> None:
    body = {"assets": [{"src": "x" * (1024 * 1024), "contentType": "video/mp4", "ext": ".mp4"}]}
    reply = stack.call("POST", "/export/presign", body)
    assert (reply.status, _code(reply)) == (413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_wrong_content_type_is_415(stack: Stack, content_type: str | None) -> None:
    reply = stack.call("POST", "/export", {"a": 1}, content_type=content_type)
    assert (reply.status, _code(reply)) == (415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("content_type", ["Application/JSON", "application/json; Charset=utf-8"])
def test_media_type_is_case_insensitive(
    stack: Stack, make_request: Callable[..., dict[str, Any]], content_type: str
) -> None:
    reply = stack.call("POST", "/export", make_request(), content_type=content_type)
    assert reply.status == 202, reply.body


def test_json_with_charset_is_accepted(stack: Stack, make_request: Callable[..., dict[str, Any]]) -> None:
    reply = stack.call("POST", "/export", make_request(), content_type="application/json; charset=UTF-8")
    assert reply.status == 202, reply.body


@pytest.mark.parametrize("raw", ["{", "nope", '{"a": NaN}', "\xff"])
def test_malformed_json_is_400_invalid_json(stack: Stack, raw: str) -> None:
    reply = stack.call("POST", "/export", raw.encode("latin-1"))
    assert (reply.status, _code(reply)) == (400, "INVALID_JSON")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ('{"timeline": {}, "timeline": {}}', "timeline"),
        ('{"timeline": {"editorData": [{"actions": [{"start": 0, "start": 1, "end": 2}]}]}}', "start"),
    ],
)
def test_a_key_repeated_anywhere_is_400_naming_it(stack: Stack, raw: str, key: str) -> None:
    reply = stack.call("POST", "/export", raw)
    assert (reply.status, _code(reply)) == (400, "INVALID_JSON")
    assert f"repeats the key '{key}'" in reply.body["error"]
    assert stack.messages() == []  # nothing queued


@pytest.mark.parametrize("raw", ["[]", "1", '"x"', "null"])
def test_non_object_json_is_400(stack: Stack, raw: str) -> None:
    reply = stack.call("POST", "/export", raw)
    assert (reply.status, _code(reply)) == (400, "VALIDATION_ERROR")


# ----------------------------------------------------------------- create
def test_create_writes_the_job_before_queueing_it(
    stack: Stack, make_request: Callable[..., dict[str, Any]]
) -> None:
    stack.upload("assets/clip.mp4")
    request = make_request("clip.mp4")
    reply = stack.call("POST", "/export", request)
    assert reply.status == 202, reply.body
    assert reply.body["status"] == "QUEUED"
    job_id = reply.body["jobId"]
    job = JobRepository(stack.table).get(job_id)
    assert job is not None and job.status == "QUEUED" and job.expires_at > time.time() + 29 * 86400
    assert ExportRequest.model_validate_json(job.request) == ExportRequest.model_validate(request)
    assert stack.messages() == [{"jobId": job_id}]


def test_timeline_src_missing_from_assets_is_400_with_path(
    stack: Stack, make_request: Callable[..., dict[str, Any]]
) -> None:
    request = make_request("clip.mp4")
    request["assets"] = []
    reply = stack.call("POST", "/export", request)
    assert reply.status == 400
    details = reply.body["details"]
    assert {
        "path": "timeline.editorData[0].actions[0].data.src",
        "message": "src 'clip.mp4' is not listed in assets",
    } in details
    assert stack.messages() == []


@pytest.mark.parametrize(
    "key", ["uploads/clip.mp4", "assets/../secret", "assets/", "/assets/x.mp4", "assets/a/b.mp4"]
)
def test_foreign_asset_keys_are_rejected(
    stack: Stack, make_request: Callable[..., dict[str, Any]], key: str
) -> None:
    reply = stack.call("POST", "/export", make_request("clip.mp4", keys={"clip.mp4": key}))
    assert reply.status == 400
    assert _code(reply) == "VALIDATION_ERROR"
    assert any(d["path"].startswith("assets[0].s3Key") for d in reply.body["details"])


def test_asset_that_was_never_uploaded_is_400(
    stack: Stack, make_request: Callable[..., dict[str, Any]]
) -> None:
    stack.upload("assets/a.mp4")
    reply = stack.call("POST", "/export", make_request("a.mp4", "b.mp4"))
    assert (reply.status, _code(reply)) == (400, "ASSET_MISSING")
    assert reply.body["details"] == [
        {"path": "assets[1].s3Key", "message": "no uploaded file at 'assets/b.mp4'"}
    ]
    assert [i for i in stack.table.scan()["Items"] if i["pk"].startswith("job#")] == []


def test_idempotency_same_key_and_body_returns_the_same_job(
    stack: Stack, make_request: Callable[..., dict[str, Any]]
) -> None:
    stack.upload("assets/a.mp4")
    headers = {"Idempotency-Key": "order-42"}
    first = stack.call("POST", "/export", make_request("a.mp4"), headers=headers)
    # key order and whitespace do not matter: the validated body is what is compared
    same = json.dumps(make_request("a.mp4"), indent=2, sort_keys=True)
    second = stack.call("POST", "/export", same, headers=headers)
    assert first.status == second.status == 202
    assert first.body["jobId"] == second.body["jobId"]
    assert len(stack.messages()) == 1
    # the job moved on: the repeat reports its current status
    JobRepository(stack.table).claim(first.body["jobId"], lease_seconds=60)
    third = stack.call("POST", "/export", make_request("a.mp4"), headers=headers)
    assert third.body == {"jobId": first.body["jobId"], "status": "RUNNING"}
    other = stack.call("POST", "/export", make_request("a.mp4"), headers={"Idempotency-Key": "order-43"})
    assert other.status == 202 and other.body["jobId"] != first.body["jobId"]


def test_idempotency_key_with_a_different_body_is_409(
    stack: Stack, make_request: Callable[..., dict[str, Any]]
) -> None:
    stack.upload("assets/a.mp4")
    stack.upload("assets/b.mp4")
    headers = {"Idempotency-Key": "k"}
    assert stack.call("POST", "/export", make_request("a.mp4"), headers=headers).status == 202
    reply = stack.call("POST", "/export", make_request("b.mp4"), headers=headers)
    assert (reply.status, _code(reply)) == (409, "IDEMPOTENCY_CONFLICT")
    assert len(stack.messages()) == 1


def test_expired_idempotency_record_counts_as_absent(
    stack: Stack, make_request: Callable[..., dict[str, Any]]
) -> None:
    stack.upload("assets/a.mp4")
    headers = {"Idempotency-Key": "k"}
    first = stack.call("POST", "/export", make_request("a.mp4"), headers=headers).body["jobId"]
    for item in stack.table.scan()["Items"]:
        if item["pk"].startswith("idem#"):
            stack.table.update_item(
                Key={"pk": item["pk"]},
                UpdateExpression="SET expiresAt = :e",
                ExpressionAttributeValues={":e": Decimal(int(time.time()) - 5)},
            )
    second = stack.call("POST", "/export", make_request("a.mp4"), headers=headers).body["jobId"]
    assert first != second


def test_idempotency_key_too_long_is_400(stack: Stack, make_request: Callable[..., dict[str, Any]]) -> None:
    reply = stack.call("POST", "/export", make_request(), headers={"Idempotency-Key": "k" * 256})
    assert (reply.status, _code(reply)) == (400, "VALIDATION_ERROR")


def test_queue_failure_marks_the_job_failed_and_frees_the_key(
    stack: Stack, make_request: Callable[..., dict[str, Any]]
) -> None:
    stack.services.exports.queue_url = stack.settings.job_queue_url + "-missing"
    reply = stack.call("POST", "/export", make_request(), headers={"Idempotency-Key": "k"})
    assert (reply.status, _code(reply)) == (503, "QUEUE_UNAVAILABLE")
    jobs = [i for i in stack.table.scan()["Items"] if i["pk"].startswith("job#")]
    assert len(jobs) == 1 and jobs[0]["status"] == "FAILED"
    assert jobs[0]["error"]["code"] == "QUEUE_UNAVAILABLE"
    stack.services.exports.queue_url = stack.settings.job_queue_url
    retry = stack.call("POST", "/export", make_request(), headers={"Idempotency-Key": "k"})
    assert retry.status == 202 and retry.body["jobId"] != jobs[0]["jobId"]


# ----------------------------------------------------------------- status
def _new_job(stack: Stack) -> str:
    job_id = str(uuid.uuid4())
    JobRepository(stack.table).create(job_id, "{}", "h")
    return job_id


def test_status_of_each_state(stack: Stack) -> None:
    repo = JobRepository(stack.table)
    job_id = _new_job(stack)
    reply = stack.call("GET", f"/export/{job_id}")
    assert reply.status == 200
    assert (
        set(reply.body) == {"jobId", "status", "createdAt", "updatedAt"} and reply.body["status"] == "QUEUED"
    )

    job = repo.claim(job_id, lease_seconds=60)
    assert job is not None
    repo.report_progress(job_id, job.attempt, 0.25)
    reply = stack.call("GET", f"/export/{job_id}")
    assert (reply.body["status"], reply.body["progress"]) == ("RUNNING", 0.25)

    output = JobOutput(
        key=output_key(job_id),
        duration_seconds=2.0,
        size_bytes=1234,
        width=160,
        height=90,
        render_seconds=1.0,
    )
    repo.mark_succeeded(job_id, job.attempt, output)
    reply = stack.call("GET", f"/export/{job_id}")
    assert reply.body["status"] == "SUCCEEDED"
    assert set(reply.body) == {"jobId", "status", "createdAt", "updatedAt", "outputKey", "output"} | {
        "downloadUrl",
        "downloadUrlExpiresAt",
        "usage",
    }
    assert reply.body["usage"] == {"renderSeconds": 0, "lambdaGbSeconds": 0, "tasks": 0}
    assert reply.body["outputKey"] == f"exports/{job_id}.mp4"
    assert reply.body["output"] == {"durationSeconds": 2.0, "sizeBytes": 1234, "width": 160, "height": 90}
    assert (
        f"exports/{job_id}.mp4" in reply.body["downloadUrl"] and "exports-bucket" in reply.body["downloadUrl"]
    )
    assert "Expires=3600" in reply.body["downloadUrl"] or "X-Amz-Expires=3600" in reply.body["downloadUrl"]
    assert reply.body["downloadUrlExpiresAt"].endswith("Z")
    assert "progress" not in reply.body


def test_status_of_a_failed_job(stack: Stack) -> None:
    job_id = _new_job(stack)
    JobRepository(stack.table).mark_failed(
        job_id, JobError(code="INVALID_MEDIA", message="clip.mp4 is not a video")
    )
    reply = stack.call("GET", f"/export/{job_id}")
    assert reply.status == 200
    body = dict(reply.body)
    assert set(body) == {"jobId", "status", "createdAt", "updatedAt", "error", "errorCode", "usage"}, body
    assert (body["jobId"], body["status"]) == (job_id, "FAILED")
    # the original contract: a readable string in `error`, the code beside it
    assert body["error"] == "clip.mp4 is not a video"
    assert body["errorCode"] == "INVALID_MEDIA"
    # the record keeps its {code, message} shape
    job = JobRepository(stack.table).get(job_id)
    assert job is not None and job.error == JobError(code="INVALID_MEDIA", message="clip.mp4 is not a video")


@pytest.mark.parametrize(
    "job_id", [str(uuid.uuid4()), "not-a-uuid", str(uuid.uuid4()).upper(), "x" * 500, "presign"]
)
def test_unknown_or_malformed_job_is_404(stack: Stack, job_id: str) -> None:
    reply = stack.call("GET", f"/export/{job_id}")
    assert (reply.status, _code(reply)) == (404, "NOT_FOUND")


# ----------------------------------------------------------------- routing, health, handler
def test_wrong_method_is_405_with_allow(stack: Stack) -> None:
    reply = stack.call("DELETE", "/export")
    assert (reply.status, _code(reply)) == (405, "METHOD_NOT_ALLOWED")
    assert reply.headers["Allow"] == "POST"
    assert stack.call("POST", "/health", sign=False).status == 405


def test_health_reports_degraded_dependencies(stack: Stack) -> None:
    stack.services.health.queue_url = stack.settings.job_queue_url + "-missing"
    reply = stack.call("GET", "/health", sign=False)
    assert reply.status == 503
    assert reply.body["status"] == "degraded" and reply.body["checks"]["sqs"] == "error"
    assert reply.body["checks"]["dynamodb"] == "ok"


def test_dependency_failure_during_auth_is_503_not_500(stack: Stack) -> None:
    stack.secrets.delete_secret(SecretId=stack.settings.signing_secret_arn, ForceDeleteWithoutRecovery=True)
    reply = stack.call("GET", f"/export/{uuid.uuid4()}")
    assert reply.status == 503
    assert _code(reply) == "DEPENDENCY_UNAVAILABLE"


def test_lambda_handler_with_environment(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import dataclass

    from export_api import handler

    s = stack.settings
    for name, value in {
        "JOBS_TABLE_NAME": s.jobs_table_name,
        "JOB_QUEUE_URL": s.job_queue_url,
        "ASSETS_BUCKET_NAME": s.assets_bucket_name,
        "EXPORTS_BUCKET_NAME": s.exports_bucket_name,
        "SIGNING_SECRET_ARN": s.signing_secret_arn,
        "SERVICE_VERSION": "9.9",
    }.items():
        monkeypatch.setenv(name, value)
    handler._services.cache_clear()

    @dataclass
    class Context:
        function_name: str = "api"
        memory_limit_in_mb: int = 256
        invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:api"
        aws_request_id: str = "req-1"

    try:
        from export_common.signing import signed_headers

        job_id = str(uuid.uuid4())
        event = rest_event(
            "GET", f"/export/{job_id}", headers=signed_headers(SECRET, "GET", f"/export/{job_id}")
        )
        assert handler.lambda_handler(event, Context())["statusCode"] == 404  # type: ignore[arg-type]
        health = handler.lambda_handler(rest_event("GET", "/health"), Context())  # type: ignore[arg-type]
        assert json.loads(health["body"])["version"] == "9.9"
    finally:
        handler._services.cache_clear()


# ----------------------------------------------------------------- every error path: a readable string
def _fail_with(error: Exception) -> Callable[..., Any]:
    def fail(*_: Any, **__: Any) -> Any:
        raise error

    return fail


AWS_DOWN = ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "GetItem")


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RuntimeError("secret detail"), 500, "INTERNAL_ERROR"),
        (AWS_DOWN, 503, "DEPENDENCY_UNAVAILABLE"),
        (EndpointConnectionError(endpoint_url="https://dynamodb"), 503, "DEPENDENCY_UNAVAILABLE"),
        (ServiceError(ErrorCode.REPLAYED_REQUEST, "Seen before."), 401, "REPLAYED_REQUEST"),
    ],
)
def test_gate_errors_are_readable_strings(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int, code: str
) -> None:
    monkeypatch.setattr(stack.services.authenticator, "authenticate", _fail_with(error))
    reply = stack.call("GET", f"/export/{uuid.uuid4()}")
    assert (reply.status, _code(reply)) == (status, code)
    assert "secret detail" not in reply.body["error"] and "Traceback" not in reply.body["error"]


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (RuntimeError("secret detail"), 500, {"error": "Internal error.", "code": "INTERNAL_ERROR"}),
        (
            AWS_DOWN,
            503,
            {"error": "A dependency is unavailable; retry later.", "code": "DEPENDENCY_UNAVAILABLE"},
        ),
        (
            ServiceError(ErrorCode.NOT_FOUND, "No export job with this id."),
            404,
            {"error": "No export job with this id.", "code": "NOT_FOUND"},
        ),
    ],
)
def test_route_errors_are_readable_strings(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int, body: dict[str, str]
) -> None:
    monkeypatch.setattr(stack.services.exports, "status", _fail_with(error))
    reply = stack.call("GET", f"/export/{uuid.uuid4()}")
    assert (reply.status, _code(reply)) == (status, body["code"])
    assert reply.body == body


def test_validation_error_body_has_the_message_code_and_details(stack: Stack) -> None:
    asset = {"src": "", "contentType": "video/mp4"}
    reply = stack.call("POST", "/export/presign", {"assets": [asset]})
    assert (reply.status, _code(reply)) == (400, "VALIDATION_ERROR")
    assert reply.body == {
        "error": "The request body is invalid: assets[0].src: String should have at least 1 character",
        "code": "VALIDATION_ERROR",
        "details": [{"path": "assets[0].src", "message": "String should have at least 1 character"}],
    }


def test_method_and_route_errors_are_readable_strings(stack: Stack) -> None:
    assert stack.call("DELETE", "/export").body == {"error": "Use POST.", "code": "METHOD_NOT_ALLOWED"}
    assert stack.call("GET", "/nothing/here").body == {"error": "No such route.", "code": "NOT_FOUND"}
