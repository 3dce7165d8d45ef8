"""Every timeline in examples/timelines/ renders, as its README promises, from the sample media that
examples/make-media.sh makes. The examples are the feature documentation; this keeps them true."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from render.model import ExportRequest
from tests.markers import requires_ffmpeg
from tests.unit.render.conftest import Media, near

ROOT = Path(__file__).resolve().parents[3]
TIMELINES = ROOT / "examples" / "timelines"
EXAMPLES = sorted(TIMELINES.glob("*.json"))

# What each example shows, checked on the output: (time, x, y, expected RGB) samples, and whether sound
# plays at all (the fit-modes clip is a silent screen recording).
PIXELS: dict[str, list[tuple[float, int, int, tuple[int, int, int]]]] = {
    # a 4:3 clip contained in 16:9 leaves the background colour at the sides; cover and fill leave none
    "fit-modes": [(1.0, 20, 360, (0x20, 0x20, 0x40))],
}
SILENT = {"fit-modes"}


@pytest.fixture(scope="module")
def sample_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("example-media")
    subprocess.run(["bash", str(ROOT / "examples" / "make-media.sh"), str(folder)], check=True)
    return folder


def test_every_example_is_listed_in_the_readme() -> None:
    readme = (TIMELINES / "README.md").read_text(encoding="utf-8")
    assert EXAMPLES
    for example in EXAMPLES:
        assert f"({example.name})" in readme, f"examples/timelines/README.md does not describe {example.name}"


@requires_ffmpeg
@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_the_example_renders(example: Path, sample_media: Path, tmp_path: Path) -> None:
    body = json.loads(example.read_text(encoding="utf-8"))
    assets_dir = tmp_path / "assets-dir"
    (assets_dir / "assets").mkdir(parents=True)
    for asset in body["assets"]:  # each upload under its own key, as the client would make it
        asset["s3Key"] = f"assets/{asset['src']}"
        (assets_dir / asset["s3Key"]).symlink_to(sample_media / asset["src"])
    request = ExportRequest.model_validate(body)
    composition = request.to_composition()

    out = tmp_path / "out.mp4"
    result = Media(assets_dir).render(request, out)

    assert (result.width, result.height) == (request.output.width, request.output.height)
    assert abs(result.duration_seconds - composition.duration) <= 1.5 / request.output.fps
    for t, x, y, expected in PIXELS.get(example.stem, []):
        seen = Media.pixel(out, t, x, y)
        assert near(seen, expected, tolerance=12), f"{example.stem} at {t} s, ({x}, {y}): {seen}"
    loudness = Media.rms(out, 0.0, composition.duration)
    if example.stem in SILENT:
        assert loudness < 0.001
    else:
        assert loudness > 0.01
