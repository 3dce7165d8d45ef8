"""Verifying the completion webhooks the video-export service sends.

When a job started with a ``callbackUrl`` ends, the service POSTs ``{jobId, status, error?, errorCode?,
downloadUrl?, output?}`` to that URL, signed with the same rule as API requests (``video_export.signing``)
but with the **webhook secret** (``EXPORT_WEBHOOK_SECRET``; its own Secrets Manager secret, not the
request-signing secret) over the callback URL's **path** (no scheme, host or query):

* ``x-base44-timestamp``: unix time in milliseconds, within 5 minutes of the receiver's clock;
* ``x-base44-signature``: hex ``HMAC-SHA256(secret, f"{timestamp}.POST.{path}.{raw_body}")``;
* ``x-base44-delivery-id``: the same for every retry of one delivery (deliveries are at least once), the key
  to deduplicate on. It is not signed, so handle each job's final status idempotently as well.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from video_export.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    VerifiedSignature,
    verify_signature,
)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its lower-case name, whatever the case of the mapping's keys."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def check_webhook(
    secret: str | Iterable[str],
    headers: Mapping[str, str],
    path: str,
    raw_body: bytes | str,
    *,
    now_ms: int | None = None,
) -> VerifiedSignature:
    """Verifies one webhook delivery; raises ``SignatureError`` (``reason``, readable message) when refused.

    ``secret``: the webhook secret (not the request-signing one), or several during a rotation.
    ``headers``: the request's headers (any mapping; names are matched without regard to case).
    ``path``: the path of the callback URL as it was registered, e.g. ``/hooks/export``. ``raw_body``: the
    body bytes exactly as received (a ``str`` is taken as its UTF-8 bytes). ``now_ms``: the receiver's
    clock, unix ms (default: now).

    Raises ``ValueError`` when ``path`` is not a path (a whole URL, or a query string left on): that is a
    mistake in the caller, not a bad delivery.
    """
    if not path.startswith("/") or "?" in path or "#" in path:
        raise ValueError(f"path must be the callback URL's path, without scheme, host or query: {path!r}")
    body = raw_body.encode() if isinstance(raw_body, str) else bytes(raw_body)
    return verify_signature(
        secret,
        timestamp=_header(headers, TIMESTAMP_HEADER),
        signature=_header(headers, SIGNATURE_HEADER),
        method="POST",
        paths=path,
        raw_body=body,
        now_ms=int(time.time() * 1000) if now_ms is None else now_ms,
    )


def verify_webhook(
    secret: str | Iterable[str],
    headers: Mapping[str, str],
    path: str,
    raw_body: bytes | str,
    *,
    now_ms: int | None = None,
) -> bool:
    """Whether a webhook delivery is authentic and fresh (see ``check_webhook`` for the arguments).

    False for missing or malformed signature headers, a timestamp more than 5 minutes away from ``now_ms``
    and a signature that does not match (compared in constant time).
    """
    try:
        check_webhook(secret, headers, path, raw_body, now_ms=now_ms)
    except SignatureError:
        return False
    return True


__all__ = ["SignatureError", "check_webhook", "verify_webhook"]
