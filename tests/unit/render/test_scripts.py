"""Every script a user types is drawn as glyphs (libass with fontconfig's fallback chain), shaped and
ordered: rendered with real ffmpeg and compared by pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Frame, Media

pytestmark = pytest.mark.slow

WIDTH, LINE = 320, 40
# code points no font has (plane 15 private use): what a script without a font would look like
NO_FONT = "\U000f0001"
SAMPLES = {
    "latin": "Hello",
    "greek": "Ελλάδα",
    "cyrillic": "Привет",
    "arabic": "مرحبا",
    "hebrew": "שלום",
    "devanagari": "नमस्ते",
    "thai": "สวัสดี",
    "cjk": "你好世界",
    "emoji": "😀🎬",
}


def _text(index: int, text: str, **data: Any) -> dict[str, Any]:
    return {"id": f"t{index}", "start": 0, "end": 0.1, "effectId": "text",
            "data": {"text": text, "fontSize": 24, "color": "#ffffff", "x": 0, "y": index * LINE,
                     "width": WIDTH, "height": LINE, **data}}  # fmt: skip


def _render(media: Media, tmp_path: Path, texts: list[dict[str, Any]]) -> Frame:
    out = tmp_path / "scripts.mp4"
    request = media.request([texts], width=WIDTH, height=LINE * len(texts), backgroundColor="#000000")
    media.render(request, out)
    return media.frame(out, 0)


def _band(frame: Frame, line: int) -> list[int]:
    """Luma-ish value of every pixel of a line's band."""
    return [sum(frame.pixel(x, y)) // 3 for y in range(line * LINE, (line + 1) * LINE) for x in range(WIDTH)]


def _columns(band: list[int]) -> list[int]:
    """The x of every column of the band with ink."""
    return [x for x in range(WIDTH) if any(band[y * WIDTH + x] > 100 for y in range(LINE))]


def test_every_script_draws_glyphs_not_boxes(media: Media, tmp_path: Path) -> None:
    texts = []
    for sample in SAMPLES.values():
        texts.append(_text(len(texts), sample))
        texts.append(_text(len(texts), NO_FONT * len(sample)))  # same number of code points
    frame = _render(media, tmp_path, texts)
    for i, name in enumerate(SAMPLES):
        drawn, missing = _band(frame, 2 * i), _band(frame, 2 * i + 1)
        ink = sum(1 for v in drawn if v > 100)
        differ = sum(1 for a, b in zip(drawn, missing, strict=True) if abs(a - b) > 60)
        assert ink > 60, f"{name}: nothing drawn ({ink} lit pixels)"
        assert differ > ink // 2, f"{name}: looks like glyphs no font has ({differ} of {ink} differ)"


def test_arabic_is_joined_and_hebrew_runs_right_to_left(media: Media, tmp_path: Path) -> None:
    joined, apart = "ببببب", "\u200c".join("ببببب")  # a zero-width non-joiner keeps letters apart
    texts = [
        _text(0, joined),
        _text(1, apart),
        _text(2, "אבג", align="right"),
        _text(3, "א", align="right"),
        _text(4, "abc", align="right"),
        _text(5, "a", align="right"),
    ]
    frame = _render(media, tmp_path, texts)
    bands = [_band(frame, i) for i in range(len(texts))]
    width = [len(_columns(b)) for b in bands]
    # joined letters take their connected forms, narrower than five isolated ones
    assert width[0] < width[1] * 0.8, width
    # right to left: the first letter is the rightmost, where it stands alone right-aligned
    for word, first, expect_same in ((2, 3, True), (4, 5, False)):
        columns = _columns(bands[first])
        same = sum(
            1
            for x in columns
            for y in range(LINE)
            if abs(bands[word][y * WIDTH + x] - bands[first][y * WIDTH + x]) <= 40
        )
        assert (same / (len(columns) * LINE) > 0.97) is expect_same, (word, same / (len(columns) * LINE))
