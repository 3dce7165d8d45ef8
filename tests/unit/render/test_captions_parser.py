"""SRT and WebVTT files to cues (`render.captions`), the captions action in the model, and the ASS
script the compiler writes for it: pure, no ffmpeg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from render import limits
from render.captions import CaptionsError, parse_captions, read_from_dir, with_captions
from render.compiler import compile_plan
from render.composition import CaptionPosition, ClipKind, Cue
from render.errors import AssetMissingError, InvalidCaptionsError
from render.model import ExportRequest
from render.planner import plan_render

SRT = """1
00:00:01,000 --> 00:00:02,500
Hello <i>world</i>
second line

2
00:00:03,000 --> 00:00:04,000 X1:10 X2:20 Y1:5 Y2:9
{\\an8}你好 &amp; Привет
"""

VTT = """WEBVTT - a title
Kind: captions
Language: en

NOTE a comment
that runs on

STYLE
::cue { color: yellow }

REGION
id:fred width:40%

intro
00:01.000 --> 00:02.500 align:start line:0 position:10%
<v Roger>Hello <c.yellow>world</c></v>
<b>second</b> line &lt;3

00:00:03.000 --> 00:00:04.000
你好 <00:00:03.500>Привет
"""

EXPECTED = (
    Cue(1.0, 2.5, "Hello world\nsecond line"),
    Cue(3.0, 4.0, "你好 & Привет"),
)


def test_srt() -> None:
    assert parse_captions(SRT.encode()) == EXPECTED


def test_vtt_skips_headers_notes_styles_regions_and_cue_settings() -> None:
    cues = parse_captions(VTT.encode())
    assert cues == (Cue(1.0, 2.5, "Hello world\nsecond line <3"), Cue(3.0, 4.0, "你好 Привет"))


@pytest.mark.parametrize("text", [SRT, VTT], ids=["srt", "vtt"])
def test_bom_crlf_and_cr_line_ends(text: str) -> None:
    plain = parse_captions(text.encode())
    assert parse_captions(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()) == plain
    assert parse_captions(text.replace("\n", "\r").encode()) == plain


def test_srt_without_numbers_with_dots_and_long_hours() -> None:
    text = "00:00:01.000 --> 00:00:02.000\none\n\n100:00:00,000 --> 100:00:01,000\ntwo\n"
    assert parse_captions(text.encode()) == (Cue(1, 2, "one"), Cue(360_000, 360_001, "two"))


def test_empty_cues_are_skipped_and_text_is_kept_literally() -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:01,000\nzero length\n\n2\n00:00:02,000 --> 00:00:03,000\n1 < 2 {x} \\N\n"
    )
    assert parse_captions(text.encode()) == (Cue(2, 3, "1 < 2 {x} \\N"),)


def _error(data: bytes) -> CaptionsError:
    with pytest.raises(CaptionsError) as raised:
        parse_captions(data)
    return raised.value


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("1\n00:00:01,000 -> 00:00:02,000\nx\n", 2, "expected a cue timing"),
        ("1\n00:00:01,000 --> 00:00:02,000\nx\n\n2\n00:61:00,000 --> 00:62:00,000\ny\n", 6, "out of range"),
        ("1\n00:00:01,000 --> 00:00:0x,000\nx\n", 2, "expected a cue timing"),
        ("1\n00:00:05,000 --> 00:00:02,000\nx\n", 2, "ends before it starts"),
        ("1\n00:00:01,000 --> 00:00:02,000\nx\n\nstray text\nmore\n", 5, "expected a cue timing"),
        ("WEBVTT\n00:01.000 --> 00:02.000\nx\n", 2, "blank line must separate"),
        ("WEBVTT\n\nid\n00:01.000 --> 00:0x.000\nx\n", 4, "expected a cue timing"),
        ("WEBVTT\n\n\nlonely-id\n", 4, "without a timing"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\n" + "x" * 501 + "\n", 4, "longer than 500"),
    ],
)
def test_malformed_files_name_the_line(text: str, line: int, reason: str) -> None:
    error = _error(text.encode())
    assert (error.line, reason in error.reason) == (line, True), str(error)


def test_not_utf8_names_the_line() -> None:
    error = _error(b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 --> 00:00:04,000\n\xff\n")
    assert (error.line, error.reason) == (7, "the file is not UTF-8 text")


@pytest.mark.parametrize(
    ("data", "reason"), [(b"", "empty"), (b" \r\n\n", "empty"), (b"WEBVTT\n", "no captions")]
)
def test_empty_files(data: bytes, reason: str) -> None:
    assert reason in _error(data).reason


def test_oversized_and_too_many_cues() -> None:
    assert "larger than" in _error(b"x" * (limits.MAX_CAPTIONS_BYTES + 1)).reason
    many = "".join(f"{i}\n00:00:01,000 --> 00:00:02,000\nc\n\n" for i in range(limits.MAX_CAPTION_CUES + 1))
    assert "at most" in _error(many.encode()).reason


# ------------------------------------------------------------------ the model
def _body(data: dict[str, Any], *, start: float = 0, end: float = 5, **output: Any) -> dict[str, Any]:
    return {
        "timeline": {"editorData": [{"id": "r", "actions": [
            {"id": "c", "start": start, "end": end, "effectId": "captions", "data": data}]}]},
        "assets": [{"src": "subs.srt", "s3Key": "assets/subs.srt"}],
        "output": {"width": 640, "height": 360, "fps": 10, **output},
    }  # fmt: skip


def test_a_captions_action_with_defaults() -> None:
    request = ExportRequest.model_validate(_body({"src": "subs.srt"}))
    (clip,) = request.to_composition().clips
    assert (clip.kind, clip.source_key, clip.src) == (ClipKind.CAPTIONS, "assets/subs.srt", "subs.srt")
    style = clip.captions
    assert style is not None
    assert (style.cues, style.font_size, style.margin, style.max_width) == (None, 20, 18, 0.8)
    assert (style.color, style.background, style.position) == (
        "#ffffffff",
        "#00000099",
        CaptionPosition.BOTTOM,
    )
    assert request.used_asset_keys() == ["assets/subs.srt"]


def test_a_captions_action_with_cues_and_style() -> None:
    data = {"cues": [{"start": 0, "end": 1, "text": "a"}, {"start": 1, "end": 2, "text": " "}],
            "fontSize": 30, "color": "yellow", "background": "rgba(255,0,0,0.5)", "position": "top",
            "margin": 10, "maxWidth": 0.5}  # fmt: skip
    (clip,) = ExportRequest.model_validate(_body(data)).to_composition().clips
    style = clip.captions
    assert style is not None and clip.source_key is None
    assert style.cues == (Cue(0, 1, "a"),)
    assert (style.font_size, style.color, style.background) == (30, "#ffff00ff", "#ff000080")
    assert (style.position, style.margin, style.max_width) == (CaptionPosition.TOP, 10, 0.5)
    assert (
        ExportRequest.model_validate(_body({**data, "background": None})).to_composition().clips[0].captions
    )


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({}, "data.src"),
        ({"src": "subs.srt", "cues": []}, "data.src"),
        ({"src": "other.srt"}, "data.src"),
        ({"cues": [{"start": 2, "end": 1, "text": "x"}]}, "data.cues.0.end"),
        ({"cues": [{"start": 0, "end": 1}]}, "data.cues.0.text"),
        ({"cues": [{"start": 0, "end": 1, "text": "x", "style": 1}]}, "data.cues.0.style"),
        ({"src": "subs.srt", "position": "left"}, "data.position"),
        ({"src": "subs.srt", "maxWidth": 0}, "data.maxWidth"),
        ({"src": "subs.srt", "background": "nope"}, "data.background"),
    ],
)
def test_invalid_captions_actions_name_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ExportRequest.model_validate(_body(data))
    locs = [".".join(str(p) for p in e["loc"]) for e in raised.value.errors()]
    assert f"timeline.editorData.0.actions.0.{path}" in locs, locs


def test_with_captions_reads_the_file_or_says_what_is_wrong(tmp_path: Path) -> None:
    composition = ExportRequest.model_validate(_body({"src": "subs.srt"})).to_composition()
    with pytest.raises(AssetMissingError, match=r"'subs\.srt' was not uploaded"):
        with_captions(composition, read_from_dir(tmp_path))
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "subs.srt").write_text("1\n00:00:01,000 --> nope\nx\n")
    with pytest.raises(InvalidCaptionsError, match=r"captions file 'subs\.srt', line 2: expected") as raised:
        with_captions(composition, read_from_dir(tmp_path))
    assert (raised.value.code, raised.value.line) == ("INVALID_CAPTIONS", 2)
    (tmp_path / "assets" / "subs.srt").write_text(SRT)
    filled = with_captions(composition, read_from_dir(tmp_path))
    assert filled.clips[0].captions is not None and filled.clips[0].captions.cues == EXPECTED


# ------------------------------------------------------------------ the ASS script
def test_cues_become_events_on_their_output_frames(tmp_path: Path) -> None:
    """Cue times count from the action's start less trimStart, and are cut to the action."""
    data = {"cues": [{"start": 0, "end": 1.05, "text": "early {\\b1}"},
                     {"start": 2, "end": 9, "text": "late"}, {"start": 9, "end": 10, "text": "never"}],
            "trimStart": 0.5, "position": "top", "margin": 10, "maxWidth": 0.5, "fontSize": 20}  # fmt: skip
    request = ExportRequest.model_validate(_body(data, start=1, end=4))
    plan = plan_render(request.to_composition(), {}, tmp_path)
    (script,) = compile_plan(plan, tmp_path / "out.mp4", workdir=tmp_path).files.values()
    events = [line for line in script.splitlines() if line.startswith("Dialogue:")]
    # early: 0.5..1.55 s on the output, from the action's start at 1 s: frames 10..16 (1.0 .. 1.6 s)
    # late: 2.5 s .. the action's end at 4 s: frames 25..40
    assert events == [
        "Dialogue: 0,0:00:00.99,0:00:01.59,Captions,,0,0,0,,early \\{\\\u2060b1\\}",  # drawn literally
        "Dialogue: 0,0:00:02.49,0:00:03.99,Captions,,0,0,0,,late",
    ]
    style = next(line for line in script.splitlines() if line.startswith("Style: Captions"))
    fields = style.split(",")
    # BorderStyle 3 (a box per line), padding 4, top centre, margins inside maxWidth and margin
    assert fields[15:22] == ["3", "4", "0", "8", "164", "164", "14"], style
    assert "WrapStyle: 0" in script
