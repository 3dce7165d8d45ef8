"""Transitions between adjacent actions of a row, rendered with real ffmpeg and read back by pixels and
by level. Output: 160x90 at 10 fps, so a 1 s transition on the cut at 2 s spans frames 15..24."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from .conftest import FPS, Frame, Media, W, near

pytestmark = pytest.mark.slow

RED, BLUE, BLACK = (255, 0, 0), (0, 0, 255), (0, 0, 0)


def _video(id_: str, start: float, end: float, src: str, **data: Any) -> dict[str, Any]:
    return {"id": id_, "start": start, "end": end, "effectId": "video", "data": {"src": src, **data}}


def _cut(media: Media, tmp_path: Path, kind: str, duration: float = 1.0) -> Path:
    out = tmp_path / f"{kind}.mp4"
    row = [
        _video("a", 0, 2, "red.mp4"),
        _video("b", 2, 3, "blue.mp4", transition={"type": kind, "duration": duration}),
    ]
    media.render(media.request([row]), out)
    return out


def _at(media: Media, out: Path, frame: int) -> Frame:
    return media.frame(out, (frame + 0.5) / FPS)


def test_a_crossfade_mixes_both_clips_centred_on_the_cut(media: Media, tmp_path: Path) -> None:
    out = _cut(media, tmp_path, "crossfade")
    assert near(_at(media, out, 14).pixel(80, 45), RED, 12)  # before the span: the cut's left side
    assert near(_at(media, out, 15).pixel(80, 45), RED, 30)  # first frame of the span: almost pure
    middle = _at(media, out, 20).pixel(80, 45)
    assert near(middle, (128, 0, 128), 30), middle  # the middle frame is the mix of both
    assert near(_at(media, out, 24).pixel(80, 45), BLUE, 40)  # last frame: almost pure
    assert near(_at(media, out, 25).pixel(80, 45), BLUE, 12)  # after the span
    # blue.mp4 has no media before its in-point: its first frame is held, not black
    assert not near(_at(media, out, 16).pixel(80, 45), BLACK, 60)


def test_fadeblack_reaches_black_at_the_cut(media: Media, tmp_path: Path) -> None:
    out = _cut(media, tmp_path, "fadeblack")
    assert near(_at(media, out, 20).pixel(80, 45), BLACK, 16)
    assert near(_at(media, out, 15).pixel(80, 45), RED, 40)
    assert near(_at(media, out, 25).pixel(80, 45), BLUE, 12)


def _blue_columns(frame: Frame) -> list[int]:
    return [x for x in range(W) if near(frame.pixel(x, 45), BLUE, 60)]


@pytest.mark.parametrize(("kind", "from_side"), [("wipeleft", "right"), ("wiperight", "left")])
def test_a_wipe_edge_moves_the_right_way(media: Media, tmp_path: Path, kind: str, from_side: str) -> None:
    out = _cut(media, tmp_path, kind)
    early, late = _blue_columns(_at(media, out, 17)), _blue_columns(_at(media, out, 22))
    assert 0 < len(early) < len(late) < W, (len(early), len(late))
    # the incoming clip grows from one side: its columns touch that edge
    edge = W - 1 if from_side == "right" else 0
    assert edge in early and edge in late


def test_audio_crossfades_at_equal_power(media: Media, tmp_path: Path) -> None:
    """A 440 Hz tone crossfades into a 1000 Hz tone of the same level over 1 s: the level stays steady."""
    out = tmp_path / "audio.mp4"
    row = [
        _video("a", 0, 1.5, "green_tone.mp4"),  # 2 s of tone: plays on to 2 s
        _video("b", 1.5, 3, "redblue_tones.mp4", trimStart=2.5,  # its 1000 Hz part, from 2.0 s
               transition={"type": "crossfade", "duration": 1}),
    ]  # fmt: skip
    media.render(media.request([row]), out)
    steady = media.rms(out, 0.2, 0.5)
    levels = [media.rms(out, 1.0 + i * 0.1, 0.1) for i in range(10)]  # the span, 1.0 .. 2.0
    deviations = [20 * math.log10(level / steady) for level in levels]
    assert max(abs(d) for d in deviations) <= 1.5, [round(d, 2) for d in deviations]
    # both tones are there in the middle, each at about 1/sqrt(2) of its amplitude
    a, b = media.tone(out, 1.4, 0.2, 440), media.tone(out, 1.4, 0.2, 1000)
    assert 0.5 < a / b < 2, (a, b)
    assert media.tone(out, 2.3, 0.3, 440) < 0.01  # after the span only the incoming tone


def test_a_transition_needs_an_adjacent_previous_action(media: Media) -> None:
    row = [
        _video("a", 0, 1.5, "red.mp4"),
        _video("b", 2, 3, "blue.mp4", transition={"type": "fade", "duration": 1}),
    ]
    with pytest.raises(ValidationError, match=r"'b' has a transition.*'a', ends at 1.5 s"):
        media.request([row])
    with pytest.raises(ValidationError, match=r"unknown transition 'zap': expected one of .*wipeleft"):
        media.request(
            [
                [
                    _video("a", 0, 2, "red.mp4"),
                    _video("b", 2, 3, "blue.mp4", transition={"type": "zap", "duration": 1}),
                ]
            ]
        )
    with pytest.raises(ValidationError, match="longer than action"):
        media.request(
            [
                [
                    _video("a", 0, 2, "red.mp4"),
                    _video("b", 2, 2.5, "blue.mp4", transition={"type": "fade", "duration": 1}),
                ]
            ]
        )
