"""The JSON Schema of the `POST /export` body, generated from `render.model.ExportRequest`.

The checked-in copy (`render/schema/export-request.schema.json`) is compared with this by a unit test;
regenerate it with `python -m render --schema > render/schema/export-request.schema.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from render.model import ExportRequest

SCHEMA_PATH = Path(__file__).parent / "schema" / "export-request.schema.json"


def export_request_schema() -> dict[str, Any]:
    schema = ExportRequest.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def export_request_schema_text() -> str:
    return json.dumps(export_request_schema(), indent=2, ensure_ascii=False) + "\n"
