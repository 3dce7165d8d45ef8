"""The request-signing rule shared by the API (verifier) and every client (signer).

A request is signed as ``hex(HMAC-SHA256(secret, f"{timestamp}.{METHOD}.{path}.{raw_body}"))`` where
``timestamp`` is unix epoch milliseconds, ``METHOD`` the upper-case HTTP method, ``path`` the route path
the client called relative to the API base URL (``/export``, ``/export/<jobId>``; no query string) and
``raw_body`` the body bytes exactly as sent (empty for GET). Test vectors shared with the Node signer:
``tests/vectors/signing.json``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from export_common.errors import ErrorCode, ServiceError

TIMESTAMP_HEADER = "x-base44-timestamp"
SIGNATURE_HEADER = "x-base44-signature"
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
"""A timestamp further than this from the server clock, either way, is rejected."""

_TIMESTAMP_RE = re.compile(r"^[0-9]{1,16}$")
_SIGNATURE_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def canonical_message(timestamp: str, method: str, path: str, raw_body: bytes) -> bytes:
    """The exact bytes that are signed."""
    return f"{timestamp}.{method.upper()}.{path}.".encode() + raw_body


def sign(secret: str, timestamp: str, method: str, path: str, raw_body: bytes = b"") -> str:
    """Hex HMAC-SHA256 signature of one request."""
    message = canonical_message(timestamp, method, path, raw_body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


_last_timestamp_ms = 0
_timestamp_lock = threading.Lock()


def _unique_now_ms() -> int:
    """The clock in ms, but strictly increasing within this process.

    Two identical requests signed in the same millisecond would carry the same signature, and the API
    rejects the second as a replay; a client that polls from several threads must never trip that.
    """
    global _last_timestamp_ms  # noqa: PLW0603 - one process-wide clock by design
    with _timestamp_lock:
        _last_timestamp_ms = max(int(time.time() * 1000), _last_timestamp_ms + 1)
        return _last_timestamp_ms


def signed_headers(
    secret: str, method: str, path: str, raw_body: bytes = b"", *, now_ms: int | None = None
) -> dict[str, str]:
    """Headers a client adds to a request: the timestamp and the signature."""
    timestamp = str(now_ms if now_ms is not None else _unique_now_ms())
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, method, path, raw_body),
    }


@dataclass(frozen=True)
class VerifiedSignature:
    """What a successful verification established; ``signature`` feeds the replay guard."""

    timestamp_ms: int
    signature: str


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
    that a client may sign the route path with or without the API Gateway stage prefix. All comparisons
    are constant-time, and every candidate is computed so timing does not reveal which one matched.
    """
    if not timestamp or not signature:
        raise ServiceError(
            ErrorCode.MISSING_SIGNATURE,
            f"Headers {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required.",
        )
    if not _TIMESTAMP_RE.match(timestamp):
        raise ServiceError(
            ErrorCode.INVALID_TIMESTAMP, f"{TIMESTAMP_HEADER} must be unix epoch milliseconds."
        )
    if not _SIGNATURE_RE.match(signature):
        raise ServiceError(ErrorCode.INVALID_SIGNATURE, "Signature does not match.")
    timestamp_ms = int(timestamp)
    if abs(now_ms - timestamp_ms) > MAX_CLOCK_SKEW_MS:
        raise ServiceError(
            ErrorCode.TIMESTAMP_OUT_OF_RANGE,
            "Request timestamp is more than 5 minutes away from the server clock.",
        )
    given = signature.lower().encode()
    matched = False
    for secret in secrets:
        for path in paths:
            expected = sign(secret, timestamp, method, path, raw_body).encode()
            matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise ServiceError(ErrorCode.INVALID_SIGNATURE, "Signature does not match.")
    return VerifiedSignature(timestamp_ms=timestamp_ms, signature=signature.lower())
