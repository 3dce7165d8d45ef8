"""The roots' outputs as their readers see them: the module's ``service`` object beside each root's own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scripts.terraform.outputs import flat_outputs

ROOT = Path(__file__).resolve().parents[2]
ENVS = ROOT / "terraform" / "envs"


def test_the_service_object_is_spread_beside_the_roots_own_outputs() -> None:
    raw = {
        "api_url": {"value": "http://x/v1", "type": "string", "sensitive": False},
        "service": {"value": {"jobs_table_name": "t", "alarm_names": {"a": "b"}}, "type": ["object", {}]},
    }
    assert flat_outputs(raw) == {"api_url": "http://x/v1", "jobs_table_name": "t", "alarm_names": {"a": "b"}}
    assert flat_outputs({"api_url": {"value": "u"}}) == {"api_url": "u"}  # an apply that never got that far
    with pytest.raises(ValueError, match="api_url"):
        flat_outputs({"api_url": {"value": "u"}, "service": {"value": {"api_url": "v"}}})


def _names(root: str) -> set[str]:
    """What a root's flat outputs are named: its own outputs and the service object's attributes."""
    own = set(re.findall(r'^output "([a-z0-9_]+)"', (ENVS / root / "outputs.tf").read_text(), re.M))
    outputs_tf = (ROOT / "terraform" / "modules" / "export_service" / "outputs.tf").read_text()
    return own - {"service"} | set(re.findall(r"^    ([a-z0-9_]+)\s*=", outputs_tf, re.M))


def test_every_output_a_script_or_test_reads_by_name_exists() -> None:
    """Names as the readers write them: outputs["x"], outputs.get("x"), tf_output x, output -raw x."""
    pattern = re.compile(
        r"""outputs(?:\[|\.get\()\s*["']([a-z0-9_]+)["']|tf_output ([a-z0-9_]+)|output -raw ([a-z0-9_]+)"""
    )
    wanted: dict[str, set[str]] = {"local": set(), "prod": set()}
    for folder in ("scripts", "tests", "benchmarks", "examples"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in {".py", ".sh", ".mjs"} or path == Path(__file__):
                continue
            names = {name for match in pattern.findall(path.read_text()) for name in match if name}
            prod = "rehears" in path.name or path.name == "deploy.sh"
            wanted["prod" if prod else "local"] |= names
    assert wanted["local"] and wanted["prod"]
    for root, names in wanted.items():
        assert names <= _names(root), f"envs/{root} has no output {sorted(names - _names(root))}"
