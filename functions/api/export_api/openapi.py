"""The OpenAPI 3 document of the API, generated from the routes and their pydantic models.

``python -m export_api.openapi > docs/openapi.json``; a unit test keeps the checked-in file equal to this.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

from export_api.app import SECURITY_SCHEME, TIMESTAMP_SCHEME, ExportApi
from export_common.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

DESCRIPTION = f"""Signed video-export API.

Every `/export*` request carries `{TIMESTAMP_HEADER}` (unix epoch milliseconds, within 5 minutes of the
server clock) and `{SIGNATURE_HEADER}`: hex HMAC-SHA256 of `{{timestamp}}.{{METHOD}}.{{path}}.{{rawBody}}`
with the shared secret, where `path` is the route path relative to the API base URL (`/export`,
`/export/presign`, `/export/{{jobId}}`; no stage prefix, no query string) and `rawBody` the body bytes exactly
as sent (empty for GET). A signature is accepted once. `GET /health` is unsigned."""


def _unused() -> Any:
    raise AssertionError("the document is generated without serving requests")


def openapi_document() -> dict[str, Any]:
    app = ExportApi(_unused).app
    text = app.get_openapi_json_schema(
        title="Video export API",
        version="1",
        description=DESCRIPTION,
        security_schemes={
            SECURITY_SCHEME: APIKey(
                name=SIGNATURE_HEADER,
                in_=APIKeyIn.header,
                description=f"HMAC signature; send {TIMESTAMP_HEADER} along (see the description above)",
            ),
            TIMESTAMP_SCHEME: APIKey(
                name=TIMESTAMP_HEADER,
                in_=APIKeyIn.header,
                description="unix epoch milliseconds of the signature",
            ),
        },
    )
    document: dict[str, Any] = json.loads(text)
    # We answer validation errors with 400 (documented per route), never Powertools' default 422.
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            responses.pop("422", None)
            if "500" in responses:
                responses["500"] = {
                    "description": "Internal error (a bug; never caused by client input)",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                    },
                }
    schemas = document.get("components", {}).get("schemas", {})
    if "HTTPValidationError" in schemas:
        del schemas["HTTPValidationError"]
        schemas.pop("ValidationError", None)
    if (
        "ResponseValidationError" in schemas
        and '"#/components/schemas/ResponseValidationError"' not in json.dumps(document.get("paths"))
    ):
        del schemas["ResponseValidationError"]
    return document


def render_document() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_document())
