"""Captions rendered with real ffmpeg and read back by pixels: in the right band only during their cues,
`position` honoured, long lines wrapped within `maxWidth`, a box behind each line, and an SRT in
non-Latin scripts drawn as glyphs, not as the boxes of code points no font has.
Output: 320x180 at 10 fps, on black."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from render.model import ExportRequest
from render.pipeline import render_export

from .conftest import Frame, Media

pytestmark = pytest.mark.slow

W, H, FPS = 320, 180, 10
NO_FONT = "\U000f0001"  # a code point no font has
SRT = """1
00:00:00,500 --> 00:00:01,000
Hello

2
00:00:01,500 --> 00:00:02,000
你好世界 Привет مرحبا
"""


def _request(actions: list[dict[str, Any]], files: dict[str, str] | None = None) -> ExportRequest:
    return ExportRequest.model_validate(
        {
            "timeline": {"editorData": [{"id": f"r{i}", "actions": [a]} for i, a in enumerate(actions)]},
            "assets": [{"src": name, "s3Key": f"assets/{name}"} for name in files or {}],
            "output": {"width": W, "height": H, "fps": FPS, "backgroundColor": "#000000"},
        }
    )


def _captions(end: float = 3, **data: Any) -> dict[str, Any]:
    return {"id": "c", "start": 0, "end": end, "effectId": "captions",
            "data": {"fontSize": 20, "background": "transparent", **data}}  # fmt: skip


def _render(tmp_path: Path, request: ExportRequest, files: dict[str, str] | None = None) -> Path:
    (tmp_path / "assets").mkdir(exist_ok=True)
    for name, text in (files or {}).items():
        (tmp_path / "assets" / name).write_text(text, encoding="utf-8")
    out = tmp_path / "out.mp4"
    render_export(request, tmp_path, out)
    return out


_frames = Media.frames


def _ink_rows(frame: Frame, threshold: int = 100) -> list[int]:
    """The y of every row with lit pixels."""
    return [y for y in range(H) if any(sum(frame.pixel(x, y)) // 3 > threshold for x in range(0, W, 1))]


def _ink_columns(frame: Frame) -> list[int]:
    return [x for x in range(W) if any(sum(frame.pixel(x, y)) // 3 > 100 for y in range(H))]


def test_captions_show_only_during_their_cues_in_the_bottom_band(media: Media, tmp_path: Path) -> None:
    """Cues 0.5-1.0 s and 1.5-2.0 s from a file, action from 0.2 s with trimStart 0.3: on the output
    they are 0.4-0.9 s (frames 4..8) and 1.4-1.9 s (frames 14..18)."""
    action = {**_captions(src="subs.srt", trimStart=0.3, margin=10), "start": 0.2}
    out = _render(tmp_path, _request([action], {"subs.srt": SRT}), {"subs.srt": SRT})
    frames = _frames(out)
    assert len(frames) == 30
    lit = [i for i, frame in enumerate(frames) if _ink_rows(frame)]
    assert lit == [4, 5, 6, 7, 8, 14, 15, 16, 17, 18], lit
    for i in lit:
        rows = _ink_rows(frames[i])
        assert min(rows) >= H - 10 - 40 and max(rows) <= H - 10, (i, rows)  # one line above the margin


@pytest.mark.parametrize(
    ("position", "band"), [("bottom", (130, 170)), ("top", (10, 50)), ("center", (70, 110))]
)
def test_position_and_margin_are_honoured(
    media: Media, tmp_path: Path, position: str, band: tuple[int, int]
) -> None:
    action = _captions(end=1, cues=[{"start": 0, "end": 1, "text": "Caption"}], position=position, margin=10)
    frame = _frames(_render(tmp_path, _request([action])))[5]
    rows = _ink_rows(frame)
    assert rows and band[0] <= min(rows) and max(rows) <= band[1], (position, min(rows), max(rows))
    columns = _ink_columns(frame)
    assert abs((min(columns) + max(columns)) / 2 - W / 2) < 8, columns  # centred


def test_long_lines_wrap_within_max_width_and_each_line_gets_a_box(media: Media, tmp_path: Path) -> None:
    text = "a long caption that cannot fit on one line of half the frame"
    action = _captions(end=1, cues=[{"start": 0, "end": 1, "text": text}], maxWidth=0.5, margin=4,
                       background="#ff0000")  # fmt: skip
    frame = _frames(_render(tmp_path, _request([action])))[5]
    red = [(x, y) for y in range(H) for x in range(W) if frame.pixel(x, y)[0] > 150 > frame.pixel(x, y)[1]]
    assert red, "no box drawn"
    xs, ys = [x for x, _ in red], [y for _, y in red]
    assert min(xs) >= W / 4 - 2 and max(xs) <= 3 * W / 4 + 2, (min(xs), max(xs))  # inside maxWidth
    assert max(ys) <= H - 4 + 1, max(ys)  # inside the margin
    text_rows = _ink_rows(frame, threshold=200)  # white text (the red box is darker in luma)
    groups = sum(1 for a, b in zip([-2, *text_rows], text_rows, strict=False) if b - a > 1)
    assert groups >= 3, text_rows  # wrapped: three lines or more at 20 px in 160 px


def test_an_srt_in_non_latin_scripts_draws_glyphs_not_boxes(media: Media, tmp_path: Path) -> None:
    glyphs = "你好世界 Привет مرحبا"
    files = {
        "scripts.srt": f"1\n00:00:00,000 --> 00:00:01,000\n{glyphs}\n",
        "nofont.srt": f"1\n00:00:00,000 --> 00:00:01,000\n{NO_FONT * len(glyphs)}\n",
    }
    top = {**_captions(end=1, src="scripts.srt", position="top", margin=10), "id": "s"}
    bottom = {**_captions(end=1, src="nofont.srt", position="bottom", margin=10), "id": "n"}
    frame = _frames(_render(tmp_path, _request([top, bottom], files), files))[5]

    def band(y0: int) -> list[int]:
        return [sum(frame.pixel(x, y)) // 3 for y in range(y0, y0 + 40) for x in range(W)]

    drawn, missing = band(10), band(H - 50)
    ink = sum(1 for v in drawn if v > 100)
    differ = sum(1 for a, b in zip(drawn, missing, strict=True) if abs(a - b) > 60)
    assert ink > 150, ink
    assert differ > ink // 2, (differ, ink)
