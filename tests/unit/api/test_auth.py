"""Every /export* route demands a fresh, correct signature; /health does not."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from export_common.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signed_headers

from .api_stack import SECRET, Stack, error_code, rest_event

JOB = "0b5e1f2c-9a43-4c1e-8f00-3d2c1b0a9f8e"
ROUTES = [("GET", f"/export/{JOB}", None), ("POST", "/export", {}), ("POST", "/export/presign", {})]


def _error(reply: Any) -> str:
    assert "details" not in reply.body, reply.body  # the gate's errors name no fields
    return error_code(reply)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_unsigned_requests_are_401_even_with_an_invalid_body(
    stack: Stack, method: str, path: str, body: Any
) -> None:
    reply = stack.call(method, path, body, sign=False)
    assert reply.status == 401
    assert _error(reply) == "MISSING_SIGNATURE"


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_wrong_secret_is_rejected(stack: Stack, method: str, path: str, body: Any) -> None:
    reply = stack.call(method, path, body, secret="not-the-secret")
    assert (reply.status, _error(reply)) == (401, "INVALID_SIGNATURE")


def test_only_one_header_is_missing_signature(stack: Stack) -> None:
    headers = signed_headers(SECRET, "GET", f"/export/{JOB}")
    del headers[SIGNATURE_HEADER]
    reply = stack.send(rest_event("GET", f"/export/{JOB}", headers=headers))
    assert (reply.status, _error(reply)) == (401, "MISSING_SIGNATURE")


@pytest.mark.parametrize("timestamp", ["abc", "-5", "1.5", "12345678901234567890", " 1"])
def test_malformed_timestamp(stack: Stack, timestamp: str) -> None:
    headers = {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: "0" * 64}
    reply = stack.send(rest_event("GET", f"/export/{JOB}", headers=headers))
    assert (reply.status, _error(reply)) == (401, "INVALID_TIMESTAMP")


@pytest.mark.parametrize("signature", ["xyz", "0" * 63, "g" * 64, ""])
def test_malformed_signature(stack: Stack, signature: str) -> None:
    headers = {TIMESTAMP_HEADER: str(int(time.time() * 1000)), SIGNATURE_HEADER: signature}
    reply = stack.send(rest_event("GET", f"/export/{JOB}", headers=headers))
    assert reply.status == 401
    assert _error(reply) in ("INVALID_SIGNATURE", "MISSING_SIGNATURE")


@pytest.mark.parametrize("offset_ms", [-5 * 60 * 1000 - 2000, 5 * 60 * 1000 + 2000])
def test_timestamp_out_of_window(stack: Stack, offset_ms: int) -> None:
    reply = stack.call("GET", f"/export/{JOB}", now_ms=int(time.time() * 1000) + offset_ms)
    assert (reply.status, _error(reply)) == (401, "TIMESTAMP_OUT_OF_RANGE")


def test_timestamp_inside_window_is_accepted(stack: Stack) -> None:
    reply = stack.call("GET", f"/export/{JOB}", now_ms=int(time.time() * 1000) - 4 * 60 * 1000)
    assert reply.status == 404  # authenticated; the job does not exist


def test_signature_covers_method_path_and_body(stack: Stack) -> None:
    now = str(int(time.time() * 1000))
    body = json.dumps({"assets": []}).encode()
    wrong_method = sign(SECRET, now, "GET", "/export/presign", body)
    wrong_body = sign(SECRET, now, "POST", "/export/presign", body + b" ")
    wrong_path = sign(SECRET, now, "POST", "/export", body)
    for signature in (wrong_method, wrong_body, wrong_path):
        headers = {TIMESTAMP_HEADER: now, SIGNATURE_HEADER: signature, "Content-Type": "application/json"}
        reply = stack.send(rest_event("POST", "/export/presign", body=body, headers=headers))
        assert (reply.status, _error(reply)) == (401, "INVALID_SIGNATURE")


def test_stage_prefixed_path_also_verifies(stack: Stack) -> None:
    reply = stack.call("GET", f"/export/{JOB}", sign_path=f"/v1/export/{JOB}")
    assert reply.status == 404
    reply = stack.call("GET", f"/export/{JOB}", sign_path=f"/other/export/{JOB}")
    assert reply.status == 401


def test_uppercase_hex_signature_is_accepted(stack: Stack) -> None:
    headers = signed_headers(SECRET, "GET", f"/export/{JOB}")
    headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER].upper()
    assert stack.send(rest_event("GET", f"/export/{JOB}", headers=headers)).status == 404


def test_base64_encoded_body_is_verified_on_the_decoded_bytes(stack: Stack) -> None:
    body = json.dumps({"assets": [{"src": "é.mp4", "contentType": "video/mp4", "ext": ".mp4"}]}).encode()
    headers = {**signed_headers(SECRET, "POST", "/export/presign", body), "content-type": "application/json"}
    reply = stack.send(rest_event("POST", "/export/presign", body=body, headers=headers, base64_body=True))
    assert reply.status == 200, reply.body
    # the same signature over the base64 text instead of the bytes does not verify
    text = base64.b64encode(body)
    headers = {**signed_headers(SECRET, "POST", "/export/presign", text), "content-type": "application/json"}
    reply = stack.send(rest_event("POST", "/export/presign", body=body, headers=headers, base64_body=True))
    assert reply.status == 401


def test_invalid_base64_body_is_401_unsigned_and_400_signed(stack: Stack) -> None:
    event = rest_event("POST", "/export", body="ok", headers={"content-type": "application/json"})
    event["body"], event["isBase64Encoded"] = "!!!not base64", True
    assert stack.send(event).status == 401
    event["headers"].update(signed_headers(SECRET, "POST", "/export", b"!!!not base64"))
    reply = stack.send(event)
    assert (reply.status, _error(reply)) == (400, "INVALID_JSON")


def test_replayed_request_is_rejected(stack: Stack) -> None:
    headers = signed_headers(SECRET, "GET", f"/export/{JOB}")
    assert stack.send(rest_event("GET", f"/export/{JOB}", headers=headers)).status == 404
    reply = stack.send(rest_event("GET", f"/export/{JOB}", headers=headers))
    assert (reply.status, _error(reply)) == (401, "REPLAYED_REQUEST")
    # a fresh signature of the same request is fine
    assert stack.call("GET", f"/export/{JOB}", now_ms=int(headers[TIMESTAMP_HEADER]) + 1).status == 404


def test_failed_signatures_are_not_stored(stack: Stack) -> None:
    for _ in range(3):
        stack.call("GET", f"/export/{JOB}", secret="wrong")
    assert not [i for i in stack.table.scan()["Items"] if i["pk"].startswith("sig#")]


def test_expired_replay_record_counts_as_absent(stack: Stack) -> None:
    headers = signed_headers(SECRET, "GET", f"/export/{JOB}")
    stack.table.put_item(Item={"pk": "sig#" + headers[SIGNATURE_HEADER], "expiresAt": int(time.time()) - 1})
    assert stack.send(rest_event("GET", f"/export/{JOB}", headers=headers)).status == 404
    item = stack.table.get_item(Key={"pk": "sig#" + headers[SIGNATURE_HEADER]})["Item"]
    assert int(item["expiresAt"]) > time.time() + 500


def _rotate(stack: Stack, value: str) -> None:
    """``put_secret_value``: ``value`` is AWSCURRENT, the old current AWSPREVIOUS; the cache is dropped."""
    stack.secrets.put_secret_value(SecretId=stack.settings.signing_secret_arn, SecretString=value)
    stack.services.authenticator._secrets._versions = None


def test_previous_secret_version_is_accepted_within_its_grace(stack: Stack) -> None:
    _rotate(stack, "new-secret")
    assert stack.call("GET", f"/export/{JOB}", secret=SECRET).status == 404
    assert stack.call("GET", f"/export/{JOB}", secret="new-secret").status == 404
    assert stack.call("GET", f"/export/{JOB}", secret="older").status == 401


def test_previous_secret_is_refused_once_its_grace_is_over(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = stack.services.authenticator._secrets
    _rotate(stack, "new-secret")
    created = provider.versions().current_created_at
    grace = stack.settings.previous_secret_grace_seconds
    monkeypatch.setattr(provider, "_wall_clock", lambda: created + grace - 1)
    assert stack.call("GET", f"/export/{JOB}", secret=SECRET).status == 404
    # the cache still holds the previous value; the grace ends on the clock, not on the next fetch
    monkeypatch.setattr(provider, "_wall_clock", lambda: created + grace)
    reply = stack.call("GET", f"/export/{JOB}", secret=SECRET)
    assert (reply.status, _error(reply)) == (401, "INVALID_SIGNATURE")
    assert stack.call("GET", f"/export/{JOB}", secret="new-secret").status == 404


def test_a_revoked_previous_secret_is_refused_at_once(stack: Stack) -> None:
    _rotate(stack, "new-secret")
    assert stack.call("GET", f"/export/{JOB}", secret=SECRET).status == 404  # cached as previous
    arn = stack.settings.signing_secret_arn
    stages = stack.secrets.describe_secret(SecretId=arn)["VersionIdsToStages"]
    previous = next(v for v, s in stages.items() if "AWSPREVIOUS" in s)
    stack.secrets.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSPREVIOUS", RemoveFromVersionId=previous
    )
    # the cache still holds it, yet it is refused: a previous-secret signature is checked against its stage
    reply = stack.call("GET", f"/export/{JOB}", secret=SECRET)
    assert (reply.status, _error(reply)) == (401, "INVALID_SIGNATURE")
    assert stack.call("GET", f"/export/{JOB}", secret="new-secret").status == 404


def test_a_mismatch_never_refreshes_the_secret_before_the_cache_expires(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = stack.services.authenticator._secrets
    assert stack.call("GET", f"/export/{JOB}").status == 404  # caches the first secret
    stack.secrets.put_secret_value(SecretId=stack.settings.signing_secret_arn, SecretString="rotated")
    fetches = 0
    fetch = provider._fetch

    def counted() -> None:
        nonlocal fetches
        fetches += 1
        fetch()

    monkeypatch.setattr(provider, "_fetch", counted)
    # however stale the cache is within its interval, garbage cannot make the API call Secrets Manager
    monkeypatch.setattr(provider, "_fetched_at", provider._fetched_at - (provider._ttl - 1))
    for _ in range(5):
        assert stack.call("GET", f"/export/{JOB}", secret="rotated").status == 401
    assert fetches == 0
    monkeypatch.setattr(provider, "_fetched_at", provider._fetched_at - provider._ttl)
    assert stack.call("GET", f"/export/{JOB}", secret="rotated").status == 404
    assert fetches == 1


def test_an_oversized_body_is_413_before_any_hmac(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    import export_api.auth

    calls = 0
    real_verify = export_api.auth.verify

    def counting_verify(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(export_api.auth, "verify", counting_verify)
    body = b"x" * (stack.settings.max_body_bytes + 1)
    forged = {TIMESTAMP_HEADER: str(int(time.time() * 1000)), SIGNATURE_HEADER: "0" * 64}
    reply = stack.send(rest_event("POST", "/export", body=body.decode(), headers=forged))
    assert (reply.status, _error(reply)) == (413, "PAYLOAD_TOO_LARGE")
    assert calls == 0
    # the distinct 401s stay for bodies within the limit
    assert _error(stack.send(rest_event("POST", "/export", body="{}", headers=forged))) == "INVALID_SIGNATURE"
    assert calls == 1


def test_health_is_unsigned(stack: Stack) -> None:
    reply = stack.call("GET", "/health", sign=False)
    assert reply.status == 200
    assert reply.body == {
        "status": "ok",
        "version": "1.2.3-test",
        "checks": {"dynamodb": "ok", "sqs": "ok", "s3": "ok", "secretsmanager": "ok"},
    }


def test_unknown_routes_need_a_signature_too(stack: Stack) -> None:
    assert stack.call("GET", "/admin", sign=False).status == 401
    reply = stack.call("GET", "/admin")
    assert (reply.status, _error(reply)) == (404, "NOT_FOUND")
