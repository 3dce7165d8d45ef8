"""The module README's input and output tables name every variable and output of the module, as they are."""

from __future__ import annotations

import re
from pathlib import Path

MODULE = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "export_service"


def _blocks(text: str, kind: str) -> dict[str, str]:
    return {m[1]: m[2] for m in re.finditer(rf'^{kind} "([^"]+)" \{{\n(.*?)^\}}', text, re.M | re.S)}


def _rows(readme: str, section: str) -> dict[str, str]:
    table = readme.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return {m[1]: m[0] for m in re.finditer(r"^\| `([a-z0-9_]+)` \|.*$", table, re.M)}


def test_every_input_is_documented_with_its_default() -> None:
    variables = _blocks((MODULE / "variables.tf").read_text(), "variable")
    rows = _rows((MODULE / "README.md").read_text(), "Inputs")
    assert set(rows) == set(variables), (
        "regenerate the Inputs table of terraform/modules/export_service/README.md"
    )
    for name, body in variables.items():
        default = re.search(r"^  default\s*=\s*(.+)$", body, re.M)
        shown = f"`{default[1].strip().replace('|', chr(92) + '|')}`" if default else "required"
        assert rows[name].rstrip().endswith(f"| {shown} |"), (name, shown)


def _service_attributes() -> set[str]:
    """The attributes of the module's one output, the ``service`` object."""
    service = _blocks((MODULE / "outputs.tf").read_text(), "output")["service"]
    return set(re.findall(r"^    ([a-z0-9_]+)\s*=", service, re.M))


def test_every_output_and_attribute_of_service_is_documented() -> None:
    outputs = _blocks((MODULE / "outputs.tf").read_text(), "output")
    readme = (MODULE / "README.md").read_text()
    assert set(_rows(readme, "Outputs")) == set(outputs) == {"service"}
    assert set(_rows(readme, "Attributes of `service`")) == _service_attributes()


def test_the_example_root_sets_real_inputs_and_every_required_one() -> None:
    readme = (MODULE / "README.md").read_text()
    example = readme.split("```hcl", 1)[1].split("```", 1)[0]
    variables = _blocks((MODULE / "variables.tf").read_text(), "variable")
    required = {name for name, body in variables.items() if not re.search(r"^  default\s*=", body, re.M)}
    used = set(re.findall(r"^  ([a-z_0-9]+)\s*=", example, re.M)) - {"source", "value"}
    assert used <= set(variables) and required <= used
    outputs = _blocks((MODULE / "outputs.tf").read_text(), "output")
    assert set(re.findall(r"module\.export_service\.([a-z_0-9]+)", example)) <= set(outputs)
    assert set(re.findall(r"module\.export_service\.service\.([a-z_0-9]+)", example)) <= _service_attributes()
