"""The OpenAPI document matches the code; fuzzed requests never cause a 500 nor pass without a signature."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from export_api.openapi import openapi_document, render_document
from export_common.signing import signed_headers

from .api_stack import SECRET, Reply, Stack, error_code, rest_event

ROOT = Path(__file__).resolve().parents[3]


def test_checked_in_openapi_matches_the_code() -> None:
    checked_in = (ROOT / "docs" / "openapi.json").read_text()
    assert checked_in == render_document(), (
        "regenerate: .venv/bin/python -m export_api.openapi > docs/openapi.json"
    )


def test_openapi_describes_the_four_routes_with_their_models() -> None:
    doc = openapi_document()
    assert doc["openapi"].startswith("3.")
    assert {p: sorted(ops) for p, ops in doc["paths"].items()} == {
        "/health": ["get"],
        "/export/presign": ["post"],
        "/export": ["post"],
        "/export/{jobId}": ["delete", "get"],
    }
    body = doc["paths"]["/export"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ExportRequest"}
    assert "202" in doc["paths"]["/export"]["post"]["responses"]
    for path in ("/export", "/export/presign", "/export/{jobId}"):
        for operation in doc["paths"][path].values():
            assert operation["security"] == [{"base44Signature": [], "base44Timestamp": []}]
            assert "401" in operation["responses"]
    assert "security" not in doc["paths"]["/health"]["get"]
    assert doc["components"]["securitySchemes"]["base44Signature"]["name"] == "x-base44-signature"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {},
        optional={
            "assets": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "src": st.text(max_size=10),
                        "contentType": st.sampled_from(["video/mp4", "image/png", "x/y", ""]),
                        "ext": st.sampled_from([".mp4", ".png", "mp4", "", ".."]),
                        "s3Key": st.sampled_from(["assets/a.mp4", "../x", "assets/..", ""]),
                    },
                ),
                max_size=3,
            ),
            "timeline": st.fixed_dictionaries({}, optional={"editorData": json_values}),
            "output": json_values,
        },
    ).map(lambda v: json.dumps(v).encode()),
)
paths = st.sampled_from(
    [
        "/export",
        "/export/presign",
        "/export/0b5e1f2c-9a43-4c1e-8f00-3d2c1b0a9f8e",
        "/export/x",
        "/health",
        "/",
        "/export/a/b",
    ]
) | st.text(max_size=20).map(lambda s: "/" + s)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
content_types = st.sampled_from(["application/json", "text/plain", "application/json; charset=utf-8", ""])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=methods,
    path=paths,
    body=bodies,
    content_type=content_types,
    signing=st.sampled_from(["none", "valid", "wrong-secret", "garbage"]),
    b64=st.booleans(),
    extra=st.dictionaries(
        st.sampled_from(["Idempotency-Key", "x-base44-timestamp", "X-Other"]),
        st.text(max_size=300),
        max_size=2,
    ),
)
def test_fuzz_never_500_and_never_unsigned_2xx(
    stack: Stack,
    *,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str,
    signing: str,
    b64: bool,
    extra: dict[str, str],
) -> None:
    headers: dict[str, str] = {}
    if content_type:
        headers["Content-Type"] = content_type
    if signing == "valid":
        headers.update(signed_headers(SECRET, method, path, body or b""))
    elif signing == "wrong-secret":
        headers.update(signed_headers("wrong", method, path, body or b""))
    elif signing == "garbage":
        headers.update({"x-base44-timestamp": str(int(time.time() * 1000)), "x-base44-signature": "ab" * 32})
    if signing != "valid":
        headers.update(extra)
    else:
        headers.update({k: v for k, v in extra.items() if not k.lower().startswith("x-base44")})
    if body is not None and not b64:
        try:
            body.decode()
        except UnicodeDecodeError:
            b64 = True
    event = rest_event(method, path, body=body, headers=headers, base64_body=b64 and body is not None)
    response: dict[str, Any] = stack.api.handle(event, None)  # type: ignore[arg-type]
    status = response["statusCode"]
    assert status < 500 or (status == 503 and path == "/health"), response
    payload = json.loads(response["body"])
    if status >= 400 and not (status == 503 and path == "/health"):  # a degraded health is its own body
        error_code(Reply(status, {}, payload))
    if path != "/health" and signing != "valid":
        assert status == 401, response
