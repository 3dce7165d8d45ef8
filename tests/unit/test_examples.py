"""The example request in the README must stay valid as the timeline model evolves."""

import json
from pathlib import Path

import pytest

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


def test_the_melies_example_is_read_as_the_player_shows_it() -> None:
    request = ExportRequest.model_validate(json.loads((EXAMPLES / "melies-request.json").read_text()))
    clips = request.to_composition().clips
    stage = [(c.id, c.start, c.end, c.trim_start) for c in clips if c.kind == "video"]
    # V2's phone clip (videoLayer 1) interrupts the split intro clip, which continues at its offset
    expected = [("v1a", 0, 2.55, 0.5), ("v1b", 2.55, 4, 3), ("v2a", 4, 5.5, 0), ("v1b", 5.5, 6, 5.95)]
    assert [s[0] for s in stage] == [e[0] for e in expected]
    assert [s[1:] for s in stage] == [pytest.approx(e[1:]) for e in expected]
    assert next(c for c in clips if c.id == "v1a").hold == pytest.approx(0.05)  # the micro gap is held
    audio = {c.id: (c.loop, c.audio_optional, c.trim_start) for c in clips if c.kind == "audio"}
    assert audio == {
        "m1": (True, False, 0),
        "a1a": (True, True, 0.5),
        "a1b": (True, True, 3),
        "a2a": (True, True, 0),
    }
    assert request.to_composition().duration == 12.0


def test_the_render_readme_examples_are_valid_and_match_the_example_files() -> None:
    readme = (EXAMPLES.parent / "render" / "README.md").read_text()
    blocks = [block.split("```")[0] for block in readme.split("```json")[1:]]
    requests = [json.loads(b) for b in blocks if b.lstrip().startswith('{"timeline"')]
    assert len(requests) == 2, "one complete example per dialect"
    for shown, file in zip(requests, ("melies-request.json", "request.json"), strict=True):
        example = json.loads((EXAMPLES / file).read_text())

        def clips(body: dict[str, object]) -> list[tuple[object, ...]]:
            composition = ExportRequest.model_validate(body).to_composition()
            return [(c.id, c.kind, c.start, c.end, c.trim_start, c.src) for c in composition.clips]

        assert clips(shown) == clips(example), file
