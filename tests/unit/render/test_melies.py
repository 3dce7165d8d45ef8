"""Melies timelines render as the Melies player previews them: judged by pixels and by tone levels.

The snapshots are built the way the editor writes them (`getTimelineSnapshot()`: lanes V2, V1, A2, A1,
opaque `src` keys, editor-only fields), from the rules in `render.editor_formats.melies`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from render.model import ExportRequest

from .conftest import FPS, H, Media, W, near

pytestmark = pytest.mark.slow

RED, BLUE, YELLOW, BLACK = (255, 0, 0), (0, 0, 255), (255, 255, 0), (0, 0, 0)
PRESENT, ABSENT = 0.05, 0.01  # tone amplitudes (the sources are sines of amplitude 1/8)


def src(name: str) -> str:
    return f"base44-asset:{name}"


def action(effect: str, start: float, end: float, name: str, **data: Any) -> dict[str, Any]:
    return {
        "id": f"{effect}-{name}-{start}",
        "start": start,
        "end": end,
        "effectId": effect,
        "selected": False,
        "flexible": True,
        "movable": True,
        "data": {"src": src(name), "previewSrc": f"blob:{name}", "name": name, **data},
    }


def snapshot(
    v2: Sequence[dict[str, Any]] = (),
    v1: Sequence[dict[str, Any]] = (),
    a2: Sequence[dict[str, Any]] = (),
    a1: Sequence[dict[str, Any]] = (),
    fps: float = FPS,
) -> ExportRequest:
    lanes = [list(v2), list(v1), list(a2), list(a1)]
    names = {a["data"]["name"] for lane in lanes for a in lane}
    return ExportRequest.model_validate(
        {
            "timeline": {
                "version": 1,
                "selectedActionId": None,
                "timelineScaleWidth": 160,
                "editorData": [{"id": str(i), "actions": lane} for i, lane in enumerate(lanes)],
            },
            "assets": [{"src": src(name), "s3Key": f"assets/{name}"} for name in sorted(names)],
            "output": {"width": W, "height": H, "fps": fps},
        }
    )


def render(media: Media, request: ExportRequest, tmp_path: Path) -> Path:
    out = tmp_path / "out.mp4"
    media.render(request, out)
    return out


def test_a_split_clip_continues_at_its_offset(media: Media, tmp_path: Path) -> None:
    left = action("effect1", 0, 1, "redblue_tones.mp4", linkId="l1")
    right = action("effect1", 1, 2, "redblue_tones.mp4", linkId="l2", offset=2.5)
    out = render(media, snapshot(v1=[left, right]), tmp_path)
    assert near(media.pixel(out, 0.5, 80, 45), RED)
    assert near(media.pixel(out, 1.5, 80, 45), BLUE)  # 2.5 s into the source: its blue half


def test_the_higher_video_layer_hides_the_lower_one_behind_black_bars(media: Media, tmp_path: Path) -> None:
    # The 4:3 clip sits on the V1 lane with videoLayer 1: the layer, not the row, decides.
    lower = action("effect1", 0, 3, "redblue_tones.mp4", videoLayer=0)
    upper = action("effect1", 1, 2, "yellow_4x3.mp4", videoLayer=1)
    out = render(media, snapshot(v2=[lower], v1=[upper]), tmp_path)
    assert near(media.pixel(out, 0.5, 5, 45), RED)
    assert near(media.pixel(out, 1.5, 80, 45), YELLOW)
    assert near(media.pixel(out, 1.5, 5, 45), BLACK)  # pillarbox, not the red clip below
    assert near(media.pixel(out, 2.5, 5, 45), BLUE)  # the lower clip again, 2.5 s into its source: blue


def test_on_equal_layers_the_earlier_row_is_shown(media: Media, tmp_path: Path) -> None:
    out = render(
        media,
        snapshot(
            v2=[action("effect1", 0, 1, "yellow_4x3.mp4")], v1=[action("effect1", 0, 1, "redblue_tones.mp4")]
        ),
        tmp_path,
    )
    assert near(media.pixel(out, 0.5, 80, 45), YELLOW)
    assert near(media.pixel(out, 0.5, 5, 45), BLACK)


def test_linked_audio_follows_its_offset_and_the_picture_alone_is_silent(
    media: Media, tmp_path: Path
) -> None:
    picture = action("effect1", 0, 1.5, "redblue_tones.mp4", linkId="a", offset=2)
    sound = action("effect2", 0, 1.5, "redblue_tones.mp4", linkId="a", offset=2)
    out = render(media, snapshot(v1=[picture], a1=[sound]), tmp_path)
    assert near(media.pixel(out, 0.7, 80, 45), BLUE)
    assert media.tone(out, 0.2, 1.0, 1000) > PRESENT  # the blue half's tone
    assert media.tone(out, 0.2, 1.0, 440) < ABSENT

    out = render(media, snapshot(v1=[picture]), tmp_path)  # effect1 without its effect2
    assert media.rms(out, 0, 1.5) < 1e-3


def test_music_loops_from_its_offset(media: Media, tmp_path: Path) -> None:
    # music.wav: [0, 0.75) 600 Hz, [0.75, 1.5) 1500 Hz. Played from offset 0.75 on a 4 s action.
    out = render(media, snapshot(a2=[action("effect0", 0.5, 4.5, "music.wav", offset=0.75)]), tmp_path)
    assert media.rms(out, 0, 0.4) < 1e-3  # before the action
    expected = [(0.6, 1500), (1.35, 600), (2.1, 1500), (2.85, 600), (3.6, 1500)]  # every 0.75 s
    for start, frequency in expected:
        other = 600 if frequency == 1500 else 1500
        assert media.tone(out, start, 0.5, frequency) > PRESENT, (start, frequency)
        assert media.tone(out, start, 0.5, other) < ABSENT, (start, other)


def test_overlapping_audio_mixes_every_source(media: Media, tmp_path: Path) -> None:
    out = render(
        media,
        snapshot(
            v1=[action("effect1", 0, 2, "redblue_tones.mp4")],
            a2=[action("effect0", 1, 2, "music.wav")],
            a1=[action("effect2", 0, 2, "redblue_tones.mp4")],
        ),
        tmp_path,
    )
    assert media.tone(out, 0.2, 0.6, 440) > PRESENT
    assert media.tone(out, 0.2, 0.6, 600) < ABSENT
    assert media.tone(out, 1.1, 0.6, 440) > PRESENT  # the video's own sound goes on
    assert media.tone(out, 1.1, 0.6, 600) > PRESENT  # and the music plays with it, not normalised down
    assert media.tone(out, 1.1, 0.6, 440) == pytest.approx(media.tone(out, 0.2, 0.6, 440), rel=0.15)


def test_the_audio_track_of_a_video_without_sound_is_silence(media: Media, tmp_path: Path) -> None:
    picture = action("effect1", 0, 2, "yellow_4x3.mp4", linkId="s")
    sound = action("effect2", 0, 2, "yellow_4x3.mp4", linkId="s")  # the editor adds it for every video
    music = action("effect0", 1, 2, "music.wav")
    out = render(media, snapshot(v1=[picture], a2=[music], a1=[sound]), tmp_path)
    assert near(media.pixel(out, 0.5, 80, 45), YELLOW)
    assert media.rms(out, 0.1, 0.7) < 1e-3
    assert media.tone(out, 1.1, 0.5, 600) > PRESENT


def test_a_micro_gap_holds_the_last_frame_and_a_larger_gap_is_black(media: Media, tmp_path: Path) -> None:
    first = action("effect1", 0, 1, "redblue_tones.mp4")  # red
    after_micro_gap = action("effect1", 1.1, 1.6, "redblue_tones.mp4", offset=2)  # blue, 0.1 s later
    after_macro_gap = action("effect1", 2.2, 2.6, "yellow_4x3.mp4")  # 0.6 s later
    out = render(media, snapshot(v1=[first, after_micro_gap, after_macro_gap], fps=25), tmp_path)
    assert near(media.pixel(out, 1.04, 80, 45), RED)  # held, not black
    assert near(media.pixel(out, 1.08, 80, 45), RED)
    assert near(media.pixel(out, 1.3, 80, 45), BLUE)
    assert near(media.pixel(out, 1.9, 80, 45), BLACK)
    assert near(media.pixel(out, 2.4, 80, 45), YELLOW)


def test_the_stage_is_opaque_over_generic_actions_and_the_background(media: Media, tmp_path: Path) -> None:
    request = snapshot(v1=[action("effect1", 0, 1, "yellow_4x3.mp4")])
    body = request.model_dump(mode="json")
    generic = {
        "id": "g",
        "start": 0,
        "end": 2,
        "effectId": "video",
        "data": {"src": src("redblue_tones.mp4")},
    }
    body["timeline"]["editorData"].append({"id": "generic", "actions": [generic]})
    body["assets"].append({"src": src("redblue_tones.mp4"), "s3Key": "assets/redblue_tones.mp4"})
    body["output"]["backgroundColor"] = "lime"
    out = render(media, ExportRequest.model_validate(body), tmp_path)
    assert near(media.pixel(out, 0.5, 80, 45), YELLOW)
    assert near(media.pixel(out, 0.5, 5, 45), BLACK)  # the stage's bars, not the generic clip below
    assert near(media.pixel(out, 1.5, 5, 45), RED)  # after the stage clip, the generic clip shows
