"""The example request in the README must stay valid as the timeline model evolves."""

import json
from pathlib import Path

from render.model import ExportRequest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_request_is_a_valid_export_request() -> None:
    request = ExportRequest.model_validate(json.loads((EXAMPLES / "request.json").read_text()))
    assert request.to_composition().duration == 10.0
    assert {asset.src for asset in request.assets} == {"intro.mp4", "bars.mp4", "logo.png", "music.mp3"}


def test_the_readme_timeline_example_is_valid() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    block = readme.split("## The timeline format, at a glance")[1].split("```json")[1].split("```")[0]
    request = ExportRequest.model_validate(json.loads(block.replace("<uuid>", "0d4c")))
    assert request.to_composition().duration == 5.0
