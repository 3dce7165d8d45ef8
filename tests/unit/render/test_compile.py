"""The compiled ffmpeg command, checked as data before anything runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from render.compiler import CompiledCommand, compile_plan
from render.errors import RenderFailedError, RenderTimeoutError
from render.executor import parse_progress, run_ffmpeg
from render.model import ExportRequest
from render.planner import RenderPlan, plan_render
from render.probe import MediaInfo, data_end, parse_probe

REQUEST = {
    "timeline": {
        "editorData": [
            {"id": "titles", "actions": [
                {"id": "t", "start": 0.5, "end": 2, "effectId": "text",
                 "data": {"text": "Hi: 100%", "fontSize": 20, "backgroundColor": "#00000080",
                          "align": "left"}},
            ]},
            {"id": "clips", "actions": [
                {"id": "a", "start": 0, "end": 2, "effectId": "video",
                 "data": {"src": "a.mp4", "trimStart": 1}},
                {"id": "b", "start": 2, "end": 3, "effectId": "video",
                 "data": {"src": "a.mp4", "speed": 2, "fit": "cover", "muted": True}},
            ]},
            {"id": "music", "actions": [
                {"id": "m", "start": 0.5, "end": 3, "effectId": "audio",
                 "data": {"src": "song.wav", "volume": 0.5, "fadeOut": 1}},
            ]},
        ]
    },
    "assets": [{"src": "a.mp4", "s3Key": "assets/a.mp4"}, {"src": "song.wav", "s3Key": "assets/song.wav"}],
    "output": {"width": 320, "height": 180, "fps": 15, "backgroundColor": "#102030"},
}  # fmt: skip
MEDIA = {
    "assets/a.mp4": MediaInfo(duration=60, has_video=True, has_audio=True, width=640, height=360, fps=25),
    "assets/b43.mp4": MediaInfo(duration=60, has_video=True, has_audio=False, width=480, height=360, fps=30),
    "assets/song.wav": MediaInfo(duration=60, has_video=False, has_audio=True, sample_rate=44100),
    "assets/logo.png": MediaInfo(
        duration=None, has_video=True, has_audio=False, width=64, height=64, is_still=True
    ),
}
ASSETS = [{"src": Path(key).name, "s3Key": key} for key in MEDIA]
SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("RENDER_UPDATE_SNAPSHOTS") == "1"


def _timeline(*rows: list[dict[str, Any]], **output: Any) -> dict[str, Any]:
    return {
        "timeline": {"editorData": [{"id": str(i), "actions": row} for i, row in enumerate(rows)]},
        "assets": ASSETS,
        "output": {"width": 320, "height": 180, "fps": 15, **output},
    }


def _act(effect: str, start: float, end: float, src: str | None = None, **data: Any) -> dict[str, Any]:
    return {"id": f"{effect}-{start}", "start": start, "end": end, "effectId": effect,
            "data": {**({"src": src} if src else {}), **data}}  # fmt: skip


# One timeline per feature of the planner; the compiled command of each is a snapshot file.
FEATURES: dict[str, dict[str, Any]] = {
    # full-frame clips (contain at the same aspect, cover with speed) are the base; the title is overlaid
    "base_concat_with_text": REQUEST,
    # a Melies stage: V2 (4:3, videoLayer 1) cuts V1 in two, a micro gap holds, a macro gap shows black,
    # the music loops, the 4:3 clip's effect2 is silence
    "melies_stage": _timeline(
        [_act("effect1", 1, 2, "b43.mp4", videoLayer=1)],
        [
            _act("effect1", 0, 3, "a.mp4", offset=1),
            _act("effect1", 3.05, 4, "a.mp4", offset=6),
            _act("effect1", 5, 6, "a.mp4"),
        ],
        [_act("effect0", 0, 6, "song.wav", offset=59)],
        [_act("effect2", 0, 3, "a.mp4", offset=1), _act("effect2", 1, 2, "b43.mp4")],
    ),
    # only what lies above the base is overlaid, only where it is on screen
    "overlays_over_a_base": _timeline(
        [_act("image", 1, 3, "logo.png", x=10, y=10, width=32, height=32, opacity=0.5)],
        [_act("video", 0.5, 1.5, "b43.mp4", x=160, y=0, width=160, height=90, fit="cover")],
        [_act("video", 0, 4, "a.mp4", muted=True)],
    ),
    # a full-frame clip hides what lies below it: a long hidden part is never decoded
    "hidden_below_an_opaque_clip": _timeline(
        [_act("video", 1, 13, "a.mp4", trimStart=5, fit="fill")],
        [_act("video", 0, 14, "b43.mp4")],
    ),
    # a short cut: both parts of the clip below share one input, read across the hidden second
    "short_cut_shares_an_input": _timeline(
        [_act("video", 1, 2, "a.mp4", trimStart=5, fit="fill")],
        [_act("video", 0, 3, "b43.mp4")],
    ),
    # in a 28 fps output a 25 fps source is scaled before fps repeats frames, a 30 fps one after fps drops
    "scale_once_per_source_frame": _timeline(
        [_act("video", 0, 1, "a.mp4", muted=True)], [_act("video", 1, 2, "b43.mp4", fit="cover")], fps=28
    ),
    # a transition costs only its own frames: outside its span the base is the same concat as a cut
    "transition_only_on_its_frames": _timeline(
        [
            _act("video", 0, 2, "a.mp4", trimStart=1),
            _act("video", 2, 4, "b43.mp4", transition={"type": "wipeleft", "duration": 0.4}),
        ],
    ),
    # nothing on screen: the background, and the audio
    "background_only": _timeline([_act("text", 0.5, 1, text="x")], [_act("audio", 0, 2, "song.wav")]),
}


def _compile(body: dict[str, Any]) -> tuple[RenderPlan, CompiledCommand]:
    plan = plan_render(ExportRequest.model_validate(body).to_composition(), MEDIA, Path("/a"))
    return plan, compile_plan(plan, Path("/out/x.mp4"), workdir=Path("/work"))


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_compiled_command_snapshot(feature: str) -> None:
    """The argv, one option or filter a line. RENDER_UPDATE_SNAPSHOTS=1 rewrites the files."""
    _, command = _compile(FEATURES[feature])
    text = "\n".join(part for arg in command.argv for part in arg.split(";")) + "\n"
    path = SNAPSHOTS / f"{feature}.txt"
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"no snapshot for {feature}: run with RENDER_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(), f"{feature} changed; review, then RENDER_UPDATE_SNAPSHOTS=1"


def test_text_files_are_returned_as_data() -> None:
    _, command = _compile(REQUEST)
    assert list(command.files) == [Path("/work/text-0.ass")]
    assert command.files[Path("/work/text-0.ass")].endswith(",Text,,0,0,0,,{\\an4\\pos(0,90)}Hi: 100%\n")


def test_the_base_is_the_top_opaque_picture_of_each_interval() -> None:
    plan, _ = _compile(FEATURES["melies_stage"])
    base = [(s.first, s.end, s.clip and s.clip.src, s.source_frames) for s in plan.base]
    # frames at 15 fps: V1 [0, 15), V2 [15, 30), V1 again [30, 45), held over the 0.05 s gap to 3.05 s
    assert base == [(0, 15, "a.mp4", 15), (15, 30, "b43.mp4", 15), (30, 46, "a.mp4", 15),
                    (46, 60, "a.mp4", 14), (60, 75, None, 0), (75, 90, "a.mp4", 15)]  # fmt: skip
    assert plan.overlays == ()
    assert [s.pad_color for s in plan.base] == [None, "#000000ff", None, None, None, None]
    # the 4:3 clip has no audio: its effect2 plays silence; the music loops from 59 s of its 60
    tracks = {track.clip.src: plan.inputs[track.input_index] for track in plan.audios}
    assert sorted(tracks) == ["a.mp4", "song.wav"]
    assert tracks["song.wav"].loop and tracks["song.wav"].seek == 59


def test_overlays_are_drawn_only_where_they_are_on_screen() -> None:
    plan, _ = _compile(FEATURES["overlays_over_a_base"])
    assert [(s.first, s.end, s.clip and s.clip.src) for s in plan.base] == [(0, 60, "a.mp4")]
    windows = {o.clip.src: o.windows for o in plan.overlays}
    assert windows == {"b43.mp4": ((8, 23),), "logo.png": ((15, 45),)}


def test_a_long_hidden_part_is_not_read() -> None:
    plan, _ = _compile(FEATURES["hidden_below_an_opaque_clip"])
    assert [(s.first, s.end, s.clip and s.clip.src) for s in plan.base] == [
        (0, 15, "b43.mp4"), (15, 195, "a.mp4"), (195, 210, "b43.mp4")
    ]  # fmt: skip
    # 12 s hidden: each part of the 4:3 clip seeks to where it starts; its bars show the background
    seeks = sorted((spec.path.name, spec.seek) for spec in plan.inputs)
    assert seeks == [("a.mp4", 5), ("b43.mp4", 0), ("b43.mp4", 13)]
    assert {s.pad_color for s in plan.base if s.clip and s.clip.src == "b43.mp4"} == {"#000000ff"}


def test_parts_of_a_clip_close_in_its_source_share_one_input() -> None:
    plan, command = _compile(FEATURES["short_cut_shares_an_input"])
    parts = [s for s in plan.base if s.clip and s.clip.src == "b43.mp4"]
    assert [(s.first, s.end, s.input_offset) for s in parts] == [(0, 15, 0), (30, 45, 2)]
    assert parts[0].input_index == parts[1].input_index
    assert plan.inputs[parts[0].input_index].seek == 0 and plan.inputs[parts[0].input_index].duration == 3.25
    assert "split=2" in command.argv[command.argv.index("-filter_complex") + 1]


def test_the_same_input_used_twice_is_split() -> None:
    # The picture-in-picture copy of the clip reads the same window as the base: one input, split.
    body = _timeline(
        [_act("video", 0, 1, "a.mp4", x=0, y=0, width=160, height=90)], [_act("video", 0, 1, "a.mp4")]
    )
    plan, command = _compile(body)
    assert len([spec for spec in plan.inputs if spec.path.name == "a.mp4"]) == 1
    graph = command.argv[command.argv.index("-filter_complex") + 1]
    assert "split=2" in graph and "asplit=2" in graph


def test_progress_lines_become_fractions() -> None:
    lines = [
        "frame=1",
        "out_time_us=N/A",
        "out_time_us=500000",
        "progress=continue",
        "out_time_us=2000000",
        "progress=end",
    ]
    assert list(parse_progress(lines, 2.0)) == [0.25, 1.0, 1.0]


def test_the_end_of_the_media_data_is_read_from_packet_lines() -> None:
    assert data_end("9.96,0.04\n9.961361,0.023220\n") == pytest.approx(10.0, abs=1e-3)
    assert data_end("2.6,0.04,\nN/A,N/A\n") == pytest.approx(2.64)
    assert data_end("") is None


def test_probe_output_is_parsed() -> None:
    rotated = parse_probe(
        {
            "streams": [
                {"codec_type": "video", "codec_name": "h264", "width": 1920, "height": 1080,
                 "avg_frame_rate": "30000/1001", "side_data_list": [{"rotation": -90}]},
                {"codec_type": "audio", "sample_rate": "44100"},
            ],
            "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "12.5"},
        }
    )  # fmt: skip
    assert (rotated.width, rotated.height, rotated.rotation, rotated.duration) == (1080, 1920, 270, 12.5)
    assert rotated.fps == pytest.approx(29.97, abs=0.01) and rotated.has_audio and not rotated.is_still
    png = parse_probe(
        {"streams": [{"codec_type": "video", "codec_name": "png", "width": 4, "height": 4}],
         "format": {"format_name": "png_pipe"}}
    )  # fmt: skip
    assert png.is_still and png.duration is None


@pytest.mark.slow
def test_ffmpeg_failure_carries_code_and_stderr_tail() -> None:
    with pytest.raises(RenderFailedError) as info:
        run_ffmpeg(
            ["ffmpeg", "-v", "error", "-i", "file:/nonexistent/x.mp4", "-f", "null", "-"], total_seconds=1
        )
    assert info.value.code == "RENDER_FAILED"
    assert "/nonexistent" in info.value.stderr_tail and "/nonexistent" not in info.value.message


@pytest.mark.slow
def test_ffmpeg_is_stopped_at_the_time_limit() -> None:
    argv = ["ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", "color=s=16x16:d=30", "-f", "null", "-"]
    with pytest.raises(RenderTimeoutError) as info:
        run_ffmpeg(argv, total_seconds=30, timeout_seconds=0.5)
    assert info.value.code == "RENDER_TIMEOUT"


@pytest.mark.slow
def test_cli_plan_prints_the_command(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=s=32x32:d=1",
            str(tmp_path / "assets" / "a.mp4"),
        ],
        check=True,
    )
    request = tmp_path / "req.json"
    request.write_text(
        '{"timeline": {"editorData": [{"id": "r", "actions": [{"id": "a", "start": 0, "end": 1,'
        ' "effectId": "video", "data": {"src": "a"}}]}]}, "assets": [{"src": "a", "s3Key": "assets/a.mp4"}]}'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "render", str(request), "--assets-dir", str(tmp_path), "--plan"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.startswith("ffmpeg ") and "-filter_complex" in proc.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"timeline": {"editorData": []}}')
    proc = subprocess.run(
        [sys.executable, "-m", "render", str(bad), "--assets-dir", str(tmp_path), "--output", "x.mp4"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "timeline.editorData: " in proc.stderr
