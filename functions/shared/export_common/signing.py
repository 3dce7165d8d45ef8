"""The service's side of request signing: the rule comes from ``video_export.signing``, defined there once.

``video_export.signing`` (the Python client package, ``clients/python``) holds the rule itself, the header
names, the 5-minute window, the signer and the constant-time check. This module adds what only the service
needs: the error codes and messages of a refused request. The secrets to try (the current one and the one
before a rotation) and the path spellings (with or without the API Gateway stage prefix) are the caller's
(``export_api.auth``, ``export_api.gate``).
"""

from __future__ import annotations

from collections.abc import Iterable

from export_common.errors import ErrorCode, ServiceError
from video_export.signing import (
    DELIVERY_ID_HEADER,
    MAX_CLOCK_SKEW_MS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    SignatureProblem,
    VerifiedSignature,
    canonical_message,
    sign,
    signed_headers,
    verify_signature,
)

_REFUSALS: dict[SignatureProblem, tuple[ErrorCode, str]] = {
    "missing": (
        ErrorCode.MISSING_SIGNATURE,
        f"Headers {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required.",
    ),
    "bad_timestamp": (ErrorCode.INVALID_TIMESTAMP, f"{TIMESTAMP_HEADER} must be unix epoch milliseconds."),
    # a malformed signature is answered as a wrong one
    "bad_signature": (ErrorCode.INVALID_SIGNATURE, "Signature does not match."),
    "out_of_window": (
        ErrorCode.TIMESTAMP_OUT_OF_RANGE,
        "Request timestamp is more than 5 minutes away from the server clock.",
    ),
    "mismatch": (ErrorCode.INVALID_SIGNATURE, "Signature does not match."),
}


def verify(
    secrets: Iterable[str],
    *,
    timestamp: str | None,
    signature: str | None,
    method: str,
    paths: Iterable[str],
    raw_body: bytes,
    now_ms: int,
) -> VerifiedSignature:
    """Checks one request against every accepted secret and path spelling; raises ``ServiceError``.

    Several secrets are accepted so that a rotation does not break requests in flight; several paths so
    that a client may sign the route path with or without the API Gateway stage prefix. The comparison is
    ``video_export.signing.verify_signature``: constant-time, every candidate computed.
    """
    try:
        return verify_signature(
            tuple(secrets),
            timestamp=timestamp,
            signature=signature,
            method=method,
            paths=tuple(paths),
            raw_body=raw_body,
            now_ms=now_ms,
        )
    except SignatureError as refused:
        code, message = _REFUSALS[refused.reason]
        raise ServiceError(code, message) from None


__all__ = [
    "DELIVERY_ID_HEADER",
    "MAX_CLOCK_SKEW_MS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "VerifiedSignature",
    "canonical_message",
    "sign",
    "signed_headers",
    "verify",
]
