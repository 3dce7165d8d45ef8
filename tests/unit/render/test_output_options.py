"""`output.quality`, `output.format` and `output.poster`: validation, the compiled command, real renders."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from render import chunking, fanout
from render.compiler import PosterShot, compile_plan
from render.encoding import QUALITY_SETTINGS, VIDEO_OUTPUT_OPTIONS, OutputFormat, Quality
from render.model import ExportRequest
from render.planner import plan_render
from render.probe import MediaInfo

from .conftest import FPS, H, Media, W, near

MEDIA = {
    "assets/a.mp4": MediaInfo(duration=60, has_video=True, has_audio=True, width=640, height=360, fps=25),
    "assets/song.wav": MediaInfo(duration=60, has_video=False, has_audio=True, sample_rate=44100),
}


def _body(**output: Any) -> dict[str, Any]:
    return {
        "timeline": {
            "editorData": [
                {
                    "id": "v",
                    "actions": [{"id": "a", "start": 0, "end": 4, "effectId": "video", "src": "a.mp4"}],
                },
                {
                    "id": "m",
                    "actions": [{"id": "m", "start": 0, "end": 4, "effectId": "audio", "src": "song.wav"}],
                },
            ]
        },
        "assets": [
            {"src": "a.mp4", "s3Key": "assets/a.mp4"},
            {"src": "song.wav", "s3Key": "assets/song.wav"},
        ],
        "output": {"width": 320, "height": 180, "fps": 10, **output},
    }


def _errors(**output: Any) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as info:
        ExportRequest.model_validate(_body(**output))
    return [(tuple(e["loc"]), e["msg"]) for e in info.value.errors()]


def _argv(request: ExportRequest, **options: Any) -> list[str]:
    plan = plan_render(request.to_composition(), MEDIA, Path("/a"))
    return compile_plan(plan, Path("/out/x.mp4"), workdir=Path("/w"), **options).argv


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


# ------------------------------------------------------------------------------------------ validation
def test_defaults_are_standard_mp4_without_poster() -> None:
    output = ExportRequest.model_validate(_body()).output
    assert (output.quality, output.format, output.poster) == (Quality.STANDARD, OutputFormat.MP4, None)


@pytest.mark.parametrize("field", ["quality", "format"])
def test_an_unknown_quality_or_format_names_its_field(field: str) -> None:
    ((loc, message),) = _errors(**{field: "ultra"})
    assert loc == ("output", field)
    assert "Input should be" in message


@pytest.mark.parametrize("at", [4.0, 4.5, 1000.0])
def test_a_poster_after_the_last_frame_is_refused(at: float) -> None:
    ((loc, message),) = _errors(poster={"at": at})
    assert loc == ("output", "poster", "at")
    assert "inside the output (0 to 3.900 s" in message


@pytest.mark.parametrize("poster", [{"at": -1}, {"at": "1"}, {}, {"at": 1, "extra": 2}])
def test_a_malformed_poster_is_refused(poster: dict[str, Any]) -> None:
    assert all(loc[:2] == ("output", "poster") for loc, _ in _errors(poster=poster))


def test_an_m4a_has_no_poster() -> None:
    ((loc, message),) = _errors(format="m4a", poster={"at": 1})
    assert loc == ("output", "poster", "at")
    assert "no picture" in message


def test_the_poster_frame_is_the_one_on_screen_at_its_time() -> None:
    def frame(at: float) -> int | None:
        return ExportRequest.model_validate(_body(poster={"at": at})).poster_frame()

    assert [frame(0), frame(0.05), frame(0.1), frame(2.34), frame(3.9)] == [0, 0, 1, 23, 39]


def test_an_m4a_is_never_cut_into_chunks() -> None:
    body = _body(format="m4a")
    body["timeline"]["editorData"][1]["actions"][0]["end"] = 120
    assert chunking.plan_export_chunks(ExportRequest.model_validate(body)) == ()
    body["output"]["format"] = "mp4"
    assert len(chunking.plan_export_chunks(ExportRequest.model_validate(body))) > 1


# ------------------------------------------------------------------------------------- compiled argv
def test_standard_uses_the_shared_encoder_settings_and_draws_nothing_else() -> None:
    request = ExportRequest.model_validate(_body())
    argv = _argv(request)
    assert _argv(request, quality=Quality.STANDARD) == argv
    assert (
        QUALITY_SETTINGS[Quality.STANDARD].video == {} and QUALITY_SETTINGS[Quality.STANDARD].scaler is None
    )
    assert (_option(argv, "-preset"), _option(argv, "-crf")) == (VIDEO_OUTPUT_OPTIONS["preset"], "23")
    assert "sws_flags" not in _option(argv, "-filter_complex")


def test_draft_and_high_change_only_the_table_s_settings() -> None:
    request = ExportRequest.model_validate(_body())
    standard = _argv(request)
    for quality in (Quality.DRAFT, Quality.HIGH):
        argv = _argv(request, quality=quality)
        settings = QUALITY_SETTINGS[quality]
        for key, value in settings.video.items():
            assert _option(argv, f"-{key}") == value
        graph = _option(argv, "-filter_complex")
        if settings.scaler:
            assert graph == f"sws_flags={settings.scaler};" + _option(standard, "-filter_complex")
        assert (_option(argv, "-s") if "-s" in argv else None) is None  # the size never changes
    draft = _argv(request, quality=Quality.DRAFT)
    assert _option(draft, "-aac_coder") == "fast"
    for key, value in QUALITY_SETTINGS[Quality.DRAFT].audio.items():
        assert _option(draft, f"-{key}") == value and f"-{key}" not in standard  # draft's alone


def test_a_poster_is_a_second_output_of_the_same_graph() -> None:
    request = ExportRequest.model_validate(_body(poster={"at": 1.0}))
    argv = _argv(request, poster=PosterShot(10, Path("/out/x.poster.jpg")))
    assert argv.count("-i") == _argv(request).count("-i")  # no input is opened (or decoded) twice
    graph = _option(argv, "-filter_complex")
    assert "split" in graph and "select=eq(n\\,10)" in graph
    assert argv[-1] == "file:/out/x.poster.jpg" and "file:/out/x.mp4" in argv
    assert _option(argv, "-frames:v") == "1"


def test_an_m4a_compiles_no_picture() -> None:
    request = ExportRequest.model_validate(_body(format="m4a"))
    argv = _argv(request, video=False)
    assert "-c:v" not in argv and "-r" not in argv
    graph = _option(argv, "-filter_complex")
    assert ":v]" not in graph and "scale" not in graph
    # every input drops its picture, subtitle and data packets in the demuxer
    assert argv.count("-vn") == argv.count("-sn") == argv.count("-dn") == argv.count("-i") - 1


# ------------------------------------------------------------------------------------------ real renders


def _streams(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)], capture_output=True, check=True
    ).stdout
    streams: list[dict[str, Any]] = json.loads(out)["streams"]
    return streams


def _act(kind: str, start: float, end: float, **data: Any) -> dict[str, Any]:
    return {"id": f"{kind}-{start}", "start": start, "end": end, "effectId": kind, "data": data}


@pytest.mark.slow
def test_an_m4a_export_holds_only_audio(media: Media, tmp_path: Path) -> None:
    request = media.request(
        [[_act("video", 0, 2, src="green_tone.mp4")], [_act("audio", 0, 3, src="tone.wav")]], format="m4a"
    )
    result = media.render(request, tmp_path / "out.m4a")
    assert [s["codec_type"] for s in _streams(tmp_path / "out.m4a")] == ["audio"]
    assert abs(result.duration_seconds - 3) < 0.05
    assert (result.width, result.height, result.poster_path) == (0, 0, None)


@pytest.mark.slow
@pytest.mark.parametrize("quality", list(Quality))
def test_every_quality_renders_the_same_frames(media: Media, tmp_path: Path, quality: Quality) -> None:
    request = media.request(
        [[_act("video", 0, 1, src="red.mp4")], [_act("video", 0, 2, src="blue.mp4")]], quality=quality.value
    )
    out = tmp_path / "out.mp4"
    media.render(request, out)
    (video,) = [s for s in _streams(out) if s["codec_type"] == "video"]
    assert (video["width"], video["height"], int(video["nb_frames"])) == (W, H, 2 * FPS)
    assert near(media.pixel(out, 0.5, W // 2, H // 2), (255, 0, 0))
    assert near(media.pixel(out, 1.5, W // 2, H // 2), (0, 0, 255))


@pytest.mark.slow
def test_the_poster_is_the_video_s_frame_at_its_time(media: Media, tmp_path: Path) -> None:
    request = media.request(
        [[_act("video", 0, 1, src="red.mp4")], [_act("video", 0, 2, src="blue.mp4")]], poster={"at": 1.25}
    )
    out = tmp_path / "out.mp4"
    result = media.render(request, out)
    assert result.poster_path is not None and result.poster_path.read_bytes()[:2] == b"\xff\xd8"
    (picture,) = _streams(result.poster_path)
    assert (picture["width"], picture["height"]) == (W, H)
    jpeg = media.frame(result.poster_path, 0)
    assert near(jpeg.pixel(W // 2, H // 2), (0, 0, 255))
    assert near(jpeg.pixel(W // 2, H // 2), media.pixel(out, 1.25, W // 2, H // 2), tolerance=12)


@pytest.mark.slow
def test_the_chunk_that_holds_the_poster_frame_writes_it(media: Media, tmp_path: Path) -> None:
    request = media.request(
        [[_act("video", 0, 1, src="red.mp4")], [_act("video", 0, 3, src="blue.mp4")]], poster={"at": 0.5}
    )
    windows = chunking.plan_export_chunks(request, threshold_seconds=1, max_chunks=3, min_chunk_seconds=1)
    assert len(windows) == 3
    posters = []
    for window in windows:
        result = fanout.render_video_chunk(request, media.root, window, tmp_path / f"{window.index}.mp4")
        posters.append(result.poster_path)
    assert posters[1:] == [None, None] and posters[0] is not None
    assert near(media.frame(posters[0], 0).pixel(W // 2, H // 2), (255, 0, 0))
