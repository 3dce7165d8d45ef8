"""The request model: what is accepted, and that every invalid input names its field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from render import limits
from render.composition import Align, Box, ClipKind, Fit
from render.json_schema import SCHEMA_PATH, export_request_schema_text
from render.model import ASSET_KEY_PATTERN, ExportRequest

ASSETS = [{"src": "clip.mp4", "s3Key": "assets/1f0e.mp4"}, {"src": "song.mp3", "s3Key": "assets/song.mp3"}]


def body(*rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "timeline": {"editorData": [{"id": str(i), "actions": r} for i, r in enumerate(rows)]},
        "assets": copy.deepcopy(ASSETS),
        **extra,
    }


def video(**data: Any) -> dict[str, Any]:
    return {"id": "v", "start": 0, "end": 2, "effectId": "video", "data": {"src": "clip.mp4", **data}}


def errors_of(payload: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as info:
        ExportRequest.model_validate(payload)
    return [(tuple(e["loc"]), e["msg"]) for e in info.value.errors()]


def test_a_typical_editor_timeline_is_parsed_into_clips() -> None:
    editor_fields = {"selected": True, "flexible": True, "movable": False, "minStart": 0, "maxEnd": 10}
    request = ExportRequest.model_validate(
        body(
            [
                {
                    "id": "t",
                    "start": 0,
                    "end": 1,
                    "effectId": "effect9",
                    "data": {"type": "Title", "text": "Hi"},
                }
            ],
            [video(trimStart=1.5, fit="cover", x=10, y=20, width=101, height=50) | editor_fields],
            [{"id": "m", "start": 0, "end": 4, "effectId": "music", "src": "song.mp3", "volume": 0.5}],
        )
        | {"output": {"width": 640, "height": 360, "fps": 25, "backgroundColor": "#fff"}}
    )
    comp = request.to_composition()
    assert (comp.width, comp.height, comp.fps, comp.background_color) == (640, 360, 25, "#ffffffff")
    assert comp.duration == 4
    text, clip, music = comp.clips
    assert (text.kind, text.layer, text.text and text.text.text) == (ClipKind.TEXT, 0, "Hi")
    assert text.text is not None and text.text.align is Align.CENTER and text.box == Box(0, 0, 640, 360)
    assert (clip.kind, clip.layer, clip.trim_start, clip.fit) == (ClipKind.VIDEO, 1, 1.5, Fit.COVER)
    assert clip.box == Box(10, 20, 100, 50)  # sizes rounded to even pixels
    assert clip.source_key == "assets/1f0e.mp4"
    assert (music.kind, music.volume, music.box) == (ClipKind.AUDIO, 0.5, None)
    assert request.used_asset_keys() == ["assets/1f0e.mp4", "assets/song.mp3"]


def test_data_wins_over_fields_set_directly_on_the_action() -> None:
    action = video(volume=0.25) | {"volume": 1.5, "muted": True}
    (clip,) = ExportRequest.model_validate(body([action])).to_composition().clips
    assert (clip.volume, clip.muted) == (0.25, True)


def test_disabled_actions_are_skipped_and_do_not_need_assets() -> None:
    ghost = {"id": "g", "start": 0, "end": 9, "effectId": "video", "disable": True, "data": {"src": "nope"}}
    comp = ExportRequest.model_validate(body([video(), ghost])).to_composition()
    assert [c.id for c in comp.clips] == ["v"] and comp.duration == 2


def test_defaults() -> None:
    request = ExportRequest.model_validate(body([video()]))
    assert (request.output.width, request.output.height, request.output.fps) == (1280, 720, 30)
    (clip,) = request.to_composition().clips
    assert clip.box == Box(0, 0, 1280, 720) and clip.fit is Fit.CONTAIN and clip.volume == 1


@pytest.mark.parametrize(
    ("payload", "loc", "needle"),
    [
        (body([video(volume=5)]), ("timeline", "editorData", 0, "actions", 0, "data", "volume"), "less than"),
        (
            body([video(src="other.mp4")]),
            ("timeline", "editorData", 0, "actions", 0, "data", "src"),
            "assets",
        ),
        (
            body([video() | {"effectId": "effect7"}, video(type="sticker")]),
            ("timeline", "editorData", 0, "actions", 1, "data", "type"),
            "sticker",
        ),
        (
            body([video() | {"effectId": "effect7"}]),
            ("timeline", "editorData", 0, "actions", 0, "effectId"),
            "effect0, effect1, effect2",
        ),
        (
            body([video() | {"start": 3, "end": 3}]),
            ("timeline", "editorData", 0, "actions", 0, "end"),
            "greater",
        ),
        (
            body([video() | {"end": limits.MAX_DURATION_SECONDS + 1}]),
            ("timeline", "editorData", 0, "actions", 0, "end"),
            "less than",
        ),
        (body([video() | {"start": -1}]), ("timeline", "editorData", 0, "actions", 0, "start"), "greater"),
        (
            body([video() | {"end": float("nan")}]),
            ("timeline", "editorData", 0, "actions", 0, "end"),
            "finite",
        ),
        # strict JSON: numbers are JSON numbers, booleans JSON booleans
        (
            body([video() | {"start": True}]),
            ("timeline", "editorData", 0, "actions", 0, "start"),
            "valid number",
        ),
        (
            body([video() | {"start": "0"}]),
            ("timeline", "editorData", 0, "actions", 0, "start"),
            "valid number",
        ),
        (
            body([video(muted=1)]),
            ("timeline", "editorData", 0, "actions", 0, "data", "muted"),
            "valid boolean",
        ),
        (
            body([video(volume="1")]),
            ("timeline", "editorData", 0, "actions", 0, "data", "volume"),
            "valid number",
        ),
        (
            body([video(videoLayer=1.5)]),
            ("timeline", "editorData", 0, "actions", 0, "data", "videoLayer"),
            "integer",
        ),
        (body([video()], output={"width": "640"}), ("output", "width"), "valid integer"),
        (body([video()], output={"width": True}), ("output", "width"), "valid integer"),
        (body([video(src=7)]), ("timeline", "editorData", 0, "actions", 0, "data", "src"), "valid string"),
        (body([video(speed=0)]), ("timeline", "editorData", 0, "actions", 0, "data", "speed"), "greater"),
        (body([video(fit="stretch")]), ("timeline", "editorData", 0, "actions", 0, "data", "fit"), "contain"),
        (body([video(opacity=2)]), ("timeline", "editorData", 0, "actions", 0, "data", "opacity"), "less"),
        (body([video(width=0)]), ("timeline", "editorData", 0, "actions", 0, "data", "width"), "greater"),
        (
            body([{"id": "a", "start": 0, "end": 1, "effectId": "audio"}]),
            ("timeline", "editorData", 0, "actions", 0, "data", "src"),
            "src",
        ),
        (
            body([{"id": "t", "start": 0, "end": 1, "effectId": "text", "data": {"text": "  "}}]),
            ("timeline", "editorData", 0, "actions", 0, "data", "text"),
            "text",
        ),
        (
            body(
                [
                    {
                        "id": "t",
                        "start": 0,
                        "end": 1,
                        "effectId": "text",
                        "data": {"text": "x" * (limits.MAX_TEXT_LENGTH + 1)},
                    }
                ]
            ),
            ("timeline", "editorData", 0, "actions", 0, "data", "text"),
            "at most",
        ),
        (
            body(
                [
                    {
                        "id": "t",
                        "start": 0,
                        "end": 1,
                        "effectId": "text",
                        "data": {"text": "a", "color": "bluish"},
                    }
                ]
            ),
            ("timeline", "editorData", 0, "actions", 0, "data", "color"),
            "colour",
        ),
        (body([video()] * (limits.MAX_ACTIONS + 1)), ("timeline", "editorData"), "at most"),
        (body(), ("timeline", "editorData"), "no enabled actions"),
        (body([video() | {"disable": True}]), ("timeline", "editorData"), "no enabled actions"),
        (body([video()], output={"width": 99999}), ("output", "width"), "less than"),
        (body([video()], output={"width": 641}), ("output", "width"), "even"),
        (body([video()], output={"fps": 0}), ("output", "fps"), "greater"),
        (body([video()], output={"fps": 120}), ("output", "fps"), "less"),
        (body([video()], output={"backgroundColor": "rgb(300,0,0)"}), ("output", "backgroundColor"), "range"),
        (body([video()], output={"codec": "vp9"}), ("output", "codec"), "Extra"),
        (body([video()], webhook="http://x"), ("webhook",), "Extra"),
        (body([video()]) | {"assets": [*ASSETS, ASSETS[0]]}, ("assets", 2, "src"), "twice"),
        (
            body([video()]) | {"assets": [{"src": "clip.mp4", "s3Key": "assets/../etc/passwd"}]},
            ("assets", 0, "s3Key"),
            "pattern",
        ),
        (
            body([video()]) | {"assets": [{"src": "clip.mp4", "s3Key": "exports/x.mp4"}]},
            ("assets", 0, "s3Key"),
            "pattern",
        ),
        (
            body([video()]) | {"assets": [{"src": "clip.mp4", "s3Key": "assets/a..mp4"}]},
            ("assets", 0, "s3Key"),
            "..",
        ),
        (
            body([video()]) | {"assets": [{"src": f"s{i}", "s3Key": f"assets/{i}"} for i in range(51)]},
            ("assets",),
            "at most",
        ),
        ({"assets": []}, ("timeline",), "required"),
        (
            body([{"start": 0, "end": 1, "data": []}]),
            ("timeline", "editorData", 0, "actions", 0, "data"),
            "valid",
        ),
    ],
)
def test_every_invalid_request_names_the_field(
    payload: dict[str, Any], loc: tuple[Any, ...], needle: str
) -> None:
    errors = errors_of(payload)
    assert any(e_loc == loc and needle.lower() in msg.lower() for e_loc, msg in errors), errors


def test_all_timeline_errors_are_reported_at_once() -> None:
    errors = errors_of(body([video(src="a"), video(src="b")]))
    assert [loc[-3] for loc, _ in errors] == [0, 1]


def test_user_text_in_messages_is_not_interpreted_as_a_template() -> None:
    [(_, msg)] = errors_of(body([video(src="{weird} %s {0}")]))
    assert "{weird} %s {0}" in msg


def test_colours_and_aliases() -> None:
    action = {
        "id": "t",
        "start": 0,
        "end": 1,
        "type": "CAPTION",
        "text": "x",
        "color": "rgba(255, 0, 0, 0.5)",
        "backgroundColor": "#0f08",
        "align": "right",
    }
    (clip,) = ExportRequest.model_validate(body([action])).to_composition().clips
    assert clip.text is not None
    assert (clip.kind, clip.text.color, clip.text.background_color) == (
        ClipKind.TEXT,
        "#ff000080",
        "#00ff0088",
    )


def test_asset_key_pattern_is_exposed() -> None:
    assert ASSET_KEY_PATTERN == r"^assets/[A-Za-z0-9][A-Za-z0-9._-]*$"


def test_checked_in_json_schema_matches_the_model() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == export_request_schema_text(), (
        "regenerate: python -m render --schema > render/schema/export-request.schema.json"
    )
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False and "timeline" in schema["required"]


def test_model_imports_only_pydantic_and_the_stdlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys, render.model; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('ffmpeg', 'tqdm', 'boto3')); "
        "bad += sorted(m for m in sys.modules if m.startswith('render.') and m not in "
        "('render.model', 'render.limits', 'render.colors', 'render.composition', 'render.editor_formats', "
        "'render.editor_formats.react_timeline_editor', 'render.editor_formats.melies', "
        "'render.json_types', 'render.encoding', 'render.frames')); print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def melies(effect: str, **data: Any) -> dict[str, Any]:
    return {"id": effect, "start": 0, "end": 2, "effectId": effect, "data": {"src": "clip.mp4", **data}}


def test_melies_effects_are_read_in_their_own_dialect() -> None:
    request = ExportRequest.model_validate(
        body(
            [melies("effect1", offset=1.5, videoLayer=1)], [melies("effect0")], [melies("effect2", offset=4)]
        )
    )
    picture, music, sound = sorted(request.to_composition().clips, key=lambda c: c.layer)
    assert (picture.kind, picture.muted, picture.matte, picture.trim_start) == (
        ClipKind.VIDEO,
        True,
        "#000000ff",
        1.5,
    )
    assert (music.kind, music.loop, music.audio_optional) == (ClipKind.AUDIO, True, False)
    assert (sound.kind, sound.loop, sound.audio_optional, sound.trim_start) == (ClipKind.AUDIO, True, True, 4)


def test_an_explicit_type_wins_over_a_melies_effect() -> None:
    request = ExportRequest.model_validate(body([melies("effect1", type="audio")]))
    (clip,) = request.to_composition().clips
    assert (clip.kind, clip.loop, clip.matte) == (ClipKind.AUDIO, False, None)


def test_trim_start_wins_over_offset_and_a_stored_request_reads_the_same() -> None:
    request = ExportRequest.model_validate(
        body([melies("effect1", offset=1, trimStart=2)], [melies("effect2", offset=3)])
    )
    assert sorted(c.trim_start for c in request.to_composition().clips) == [2, 3]
    stored = ExportRequest.model_validate(json.loads(request.model_dump_json()))  # what the worker reads
    assert stored.to_composition() == request.to_composition()


def test_whole_numbers_may_carry_a_fraction_and_ids_may_be_numbers() -> None:
    request = ExportRequest.model_validate(
        body(
            [
                {
                    "id": 7,
                    "start": 0,
                    "end": 2,
                    "effectId": "effect1",
                    "data": {"src": "clip.mp4", "videoLayer": 1.0},
                }
            ]
        )
        | {"output": {"width": 640.0, "height": 360, "fps": 30}}
    )
    (clip,) = request.to_composition().clips
    assert (clip.id, request.output.width) == ("7", 640)


def test_src_is_an_opaque_key_up_to_the_limit() -> None:
    url = "https://storage.example.com/u/1/clip.mp4?" + "X-Amz-Signature=" + "f" * 3000
    payload = body([melies("effect1") | {"data": {"src": url}}]) | {
        "assets": [{"src": url, "s3Key": "assets/c.mp4"}]
    }
    assert ExportRequest.model_validate(payload).used_asset_keys() == ["assets/c.mp4"]
    too_long = "x" * (limits.MAX_SRC_LENGTH + 1)
    payload = body([melies("effect1") | {"data": {"src": too_long}}]) | {
        "assets": [{"src": too_long, "s3Key": "assets/c"}]
    }
    assert {loc[-1] for loc, _ in errors_of(payload)} == {"src"}


def test_an_empty_melies_snapshot_is_a_readable_error() -> None:
    snapshot = {"version": 1, "selectedActionId": None, "timelineScaleWidth": 160, "editorData": []}
    ((loc, message),) = errors_of({"timeline": snapshot, "assets": []})
    assert (
        loc == ("timeline", "editorData")
        and "nothing to render" in message
        and "add at least one clip" in message
    )
