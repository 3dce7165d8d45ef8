import base64
import json
from pathlib import Path

import pytest

import export_common.signing as service_signing
import video_export.signing as client_signing
from export_common.errors import ErrorCode, ServiceError
from export_common.signing import verify
from video_export.signing import MAX_CLOCK_SKEW_MS, sign, signed_headers

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "signing.json").read_text())["vectors"]
NOW = 1_764_064_800_000


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_signer_matches_openssl_vectors(vector: dict[str, str]) -> None:
    body = base64.b64decode(vector["bodyBase64"])
    assert (
        sign(vector["secret"], vector["timestamp"], vector["method"], vector["path"], body)
        == vector["signature"]
    )
    # and the service verifies each vector at its own timestamp
    headers = {"x-base44-timestamp": vector["timestamp"], "x-base44-signature": vector["signature"]}
    verified = verify(
        [vector["secret"]],
        timestamp=headers["x-base44-timestamp"],
        signature=headers["x-base44-signature"],
        method=vector["method"],
        paths=[vector["path"]],
        raw_body=body,
        now_ms=int(vector["timestamp"]),
    )
    assert verified.signature == vector["signature"]


def test_the_service_uses_the_client_package_rule_not_a_copy() -> None:
    for name in ("canonical_message", "sign", "signed_headers", "VerifiedSignature"):
        assert getattr(service_signing, name) is getattr(client_signing, name), name
    for name in ("TIMESTAMP_HEADER", "SIGNATURE_HEADER", "DELIVERY_ID_HEADER", "MAX_CLOCK_SKEW_MS"):
        assert getattr(service_signing, name) == getattr(client_signing, name), name
    assert (client_signing.TIMESTAMP_HEADER, client_signing.SIGNATURE_HEADER) == (
        "x-base44-timestamp",
        "x-base44-signature",
    )
    assert client_signing.MAX_CLOCK_SKEW_MS == 5 * 60 * 1000


def _verify(headers: dict[str, str], *, secrets=("s1",), method="POST", paths=("/export",), body=b"{}"):
    return verify(
        secrets,
        timestamp=headers.get("x-base44-timestamp"),
        signature=headers.get("x-base44-signature"),
        method=method,
        paths=paths,
        raw_body=body,
        now_ms=NOW,
    )


def test_valid_signature_verifies_and_accepts_upper_case_hex() -> None:
    headers = signed_headers("s1", "POST", "/export", b"{}", now_ms=NOW)
    assert _verify(headers).timestamp_ms == NOW
    headers["x-base44-signature"] = headers["x-base44-signature"].upper()
    assert _verify(headers).signature == headers["x-base44-signature"].lower()


def test_previous_secret_and_stage_prefixed_path_are_accepted() -> None:
    headers = signed_headers("old", "POST", "/v1/export", b"{}", now_ms=NOW)
    assert _verify(headers, secrets=("new", "old"), paths=("/export", "/v1/export"))


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda h: h.pop("x-base44-signature"), ErrorCode.MISSING_SIGNATURE),
        (lambda h: h.pop("x-base44-timestamp"), ErrorCode.MISSING_SIGNATURE),
        (lambda h: h.update({"x-base44-timestamp": "12.5"}), ErrorCode.INVALID_TIMESTAMP),
        (lambda h: h.update({"x-base44-signature": "zz"}), ErrorCode.INVALID_SIGNATURE),
        (lambda h: h.update({"x-base44-signature": "0" * 64}), ErrorCode.INVALID_SIGNATURE),
        (
            lambda h: h.update({"x-base44-timestamp": h["x-base44-timestamp"] + "\n"}),
            ErrorCode.INVALID_TIMESTAMP,
        ),
    ],
)
def test_malformed_or_missing_headers_are_rejected(mutate, code) -> None:
    headers = signed_headers("s1", "POST", "/export", b"{}", now_ms=NOW)
    mutate(headers)
    with pytest.raises(ServiceError) as caught:
        _verify(headers)
    assert caught.value.code is code
    assert caught.value.http_status == 401


@pytest.mark.parametrize("offset", [MAX_CLOCK_SKEW_MS + 1, -(MAX_CLOCK_SKEW_MS + 1), 6 * 60 * 1000])
def test_timestamp_outside_the_window_is_rejected(offset: int) -> None:
    headers = signed_headers("s1", "POST", "/export", b"{}", now_ms=NOW - offset)
    with pytest.raises(ServiceError) as caught:
        _verify(headers)
    assert caught.value.code is ErrorCode.TIMESTAMP_OUT_OF_RANGE


def test_timestamp_at_the_edge_of_the_window_is_accepted() -> None:
    headers = signed_headers("s1", "POST", "/export", b"{}", now_ms=NOW - MAX_CLOCK_SKEW_MS)
    assert _verify(headers)


@pytest.mark.parametrize(
    ("secret", "method", "path", "body"),
    [
        ("other", "POST", "/export", b"{}"),
        ("s1", "GET", "/export", b"{}"),
        ("s1", "POST", "/export/presign", b"{}"),
        ("s1", "POST", "/export", b"{ }"),
    ],
    ids=["wrong-secret", "tampered-method", "tampered-path", "tampered-body"],
)
def test_any_tampering_is_rejected(secret: str, method: str, path: str, body: bytes) -> None:
    headers = signed_headers(secret, method, path, body, now_ms=NOW)
    with pytest.raises(ServiceError) as caught:
        _verify(headers)
    assert caught.value.code is ErrorCode.INVALID_SIGNATURE


def test_requests_signed_in_a_burst_never_share_a_timestamp() -> None:
    """Identical requests in one millisecond must still differ, or the API would see a replay."""
    stamps = [signed_headers("s1", "GET", "/export/x")["x-base44-timestamp"] for _ in range(200)]
    assert len(set(stamps)) == len(stamps)
    assert stamps == sorted(stamps, key=int)


def test_a_burst_from_many_threads_never_shares_a_timestamp() -> None:
    """The clock is process-wide: threads polling in parallel never sign in the same millisecond."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        stamps = list(pool.map(lambda _: signed_headers("s1", "GET", "/x")["x-base44-timestamp"], range(400)))
    assert len(set(stamps)) == len(stamps)
