"""The signing rule of the video-export API, defined once for the service, its clients and webhooks.

A request (and a webhook the service sends) is signed as
``hex(HMAC-SHA256(secret, f"{timestamp}.{METHOD}.{path}.{raw_body}"))`` where ``timestamp`` is unix epoch
milliseconds, ``METHOD`` the upper-case HTTP method, ``path`` the route path relative to the API base URL
(``/export``, ``/export/<jobId>``; for a webhook the callback URL's path; never a scheme, host or query)
and ``raw_body`` the body bytes exactly as sent (empty for GET). The timestamp travels in
``x-base44-timestamp``, the signature in ``x-base44-signature``; a timestamp more than
``MAX_CLOCK_SKEW_MS`` away from the receiver's clock, either way, is refused. Test vectors shared with the
Node signer: ``tests/vectors/signing.json`` of the video-export kit.

This module uses the standard library only: the API Lambda ships it without ``requests``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

TIMESTAMP_HEADER = "x-base44-timestamp"
SIGNATURE_HEADER = "x-base44-signature"
DELIVERY_ID_HEADER = "x-base44-delivery-id"
"""Sent with every webhook delivery, the same for every retry of one delivery: the key to deduplicate on.
It is not covered by the signature."""
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
"""A timestamp further than this from the receiver's clock, either way, is refused."""

_TIMESTAMP_RE = re.compile(r"[0-9]{1,16}")
_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")

SignatureProblem = Literal["missing", "bad_timestamp", "bad_signature", "out_of_window", "mismatch"]


class SignatureError(ValueError):
    """A signature was refused; ``reason`` says why (the service maps it to its error codes)."""

    def __init__(self, reason: SignatureProblem, message: str):
        super().__init__(message)
        self.reason: SignatureProblem = reason


@dataclass(frozen=True)
class VerifiedSignature:
    """What a successful verification established; ``signature`` (lower-case hex) feeds a replay guard."""

    timestamp_ms: int
    signature: str


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
    """The two headers of a request sent now (a fresh millisecond per call), or at ``now_ms``."""
    timestamp = str(now_ms if now_ms is not None else _unique_now_ms())
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, method, path, raw_body),
    }


def verify_signature(
    secrets: str | Iterable[str],
    *,
    timestamp: str | None,
    signature: str | None,
    method: str,
    paths: str | Iterable[str],
    raw_body: bytes,
    now_ms: int,
) -> VerifiedSignature:
    """Checks one signed message; raises ``SignatureError`` (missing, malformed, stale or wrong).

    Several secrets may be accepted (a rotation in progress) and several spellings of the path; every
    candidate is computed and compared in constant time, so timing reveals neither the signature nor which
    candidate matched.
    """
    if not timestamp or not signature:
        raise SignatureError("missing", f"headers {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
    if not _TIMESTAMP_RE.fullmatch(timestamp):
        raise SignatureError("bad_timestamp", f"{TIMESTAMP_HEADER} must be unix epoch milliseconds")
    if not _SIGNATURE_RE.fullmatch(signature):
        raise SignatureError("bad_signature", f"{SIGNATURE_HEADER} must be 64 hex digits")
    timestamp_ms = int(timestamp)
    if abs(now_ms - timestamp_ms) > MAX_CLOCK_SKEW_MS:
        raise SignatureError("out_of_window", "the timestamp is more than 5 minutes away from this clock")
    given = signature.lower().encode()
    candidate_paths = [paths] if isinstance(paths, str) else list(paths)
    matched = False
    for secret in [secrets] if isinstance(secrets, str) else secrets:
        for path in candidate_paths:
            expected = sign(secret, timestamp, method, path, raw_body).encode()
            matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise SignatureError("mismatch", "the signature does not match")
    return VerifiedSignature(timestamp_ms=timestamp_ms, signature=signature.lower())


__all__ = [
    "DELIVERY_ID_HEADER",
    "MAX_CLOCK_SKEW_MS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignatureError",
    "SignatureProblem",
    "VerifiedSignature",
    "canonical_message",
    "sign",
    "signed_headers",
    "verify_signature",
]
