"""A root's outputs as one flat name → value map.

Both roots pass the module's ``service`` object through whole (its attributes are defined once, in
``terraform/modules/export_service/outputs.tf``) beside their own outputs (``api_url``, ...). Everything
that reads a root's outputs by name goes through ``flat_outputs``, so ``jobs_table_name`` is found whether
it is the root's or the object's.

``terraform output -json | outputs.py NAME`` prints NAME's value as raw text, empty when it is missing (as
``scripts/local_stack/lib.sh`` wants); without NAME, the flat map as JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any


def flat_outputs(output_json: Mapping[str, Any]) -> dict[str, Any]:
    """``terraform output -json`` (name → {"value", ...}) as name → value, with ``service`` spread out."""
    values = {name: output["value"] for name, output in output_json.items()}
    service: dict[str, Any] = values.pop("service", None) or {}
    if clash := sorted(service.keys() & values.keys()):
        raise ValueError(f"outputs named both by the root and in its service object: {clash}")
    return {**service, **values}


def main(argv: list[str]) -> int:
    text = sys.stdin.read()
    outputs = flat_outputs(json.loads(text)) if text.strip() else {}
    if len(argv) > 1:
        value = outputs.get(argv[1])
        print("" if value is None else value if isinstance(value, str) else json.dumps(value))
    else:
        print(json.dumps(outputs, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
