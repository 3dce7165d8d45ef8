"""Paths and methods without a route, through the real API Gateway: the service's error shape, never API
Gateway's own ``{"message": "Missing Authentication Token"}``.

Every route has an ``ANY`` sibling and every other path a catch-all (``{proxy+}``), all sent to the API
function: a signed request gets 404 ``NOT_FOUND`` or 405 ``METHOD_NOT_ALLOWED`` (with ``Allow``), an
unsigned one 401 like any ``/export*`` call. API Gateway's own answers (throttling, size, WAF, timeouts) are
templated by ``gateway_responses.tf``; LocalStack's free edition applies only their status codes, so
those are checked by the unit tests of ``export_common.gateway_responses``.
"""

from __future__ import annotations

import pytest

from export_common.errors import HTTP_STATUS, ErrorCode
from tests.e2e.stack import Stack


def _service_error(response: object) -> str:
    """The code of a service-shaped error (``{error, code, details?}``), checking the shape."""
    body = response.json()  # type: ignore[attr-defined]
    assert isinstance(body, dict) and {"error", "code"} <= set(body) <= {"error", "code", "details"}, body
    assert isinstance(body["error"], str) and body["error"].strip(), body
    code = ErrorCode(body["code"])
    assert response.status_code == HTTP_STATUS[code], (response.status_code, body)  # type: ignore[attr-defined]
    return code.value


@pytest.mark.parametrize(
    ("method", "path", "code", "allow"),
    [
        ("PATCH", "/export", "METHOD_NOT_ALLOWED", "POST"),
        ("PUT", "/export/0b5e1f2c-9a43-4c1e-8f00-3d2c1b0a9f8e", "METHOD_NOT_ALLOWED", "DELETE, GET"),
        ("GET", "/export/presign/extra", "NOT_FOUND", None),
        ("GET", "/no/such/route", "NOT_FOUND", None),
        ("DELETE", "/", "NOT_FOUND", None),
        ("POST", "/health", "METHOD_NOT_ALLOWED", "GET"),
    ],
)
def test_a_signed_call_without_a_route_gets_the_service_error(
    stack: Stack, method: str, path: str, code: str, allow: str | None
) -> None:
    # a body method carries a JSON body: the request gate checks that before routing (415 otherwise)
    body = b"{}" if method in ("POST", "PUT", "PATCH") else b""
    response = stack.request(method, path, body=body)
    assert _service_error(response) == code, response.text
    if allow is not None:
        assert response.headers["Allow"] == allow
    assert "Missing Authentication Token" not in response.text


@pytest.mark.parametrize(("method", "path"), [("GET", "/no/such/route"), ("PATCH", "/export")])
def test_an_unsigned_call_without_a_route_is_refused_in_the_same_shape(
    stack: Stack, method: str, path: str
) -> None:
    response = stack.request(method, path, sign=False)
    assert _service_error(response) == "MISSING_SIGNATURE", response.text
