"""Every bad request is turned away by the real API Gateway + Lambda with its documented error, and no job."""

from __future__ import annotations

import json
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
