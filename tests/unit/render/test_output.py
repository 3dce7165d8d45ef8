"""Render small timelines with real ffmpeg and look inside the results."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from render.errors import AssetMissingError, InvalidMediaError
from render.pipeline import render_export

from .conftest import FPS, H, Media, W, near

pytestmark = pytest.mark.slow

RED, BLUE, LIME, BLACK, YELLOW, MAGENTA, WHITE = (
    (255, 0, 0), (0, 0, 255), (0, 255, 0), (0, 0, 0), (255, 255, 0), (255, 0, 255), (255, 255, 255),
)  # fmt: skip


def act(kind: str, start: float, end: float, **data: Any) -> dict[str, Any]:
    return {"id": f"{kind}-{start}", "start": start, "end": end, "effectId": kind, "data": data}


def test_layers_trims_and_gaps(media: Media, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    request = media.request(
        [
            [act("video", 0.5, 1.5, src="red.mp4", width=80)],  # top row, left half
            [
                act("video", 0, 2, src="blue.mp4"),
                act("video", 2.5, 3, src="redblue.mp4", trimStart=1.2),  # in the blue part
            ],
        ],
        backgroundColor="lime",
    )
    result = media.render(request, out)
    assert (result.width, result.height) == (W, H)
    assert abs(result.duration_seconds - 3.0) <= 1 / FPS
    video = next(s for s in media.probe(out)["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["pix_fmt"], video["avg_frame_rate"]) == ("h264", "yuv420p", "10/1")
    assert abs(float(video["duration"]) - 3.0) <= 1 / FPS
    assert near(media.pixel(out, 0.2, 20, 45), BLUE)  # before the top clip starts
    assert near(media.pixel(out, 1.0, 20, 45), RED)  # the top row covers the bottom row
    assert near(media.pixel(out, 1.0, 140, 45), BLUE)  # outside the top clip's box
    assert near(media.pixel(out, 2.2, 80, 45), LIME)  # a gap shows the background
    assert near(media.pixel(out, 2.7, 80, 45), BLUE)
    assert media.rms(out, 0, 3) < 1e-4  # no audio anywhere: silence, but an audio track exists
    assert any(s["codec_type"] == "audio" and s["codec_name"] == "aac" for s in media.probe(out)["streams"])


def test_earlier_rows_are_drawn_on_top(media: Media, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    rows = [[act("video", 0, 1, src="blue.mp4")], [act("video", 0, 1, src="red.mp4")]]
    media.render(media.request(rows), out)
    assert near(media.pixel(out, 0.5, 80, 45), BLUE)
    media.render(media.request(rows[::-1]), out)
    assert near(media.pixel(out, 0.5, 80, 45), RED)


def test_a_clip_longer_than_its_source_leaves_a_gap(media: Media, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    media.render(
        media.request([[act("video", 0, 2, src="redblue.mp4", trimStart=1)]], backgroundColor="lime"), out
    )
    assert near(media.pixel(out, 0.5, 80, 45), BLUE)
    assert near(media.pixel(out, 1.5, 80, 45), LIME)  # the source ran out: no frozen last frame


def test_speed_plays_the_source_faster(media: Media, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    media.render(media.request([[act("video", 0, 1, src="redblue.mp4", speed=2)]]), out)
    assert near(media.pixel(out, 0.2, 80, 45), RED)
    assert near(media.pixel(out, 0.8, 80, 45), BLUE)  # source second 1.6


def test_image_overlay_fit_and_opacity(media: Media, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    rows = [
        [act("image", 0, 1, src="logo.png", x=10, y=10, width=40, height=20)],  # contain: 20x20 centred
        [act("image", 0, 1, src="logo.png", x=100, y=50, width=40, height=40, opacity=0.5)],
    ]
    media.render(media.request(rows), out)
    assert near(media.pixel(out, 0.5, 30, 20), YELLOW)
    assert near(media.pixel(out, 0.5, 12, 20), BLACK)  # letterbox of the contained picture
    assert near(media.pixel(out, 0.5, 120, 70), (128, 128, 0), tolerance=30)
    assert near(media.pixel(out, 0.5, 80, 80), BLACK)


def test_sources_of_every_shape_render_together(media: Media, tmp_path: Path) -> None:
    """Different fps, sizes, sample rates, a VFR clip, a rotated clip, clips with and without audio."""
    out = tmp_path / "out.mp4"
    rows = [
        [act("video", 0, 1, src="rotated.mp4", fit="contain")],
        [act("video", 1, 2, src="testsrc_vfr.mp4", fit="cover")],
        [act("video", 2, 3, src="green_tone.mp4", fit="fill", volume=0.8)],
        [act("audio", 0, 1, src="tone.wav", fadeIn=0.2, fadeOut=0.2)],
    ]
    result = media.render(media.request(rows, fps=15), out)
    assert abs(result.duration_seconds - 3.0) <= 1 / 15
    # the rotated clip displays as portrait: contained in the landscape frame, pillarboxed
    assert near(media.pixel(out, 0.5, 80, 45), MAGENTA)
    assert near(media.pixel(out, 0.5, 10, 45), BLACK)
    assert near(media.pixel(out, 2.5, 5, 5), LIME)  # 320x240 filled into 160x90
    assert media.rms(out, 0.3, 0.4) > 0.05  # tone.wav
    assert media.rms(out, 1.2, 0.6) < 1e-3  # the VFR clip has no audio
    assert media.rms(out, 2.2, 0.6) > 0.05  # green_tone.mp4's own audio


def test_audio_where_it_plays_and_silence_elsewhere(media: Media, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    rows = [
        [act("audio", 1, 2, src="tone.wav", trimStart=0.5)],
        [act("video", 0, 3, src="green_tone.mp4", muted=True)],
    ]
    media.render(media.request(rows), out)
    assert media.rms(out, 0.2, 0.6) < 1e-3  # the video is muted
    assert media.rms(out, 1.2, 0.6) > 0.05
    assert media.rms(out, 2.3, 0.6) < 1e-3


def test_volume_and_fades_shape_the_level(media: Media, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    rows = [[act("audio", 0, 2, src="tone.wav", volume=0.5, fadeOut=1)], [act("audio", 2, 3, src="tone.wav")]]
    media.render(media.request(rows), out)
    half, fading, full = media.rms(out, 0.2, 0.6), media.rms(out, 1.5, 0.3), media.rms(out, 2.2, 0.6)
    assert half == pytest.approx(full / 2, rel=0.1)
    assert 0 < fading < half


AWKWARD = "It's \"quoted\": 100% C:\\dir\\ {braces} [x];,=' %{pts} \\n 🎬 é\nsecond line"


def test_text_with_awkward_characters_renders_literally(media: Media, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    rows = [
        [act("text", 0, 1, text=AWKWARD, fontSize=12, color="#ffffff", backgroundColor="rgba(0,0,0,0.5)")],
        [act("text", 0, 2, text="L", fontSize=30, color="white", align="left", x=2, y=0)],
    ]
    media.render(media.request(rows, backgroundColor="blue"), out)
    frame = media.frame(out, 0.5)
    band = [frame.pixel(x, y) for x in range(0, W, 3) for y in range(30, 60, 2)]
    assert any(near(p, WHITE, 60) for p in band), "the text is drawn across the middle"
    assert near(frame.pixel(2, 85), BLUE)
    assert any(near(frame.pixel(x, y), WHITE, 60) for x in range(2, 12) for y in range(6, 26, 2))
    assert near(media.pixel(out, 1.5, 80, 45), BLUE)  # gone after its end


def test_progress_is_reported(media: Media, tmp_path: Path) -> None:
    seen: list[float] = []
    media.render(
        media.request([[act("video", 0, 2, src="red.mp4")]]), tmp_path / "o.mp4", on_progress=seen.append
    )
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_missing_and_unreadable_assets_are_named(media: Media, tmp_path: Path) -> None:
    request = media.request([[act("video", 0, 1, src="red.mp4")]])
    with pytest.raises(AssetMissingError) as missing:
        render_export(request, tmp_path, tmp_path / "o.mp4")
    assert missing.value.code == "ASSET_MISSING" and "red.mp4" in missing.value.message
    assert str(tmp_path) not in missing.value.message

    bogus = tmp_path / "assets"
    bogus.mkdir()
    (bogus / "red.mp4").write_text("not a video")
    with pytest.raises(InvalidMediaError) as invalid:
        render_export(request, tmp_path, tmp_path / "o.mp4")
    assert invalid.value.code == "INVALID_MEDIA" and str(tmp_path) not in invalid.value.message


@pytest.mark.parametrize(("name", "kind"), [("green_tone.mp4", "video"), ("tone.mp3", "audio")])
def test_a_file_cut_short_is_invalid_media_naming_its_src(
    media: Media, tmp_path: Path, name: str, kind: str
) -> None:
    """A faststart mp4 (or an mp3) cut to 30 % of its bytes still states its full length in its header."""
    (tmp_path / "assets").mkdir()
    upload = tmp_path / "assets" / name
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(media.root / "assets" / name), "-c", "copy",
         "-movflags", "+faststart", str(upload)],
        check=True,
    )  # fmt: skip
    request = media.request([[act(kind, 0, 1, src=name)]])
    render_export(request, tmp_path, tmp_path / "whole.mp4")  # the whole file renders
    data = upload.read_bytes()
    upload.write_bytes(data[: int(len(data) * 0.3)])
    with pytest.raises(InvalidMediaError) as invalid:
        render_export(request, tmp_path, tmp_path / "cut.mp4")
    assert name in invalid.value.message and "truncated" in invalid.value.message


@pytest.mark.parametrize(
    ("action", "needle"),
    [
        (act("audio", 0, 1, src="red.mp4"), "no audio"),
        (act("video", 0, 1, src="tone.wav"), "no picture"),
        (act("video", 0, 1, src="red.mp4", trimStart=5), "past the end"),
    ],
)
def test_media_that_cannot_serve_the_action_is_invalid(
    media: Media, tmp_path: Path, action: dict[str, Any], needle: str
) -> None:
    with pytest.raises(InvalidMediaError, match=needle):
        media.render(media.request([[action]]), tmp_path / "o.mp4")
