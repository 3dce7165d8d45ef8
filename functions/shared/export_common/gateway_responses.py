"""API Gateway's own error responses in the service's error shape, with codes from ``ErrorCode``.

A request API Gateway answers itself never reaches the API function: throttling, a body over its limit,
a WAF rule, a timeout of the function. Each such response type gets a template that writes the service's
``{"error": "<message>", "code": "<CODE>"}`` (``ServiceError.to_body``; no ``details``: there are no
per-field problems) and the status of its code (``HTTP_STATUS``); the two catch-alls (``DEFAULT_4XX``,
``DEFAULT_5XX``) keep the status API Gateway chose. Paths and methods without a route reach the API
function (catch-all routes), which answers 404 ``NOT_FOUND`` or 405 ``METHOD_NOT_ALLOWED`` itself.

The Terraform module reads the generated ``gateway_responses.json`` (a unit test keeps it equal)::

    PYTHONPATH=functions/shared:. .venv/bin/python -m export_common.gateway_responses \\
        > terraform/modules/export_service/gateway_responses.json
"""

from __future__ import annotations

import json
import sys
from typing import Final

from export_common.errors import HTTP_STATUS, ErrorCode

GATEWAY_MESSAGE: Final = "$context.error.messageString"
"""API Gateway's own message, already a quoted JSON string."""
CATCH_ALLS: Final = frozenset({"DEFAULT_4XX", "DEFAULT_5XX"})

GATEWAY_RESPONSE_CODES: Final[dict[str, ErrorCode]] = {
    "ACCESS_DENIED": ErrorCode.ACCESS_DENIED,
    "API_CONFIGURATION_ERROR": ErrorCode.INTERNAL_ERROR,
    "AUTHORIZER_CONFIGURATION_ERROR": ErrorCode.INTERNAL_ERROR,
    "AUTHORIZER_FAILURE": ErrorCode.INTERNAL_ERROR,
    "BAD_REQUEST_BODY": ErrorCode.VALIDATION_ERROR,
    "BAD_REQUEST_PARAMETERS": ErrorCode.VALIDATION_ERROR,
    "DEFAULT_4XX": ErrorCode.REQUEST_REFUSED,
    "DEFAULT_5XX": ErrorCode.INTERNAL_ERROR,
    "EXPIRED_TOKEN": ErrorCode.ACCESS_DENIED,
    "INTEGRATION_FAILURE": ErrorCode.DEPENDENCY_UNAVAILABLE,
    "INTEGRATION_TIMEOUT": ErrorCode.API_TIMEOUT,
    "INVALID_API_KEY": ErrorCode.ACCESS_DENIED,
    "INVALID_SIGNATURE": ErrorCode.ACCESS_DENIED,
    "MISSING_AUTHENTICATION_TOKEN": ErrorCode.NOT_FOUND,
    "QUOTA_EXCEEDED": ErrorCode.RATE_LIMITED,
    "REQUEST_TOO_LARGE": ErrorCode.PAYLOAD_TOO_LARGE,
    "RESOURCE_NOT_FOUND": ErrorCode.NOT_FOUND,
    "THROTTLED": ErrorCode.RATE_LIMITED,
    "UNAUTHORIZED": ErrorCode.INVALID_SIGNATURE,
    "UNSUPPORTED_MEDIA_TYPE": ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    "WAF_FILTERED": ErrorCode.ACCESS_DENIED,
}
"""Every response type API Gateway (REST) has, and the service's code for it."""

MESSAGES: Final[dict[str, str]] = {
    # API Gateway's "Missing Authentication Token" means: no such route (the catch-all routes send those
    # to the API function; this stays for a path API Gateway refuses before routing)
    "MISSING_AUTHENTICATION_TOKEN": json.dumps("No such route."),
    "THROTTLED": json.dumps("Too many requests; retry with backoff."),
    "QUOTA_EXCEEDED": json.dumps("Too many requests; retry with backoff."),
}


def gateway_responses() -> dict[str, dict[str, str | None]]:
    """Response type → its status (None: API Gateway's own) and its ``application/json`` template."""
    responses: dict[str, dict[str, str | None]] = {}
    for response_type, code in sorted(GATEWAY_RESPONSE_CODES.items()):
        message = MESSAGES.get(response_type, GATEWAY_MESSAGE)
        responses[response_type] = {
            "status": None if response_type in CATCH_ALLS else str(HTTP_STATUS[code]),
            "template": f'{{"error":{message},"code":"{code.value}"}}',
        }
    return responses


def render_document() -> str:
    return json.dumps(gateway_responses(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_document())
