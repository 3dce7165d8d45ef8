"""Checks every request passes before routing: size, signature and replay (``/export*``), content type, JSON.

They run before Powertools parses or validates the body, so an unsigned request gets 401 (never a 400 that
reveals the schema; only a body over the size limit is a 413 first, as it costs nothing to check), and the
body the signature covers is exactly the bytes API Gateway received.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from export_api.auth import Authenticator
from export_common.errors import ErrorCode, ServiceError
from export_common.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

logger = Logger(child=True)

UNSIGNED_PATHS = frozenset({"/health"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class GateResult:
    signed: bool
    signature: str | None


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    """Header names lower-cased; API Gateway REST may send ``headers`` as null."""
    headers = event.get("headers") or {}
    return {str(k).lower(): str(v) for k, v in headers.items() if v is not None}


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The body bytes exactly as the client sent them (base64-decoded when API Gateway marks it so)."""
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise ServiceError(ErrorCode.INVALID_JSON, "The request body could not be read.")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ServiceError(ErrorCode.INVALID_JSON, "The request body could not be read.") from None
    # API Gateway hands text bodies over as str; their UTF-8 bytes are what the client sent.
    return body.encode("utf-8", errors="surrogatepass")


def signed_path_candidates(event: Mapping[str, Any]) -> list[str]:
    """Path spellings a signature may cover: the route path (what clients should sign) and the staged one."""
    path = str(event.get("path") or "/")
    context = event.get("requestContext") or {}
    candidates = [path]
    stage = context.get("stage") if isinstance(context, Mapping) else None
    if isinstance(stage, str) and stage and stage != "$default":
        candidates.append(f"/{stage}{path}")
    context_path = context.get("path") if isinstance(context, Mapping) else None
    if isinstance(context_path, str) and context_path:
        candidates.append(context_path)
    return list(dict.fromkeys(candidates))


def _is_json_media_type(value: str | None) -> bool:
    if not value:
        return False
    media_type, _, params = value.partition(";")
    if media_type.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice; which value was meant is unknowable."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKeyError(key)
        seen[key] = value
    return seen


def check_request(
    event: Mapping[str, Any], authenticator: Authenticator, *, max_body_bytes: int
) -> GateResult:
    """Raises ``ServiceError`` (413, 401, 415, 400) or returns what was established about the request.

    The size comes first: it is the one check that costs nothing, so an anonymous oversized body is refused
    without computing any HMAC over it.
    """
    method = str(event.get("httpMethod") or "").upper()
    path = str(event.get("path") or "/")
    if path in UNSIGNED_PATHS:
        return GateResult(signed=False, signature=None)
    headers = _headers(event)
    body_error: ServiceError | None = None
    try:
        body = raw_body(event)
    except ServiceError as error:
        # Verify against the text as received (it cannot match a real signature), then report the body.
        body_error, body = error, str(event.get("body")).encode("utf-8", errors="surrogatepass")
    if len(body) > max_body_bytes:
        # Before any HMAC: an oversized body costs its length check, not one hash per secret and path.
        logger.info(
            "request refused before the signature check",
            extra={"code": ErrorCode.PAYLOAD_TOO_LARGE.value, "body_bytes": len(body), "hmac_computed": 0},
        )
        raise ServiceError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"The request body is larger than {max_body_bytes} bytes."
        )
    verified = authenticator.authenticate(
        timestamp=headers.get(TIMESTAMP_HEADER),
        signature=headers.get(SIGNATURE_HEADER),
        method=method,
        paths=signed_path_candidates(event),
        raw_body=body,
    )
    result = GateResult(signed=True, signature=verified.signature)
    if body_error is not None:
        raise body_error
    if method not in BODY_METHODS:
        return result
    if not _is_json_media_type(headers.get("content-type")):
        raise ServiceError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send the body as Content-Type: application/json."
        )
    try:
        parsed = json.loads(
            body.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_unique_keys
        )
    except DuplicateKeyError as error:
        raise ServiceError(
            ErrorCode.INVALID_JSON,
            f"The request body repeats the key {error.key[:100]!r} in one object; each key may appear once.",
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ServiceError(ErrorCode.INVALID_JSON, "The request body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise ServiceError(ErrorCode.VALIDATION_ERROR, "The request body must be a JSON object.")
    _normalise_content_type(event)
    return result


def _normalise_content_type(event: Mapping[str, Any]) -> None:
    """Media types are case-insensitive, Powertools' check is not: hand it the spelling it expects.

    Runs only after the header was accepted here, so ``Application/JSON`` is not a 415 further on.
    """
    for field in ("headers", "multiValueHeaders"):
        headers = event.get(field)
        if not isinstance(headers, dict):
            continue
        for name in list(headers):
            if str(name).lower() == "content-type":
                headers[name] = ["application/json"] if field == "multiValueHeaders" else "application/json"
