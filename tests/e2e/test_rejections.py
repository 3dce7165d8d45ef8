"""Every bad request is turned away by the real API Gateway + Lambda with its documented error, and no job."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import showcase_request
from tests.e2e.stack import Stack

SIX_MINUTES_MS = 6 * 60 * 1000


def _error(response: Any) -> str:
    """The code of an error response, after checking its shape: ``error`` a readable string, ``code``."""
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert {"error", "code"} <= set(body) <= {"error", "code", "details"}, body
    assert isinstance(body["error"], str) and body["error"].strip(), body
    assert isinstance(body["code"], str) and body["code"].isupper(), body
    assert "Traceback" not in response.text
    return body["code"]


@pytest.fixture
def valid_body(uploaded: dict[str, str]) -> bytes:
    return json.dumps(showcase_request(uploaded)).encode()


CASES: dict[str, tuple[dict[str, Any], int, str]] = {
    "no signature": ({"sign": False}, 401, "MISSING_SIGNATURE"),
    "wrong secret": ({"secret": "not-the-secret"}, 401, "INVALID_SIGNATURE"),
    "tampered body": ({"signed_body": b'{"timeline": {}}'}, 401, "INVALID_SIGNATURE"),
    "tampered path": ({"signed_path": "/export/presign"}, 401, "INVALID_SIGNATURE"),
    "tampered method": ({"signed_method": "PUT"}, 401, "INVALID_SIGNATURE"),
    "timestamp 6 minutes old": ({"now_ms": -SIX_MINUTES_MS}, 401, "TIMESTAMP_OUT_OF_RANGE"),
    "timestamp 6 minutes ahead": ({"now_ms": SIX_MINUTES_MS}, 401, "TIMESTAMP_OUT_OF_RANGE"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_signatures_are_rejected_and_create_no_job(stack: Stack, valid_body: bytes, case: str) -> None:
    options, status, code = CASES[case]
    options = dict(options)
    if "now_ms" in options:
        options["now_ms"] = int(time.time() * 1000) + options["now_ms"]
    before = stack.job_count()
    response = stack.request("POST", "/export", body=valid_body, **options)
    assert response.status_code == status, response.text
    assert _error(response) == code
    assert stack.job_count() == before


def test_status_route_is_signed_too(stack: Stack) -> None:
    response = stack.request("GET", f"/export/{uuid.uuid4()}", sign=False)
    assert response.status_code == 401
    assert _error(response) == "MISSING_SIGNATURE"


def test_a_replayed_request_is_rejected(stack: Stack) -> None:
    path = f"/export/{uuid.uuid4()}"
    now_ms = int(time.time() * 1000)
    first = stack.request("GET", path, now_ms=now_ms)
    assert first.status_code == 404 and _error(first) == "NOT_FOUND"
    replay = stack.request("GET", path, now_ms=now_ms)
    assert replay.status_code == 401
    assert _error(replay) == "REPLAYED_REQUEST"


def _mutated(uploaded: dict[str, str], mutate: Any) -> dict[str, Any]:
    request = showcase_request(uploaded)
    mutate(request)
    return request


def test_an_asset_key_outside_assets_is_rejected(stack: Stack, uploaded: dict[str, str]) -> None:
    def outside(request: dict[str, Any]) -> None:
        request["assets"][0]["s3Key"] = "exports/someone-elses.mp4"

    before = stack.job_count()
    response = stack.post_json("/export", _mutated(uploaded, outside))
    assert response.status_code == 400
    assert _error(response) in {"VALIDATION_ERROR", "INVALID_ASSET_KEY"}
    assert "s3Key" in response.text
    assert stack.job_count() == before


def test_a_src_missing_from_assets_is_rejected(stack: Stack, uploaded: dict[str, str]) -> None:
    def drop_logo(request: dict[str, Any]) -> None:
        request["assets"] = [a for a in request["assets"] if a["src"] != "logo.png"]

    before = stack.job_count()
    response = stack.post_json("/export", _mutated(uploaded, drop_logo))
    assert response.status_code == 400
    assert _error(response) == "VALIDATION_ERROR"
    assert "logo.png" in response.text
    assert stack.job_count() == before


def test_an_oversize_body_is_rejected(stack: Stack) -> None:
    before = stack.job_count()
    big = json.dumps({"timeline": {"editorData": []}, "assets": [], "pad": "x" * (2 * 1024 * 1024)}).encode()
    response = stack.request("POST", "/export", body=big)
    assert response.status_code == 413
    assert _error(response) == "PAYLOAD_TOO_LARGE"
    assert stack.job_count() == before


def _api_log_lines(stack: Stack, message: str, *, timeout: float = 60) -> list[dict[str, Any]]:
    """The API function's JSON log lines with this ``message`` (CloudWatch Logs; lines arrive late)."""
    logs = stack.client("logs")
    group = f"/aws/lambda/{stack.outputs['api_function_name']}"
    deadline = time.monotonic() + timeout
    while True:
        lines = []
        paginator = logs.get_paginator("filter_log_events")
        for page in paginator.paginate(logGroupName=group, startTime=int((time.time() - 600) * 1000)):
            for event in page.get("events", []):
                if message in event["message"]:
                    try:
                        lines.append(json.loads(event["message"]))
                    except ValueError:
                        continue
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(2)


def test_a_9_mb_forged_body_is_413_before_any_hmac(stack: Stack) -> None:
    """Below API Gateway's 10 MB, above the API's limit: refused on its length alone, never hashed."""
    size = 9 * 1024 * 1024 + secrets.randbelow(100_000)  # a size this test alone sends, to find its line
    forged = {"x-base44-timestamp": str(int(time.time() * 1000)), "x-base44-signature": "0" * 64}
    response = stack.request("POST", "/export", body=b"x" * size, sign=False, headers=forged)
    assert response.status_code == 413, response.text[:300]
    assert _error(response) == "PAYLOAD_TOO_LARGE"
    lines = [
        line
        for line in _api_log_lines(stack, "request refused before the signature check")
        if line.get("body_bytes") == size
    ]
    assert len(lines) == 1, lines
    assert lines[0]["hmac_computed"] == 0 and lines[0]["code"] == "PAYLOAD_TOO_LARGE"
    # a body within the limit with the same forged signature gets its distinct 401
    small = stack.request("POST", "/export", body=b"{}", sign=False, headers=forged)
    assert (small.status_code, _error(small)) == (401, "INVALID_SIGNATURE")


def test_a_callback_url_on_port_22_is_refused(stack: Stack, uploaded: dict[str, str]) -> None:
    before = stack.job_count()
    request = showcase_request(uploaded) | {"callbackUrl": "https://93.184.215.14:22/hooks/export"}
    response = stack.post_json("/export", request)
    assert response.status_code == 400, response.text
    assert _error(response) == "INVALID_CALLBACK_URL"
    assert "port" in response.json()["error"]
    assert stack.job_count() == before


def test_malformed_json_is_rejected(stack: Stack) -> None:
    before = stack.job_count()
    response = stack.request("POST", "/export", body=b'{"timeline": ')
    assert response.status_code == 400
    assert _error(response) == "INVALID_JSON"
    assert stack.job_count() == before


def test_a_repeated_key_is_rejected_naming_it(stack: Stack, valid_body: bytes) -> None:
    before = stack.job_count()
    body = valid_body.replace(b'"start": 0,', b'"start": 0, "start": 1,', 1)
    assert body != valid_body
    response = stack.request("POST", "/export", body=body)
    assert response.status_code == 400
    assert _error(response) == "INVALID_JSON"
    assert "'start'" in response.json()["error"]
    assert stack.job_count() == before


@pytest.mark.parametrize(("field", "value"), [("start", True), ("start", "0"), ("end", "4")])
def test_numbers_must_be_json_numbers(stack: Stack, uploaded: dict[str, str], field: str, value: Any) -> None:
    def loosen(request: dict[str, Any]) -> None:
        request["timeline"]["editorData"][-1]["actions"][0][field] = value

    before = stack.job_count()
    response = stack.post_json("/export", _mutated(uploaded, loosen))
    assert response.status_code == 400
    assert _error(response) == "VALIDATION_ERROR"
    assert any(d["path"].endswith(f".{field}") for d in response.json()["details"]), response.text
    assert stack.job_count() == before


@pytest.mark.parametrize(
    ("asset", "path", "words"),
    [
        ({"src": "doc.pdf", "contentType": "application/pdf"}, "assets[0].contentType", "application/pdf"),
        ({"src": "", "contentType": "video/mp4"}, "assets[0].src", "assets[0].src"),
        ({"src": "a", "contentType": "video/mp4", "size": "1"}, "assets[0].size", "assets[0].size"),
        ({"src": "a", "contentType": "video/mp4", "size": 10**12}, "assets[0].size", "upload limit"),
    ],
)
def test_a_bad_presign_request_names_the_field(
    stack: Stack, asset: dict[str, Any], path: str, words: str
) -> None:
    response = stack.post_json("/export/presign", {"assets": [asset]})
    assert response.status_code == 400, response.text
    assert _error(response) == "VALIDATION_ERROR"
    body = response.json()
    assert path in [d["path"] for d in body["details"]]
    assert words in body["error"]
    assert "{value" not in response.text


def test_an_unknown_job_is_404_with_a_readable_error(stack: Stack) -> None:
    response = stack.request("GET", f"/export/{uuid.uuid4()}")
    assert response.status_code == 404
    assert _error(response) == "NOT_FOUND"
    assert response.json()["error"] == "No export job with this id."
