"""Fan-out rendering against the single pass, on real ffmpeg.

The video sources are "frame-id" clips: every source frame is one flat colour that spells its frame
number, so a sampled pixel says exactly which source frame an output frame shows. The fanned-out mp4
must show the same source frame as the single pass at every output frame (base and overlay), match
it pixel for pixel within encoder tolerance around every chunk boundary, have the same frame count
and duration, and play its audio through every join without a gap or a click.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from render import chunking, encoding, fanout, frames, limits
from render.chunking import ChunkWindow
from render.composition import Clip, ClipKind, Composition
from render.errors import RenderFailedError
from render.model import ExportRequest
from render.pipeline import render_export
from tests import audio_levels
from tests.markers import requires_ffmpeg

from .conftest import Media

W, H, FPS = 160, 90, 30
SINE_HZ = 500
ENCODER_TOLERANCE = 3.0  # mean absolute difference of two encodes of the same frame, levels of 255

# A frame-id source: frame n is a flat colour with n's three octal digits in r, g, b (512 distinct).
_FRAME_ID = "geq=r='32*mod(N\\,8)+16':g='32*mod(floor(N/8)\\,8)+16':b='32*mod(floor(N/64)\\,8)+16'"
_MEDIA: dict[str, list[str]] = {
    "id25.mp4": [
        "-f", "lavfi", "-i", f"nullsrc=s={W}x{H}:r=25:d=16,format=yuv444p,{_FRAME_ID}",
        "-f", "lavfi", "-i", f"sine=f={SINE_HZ}:d=16",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
    ],
    "id30.mp4": [
        "-f", "lavfi", "-i", f"nullsrc=s={W}x{H}:r=30:d=16,format=yuv444p,{_FRAME_ID}",
        "-f", "lavfi", "-i", f"sine=f={SINE_HZ}:d=16",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
    ],
    "tone.wav": ["-f", "lavfi", "-i", f"sine=f={SINE_HZ}:r=48000:d=16"],
    "loop.wav": ["-f", "lavfi", "-i", f"sine=f={SINE_HZ}:r=48000:d=1.5"],  # loops in the Melies timeline
    "logo.png": ["-f", "lavfi", "-i", "testsrc=s=24x24", "-frames:v", "1"],
}  # fmt: skip

# Captions of the transitions timeline: each cue spans a chunk edge there (see `transition`).
CAPTIONS_SRT = """1
00:00:02,800 --> 00:00:04,000
across the first edge

2
00:00:06,200 --> 00:00:07,400
a longer caption that wraps, across the second edge 你好
"""

BASE_POINT = (150, 85)  # bottom right: only the base shows there
PIP_POINT = (30, 20)  # inside the picture-in-picture box of the generic timeline

pytestmark = requires_ffmpeg


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fanout-media")
    (root / "assets").mkdir()
    for name, args in _MEDIA.items():
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-v", "error", "-y", *args, str(root / "assets" / name)], check=True
        )
    (root / "assets" / "captions.srt").write_text(CAPTIONS_SRT, encoding="utf-8")
    return root


def _request(rows: list[list[dict[str, Any]]], **timeline: Any) -> ExportRequest:
    return ExportRequest.model_validate(
        {
            "timeline": {
                **timeline,
                "editorData": [{"id": str(i), "actions": r} for i, r in enumerate(rows)],
            },
            "assets": [{"src": name, "s3Key": f"assets/{name}"} for name in [*_MEDIA, "captions.srt"]],
            "output": {"width": W, "height": H, "fps": FPS, "backgroundColor": "#203040"},
        }
    )


def _action(kind: str, start: float, end: float, **data: Any) -> dict[str, Any]:
    return {"id": f"{kind}-{start}", "start": start, "end": end, "effectId": kind, "data": data}


def generic_request() -> ExportRequest:
    """Cuts fall inside trimmed clips, a faster clip of another frame rate, a picture-in-picture of
    another frame rate, a title, a still logo, a gap of background, and music under everything."""
    return _request(
        [
            [_action("text", 1, 9, text="fan-out", fontSize=16)],
            [
                _action(
                    "video",
                    2,
                    8.7,
                    src="id25.mp4",
                    x=10,
                    y=10,
                    width=48,
                    height=28,
                    trimStart=0.37,
                    muted=True,
                )
            ],
            [_action("image", 0, 12, src="logo.png", x=130, y=4, width=24, height=24, opacity=0.8)],
            [
                _action("video", 0, 5, src="id30.mp4", trimStart=1),
                _action("video", 5, 10.6, src="id25.mp4", trimStart=1.3, speed=1.5, muted=True),
                _action("video", 11, 12, src="id30.mp4", trimStart=3, volume=0.5),
            ],
            [_action("audio", 0, 12, src="tone.wav", volume=0.5)],
        ]
    )


def melies_request() -> ExportRequest:
    """A Melies snapshot: a split clip continuing at its offset across a 0.05 s micro gap (the first
    part holds its last frame), a 25 fps clip, linked audio, and music that loops every 1.5 s."""
    v1 = [
        _action("effect1", 0, 4.05, src="id30.mp4", offset=0.5),
        _action("effect1", 4.1, 8, src="id30.mp4", offset=4.6),
        _action("effect1", 8, 12, src="id25.mp4", offset=2),
    ]
    a1 = [_action("effect2", 0, 4.05, src="id30.mp4", offset=0.5)]
    a2 = [_action("effect0", 0, 12, src="loop.wav")]
    return _request([v1, a2, a1], version=1, selectedActionId=None)


def faded_request() -> ExportRequest:
    """Sound whose fades and speed run across the chunk edges (3, 6 and 9 s): the music fades in over
    0-4 s and out over 8-12 s, a clip at 1.25x speed fades in over 2-3.5 s and out over 8.5-10 s."""
    return _request(
        [
            [_action("video", 2, 10, src="id30.mp4", trimStart=0.5, speed=1.25, fadeIn=1.5, fadeOut=1.5)],
            [_action("audio", 0, 12, src="tone.wav", trimStart=1, volume=0.8, fadeIn=4, fadeOut=4)],
        ]
    )


def renders_request(name: str) -> ExportRequest:
    return {
        "generic": generic_request,
        "melies": melies_request,
        "transition": _transitions_timeline,
        "faded": faded_request,
    }[name]()


@dataclass(frozen=True)
class Renders:
    single: Path
    fanned: Path
    windows: tuple[ChunkWindow, ...]
    chunks: tuple[Path, ...]


def _render_both(request: ExportRequest, assets: Path, out: Path, windows: Sequence[ChunkWindow]) -> Renders:
    single = out / "single.mp4"
    render_export(request, assets, single)
    chunks, sounds = [], []
    for window in windows:
        path = out / f"{window.index}.mp4"
        result = fanout.render_chunk(request, assets, window, path)
        assert result.audio_path == fanout.audio_part_path_of(path)
        chunks.append(path)
        sounds.append(result.audio_path)
    fanned = out / "fanned.mp4"
    composition = request.to_composition()
    total = frames.output_frames(composition)
    fanout.join_chunks(
        chunks, sounds, fanned, fps=FPS, expected_frames=total, audio_seconds=composition.duration
    )
    return Renders(single, fanned, tuple(windows), tuple(chunks))


@pytest.fixture(scope="module")
def generic(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Renders:
    request = generic_request()
    windows = chunking.plan_chunks(
        request.to_composition(), threshold_seconds=1, max_chunks=7, min_chunk_seconds=1
    )
    return _render_both(request, assets, tmp_path_factory.mktemp("generic"), windows)


@pytest.fixture(scope="module")
def melies(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Renders:
    # Uneven cuts: 122 is inside the held frame of the micro gap (4.05 s to 4.1 s), 250 inside the
    # 25 fps clip's second source frame of a pair, 301 one frame after a source frame boundary.
    edges = [0, 122, 250, 301, 360]
    windows = [ChunkWindow(i, a, b) for i, (a, b) in enumerate(pairwise(edges))]
    return _render_both(melies_request(), assets, tmp_path_factory.mktemp("melies"), windows)


# ------------------------------------------------------------------ looking inside the files
def _frames(path: Path) -> list[bytes]:
    return [frame.rgb for frame in Media.frames(path)]


def _frame_id(frame: bytes, point: tuple[int, int]) -> int:
    offset = (point[1] * W + point[0]) * 3
    r, g, b = frame[offset : offset + 3]
    return r // 32 + 8 * (g // 32) + 64 * (b // 32)


def _mean_difference(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def _stream(path: Path, kind: str) -> dict[str, Any]:
    return next(s for s in Media.probe(path)["streams"] if s["codec_type"] == kind)


# ------------------------------------------------------------------ plan_chunks (pure)
def _composition(seconds: float) -> Composition:
    """A composition of `seconds` at 30 fps (only its length matters to the split)."""
    return Composition(
        W,
        H,
        30,
        "#000000ff",
        clips=(Clip("a", ClipKind.AUDIO, 0, 0.0, seconds, source_key="assets/tone.wav"),),
    )


def test_short_outputs_render_in_one_pass() -> None:
    assert chunking.plan_chunks(_composition(limits.FANOUT_THRESHOLD_SECONDS)) == ()
    assert chunking.plan_chunks(_composition(15), threshold_seconds=10, min_chunk_seconds=10) == ()


def test_chunks_cover_every_frame_once_in_equal_parts() -> None:
    composition = _composition(600.05)  # 18002 frames at 30 fps
    windows = chunking.plan_chunks(composition)
    assert len(windows) == limits.FANOUT_MAX_CHUNKS
    assert [w.index for w in windows] == list(range(len(windows)))
    assert windows[0].start_frame == 0 and windows[-1].end_frame == 18002
    assert all(a.end_frame == b.start_frame for a, b in pairwise(windows))
    assert max(w.frames for w in windows) - min(w.frames for w in windows) <= 1


def test_chunks_are_no_shorter_than_the_minimum() -> None:
    windows = chunking.plan_chunks(_composition(95), min_chunk_seconds=limits.FANOUT_MIN_CHUNK_SECONDS)
    assert len(windows) == 9
    assert all(w.frames / 30 >= limits.FANOUT_MIN_CHUNK_SECONDS for w in windows)


def test_a_chunk_downloads_only_what_it_shows_and_sounds() -> None:
    request = generic_request()
    # 0-1 s: the logo and the first clip on screen; that clip's sound and the tone under them
    assert fanout.used_asset_keys(request, ChunkWindow(0, 0, 30)) == [
        "assets/logo.png",
        "assets/id30.mp4",
        "assets/tone.wav",
    ]
    # 10-11 s: the muted 25 fps clip is seen, not heard; the clip at 11 s is heard in the window's
    # encoder overlap (two AAC frames past its end)
    assert fanout.used_asset_keys(request, ChunkWindow(1, 300, 330)) == [
        "assets/logo.png",
        "assets/id25.mp4",
        "assets/id30.mp4",
        "assets/tone.wav",
    ]
    # 7-8 s: nothing sounds but the tone
    assert fanout.used_asset_keys(request, ChunkWindow(1, 210, 240)) == [
        "assets/id25.mp4",
        "assets/logo.png",
        "assets/tone.wav",
    ]
    # an earlier version's audio task: everything that may sound, never a still or a muted clip's only use
    assert fanout.used_asset_keys(request) == ["assets/id30.mp4", "assets/tone.wav"]


# ------------------------------------------------------------------ exactness on real ffmpeg
@pytest.mark.parametrize("name", ["generic", "melies"])
def test_fanned_out_and_single_pass_show_the_same_frames(name: str, request: pytest.FixtureRequest) -> None:
    renders: Renders = request.getfixturevalue(name)
    assert len(renders.windows) >= 4
    single, fanned = _frames(renders.single), _frames(renders.fanned)
    assert (
        len(fanned)
        == len(single)
        == frames.output_frames(
            (generic_request() if name == "generic" else melies_request()).to_composition()
        )
    )
    points = [BASE_POINT, PIP_POINT] if name == "generic" else [BASE_POINT]
    wrong = [
        (n, point, _frame_id(single[n], point), _frame_id(fanned[n], point))
        for n in range(len(single))
        for point in points
        if _frame_id(single[n], point) != _frame_id(fanned[n], point)
    ]
    assert wrong == [], "output frame, point, single-pass source frame, fanned-out source frame"
    for window in renders.windows[1:]:
        for n in range(window.start_frame - 2, window.start_frame + 2):
            # The whole picture, text and logo edges included, differs only by the encoder (each
            # chunk starts its own GOP): about 1-2 levels of 255. A frame off by one moves a channel
            # of the whole base by 32 levels.
            difference = _mean_difference(single[n], fanned[n])
            assert difference < ENCODER_TOLERANCE, f"frame {n} at the cut {window.start_frame}"


@pytest.mark.parametrize("name", ["generic", "melies"])
def test_durations_agree_to_within_one_frame(name: str, request: pytest.FixtureRequest) -> None:
    renders: Renders = request.getfixturevalue(name)
    for kind in ("video", "audio"):
        single = float(_stream(renders.single, kind)["duration"])
        fanned = float(_stream(renders.fanned, kind)["duration"])
        assert abs(single - fanned) <= 1 / FPS, kind
    assert (
        abs(
            float(Media.probe(renders.single)["format"]["duration"])
            - float(Media.probe(renders.fanned)["format"]["duration"])
        )
        <= 1 / FPS
    )


@pytest.mark.parametrize("name", ["generic", "melies"])
def test_audio_runs_through_every_join_without_a_gap_or_a_click(
    name: str, request: pytest.FixtureRequest
) -> None:
    """Around each cut the mixed sine keeps its level (no gap, no spike) and no sample jumps more than
    a sine of that level can between two samples (a click); the single pass is the reference."""
    renders: Renders = request.getfixturevalue(name)
    for window in renders.windows[1:]:
        cut = window.start_frame / FPS
        expected = audio_levels.rms(renders.single, cut - 0.05, 0.1)
        assert expected > 0.02, "the timeline plays sound across this cut"
        for start in (cut - 0.05, cut - 0.01, cut):
            level = audio_levels.rms(renders.fanned, start, 0.01)
            assert abs(level - audio_levels.rms(renders.single, start, 0.01)) < 0.1 * expected, start
        values = audio_levels.samples(renders.fanned, cut - 0.05, 0.1)
        peak = max(abs(v) for v in values)
        largest_step = max(abs(b - a) for a, b in pairwise(values))
        assert largest_step <= 1.5 * peak * 2 * math.pi * SINE_HZ / audio_levels.RATE, cut


def test_a_chunk_is_video_only_from_a_keyframe_and_exactly_its_window(generic: Renders) -> None:
    for window, path in zip(generic.windows, generic.chunks, strict=True):
        streams = Media.probe(path)["streams"]
        assert [s["codec_type"] for s in streams] == ["video"]
        assert fanout.count_frames(path) == window.frames
        first = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time,pict_type",
             "-read_intervals", "%+#1", "-of", "csv=p=0", str(path)],
            capture_output=True, text=True, check=True,
        ).stdout.split()[0]  # fmt: skip
        pts, kind = first.split(",")[:2]
        assert (float(pts), kind) == (0.0, "I")


def test_a_join_that_would_lose_frames_fails(generic: Renders, tmp_path: Path) -> None:
    audio = tmp_path / "audio.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(generic.fanned), "-vn", "-c", "copy", str(audio)], check=True
    )
    missing = [p for i, p in enumerate(generic.chunks) if i != 1]
    total = sum(w.frames for w in generic.windows)
    with pytest.raises(RenderFailedError, match="frames"):
        fanout.join_chunks(missing, audio, tmp_path / "out.mp4", fps=FPS, expected_frames=total)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(generic.chunks[0].read_bytes()[:2000])
    with pytest.raises(RenderFailedError):
        fanout.join_chunks([broken, *generic.chunks[1:]], audio, tmp_path / "out.mp4", fps=FPS)


def test_no_chunk_edge_falls_inside_a_transition() -> None:
    """Edges 30 fps x 12 s / 4 = 90, 180, 270: the 1 s transition at 6 s (frames 165..195) moves the
    edge at 180 to the nearer end of its span; the others stay."""
    request = _request(
        [
            [
                _action("video", 0, 6, src="id30.mp4"),
                _action("video", 6, 12, src="id25.mp4", transition={"type": "crossfade", "duration": 1}),
            ]
        ]
    )
    windows = chunking.plan_chunks(
        request.to_composition(), threshold_seconds=1, max_chunks=4, min_chunk_seconds=1
    )
    assert [w.start_frame for w in windows] == [0, 90, 165, 270]


def _transitions_timeline(*rows: list[dict[str, Any]]) -> ExportRequest:
    """A crossfade and a wipe each near a chunk edge, and a title across an edge (and `rows` on top)."""
    return _request(
        [
            *rows,
            [_action("text", 1, 11, text="fan-out 你好", fontSize=16)],
            [
                _action("video", 0, 4, src="id30.mp4", trimStart=1),
                _action("video", 4, 8, src="id25.mp4", transition={"type": "crossfade", "duration": 1}),
                _action(
                    "video",
                    8,
                    12,
                    src="id30.mp4",
                    trimStart=2,
                    transition={"type": "wipeleft", "duration": 2},
                ),
            ],
        ]
    )


@pytest.fixture(scope="module")
def transition(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Renders:
    request = _transitions_timeline()
    windows = chunking.plan_chunks(
        request.to_composition(), threshold_seconds=1, max_chunks=3, min_chunk_seconds=1
    )
    return _render_both(request, assets, tmp_path_factory.mktemp("transition"), windows)


@pytest.fixture(scope="module")
def faded(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Renders:
    request = faded_request()
    windows = chunking.plan_chunks(
        request.to_composition(), threshold_seconds=1, max_chunks=4, min_chunk_seconds=1
    )
    return _render_both(request, assets, tmp_path_factory.mktemp("faded"), windows)


@pytest.fixture(scope="module")
def captions(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Renders:
    """The transitions timeline under captions from an SRT file (action from 1 s, trimStart 0.5: cues at
    3.3-4.5 s and 6.7-7.9 s, across the chunk edges at 3.5 s and 7 s, the second over the wipe), encoded
    losslessly: a chunk must draw exactly the single pass's pixels, not merely within the encoder's noise."""
    request = _transitions_timeline(
        [
            _action(
                "captions", 1, 11, src="captions.srt", trimStart=0.5, position="top", margin=2, fontSize=10,
                maxWidth=0.6,
            )
        ]
    )  # fmt: skip
    windows = chunking.plan_chunks(
        request.to_composition(), threshold_seconds=1, max_chunks=3, min_chunk_seconds=1
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(encoding.VIDEO_OUTPUT_OPTIONS, "crf", "0")  # the dict the compiler reads
        return _render_both(request, assets, tmp_path_factory.mktemp("captions"), windows)


def test_transitions_and_titles_across_chunk_edges_render_as_in_one_pass(
    transition: Renders,
) -> None:
    # edges 120 and 240 fall inside the spans (105..135, 210..270): each moves to its span's start
    assert [w.start_frame for w in transition.windows] == [0, 105, 210]
    single, fanned = _frames(transition.single), _frames(transition.fanned)
    assert len(single) == len(fanned) == 360
    worst = max(_mean_difference(a, b) for a, b in zip(single, fanned, strict=True))
    assert worst < ENCODER_TOLERANCE, worst
    print(f"transition fan-out: worst mean difference {worst:.2f} of 255")


def test_captions_across_chunk_edges_render_exactly_as_in_one_pass(captions: Renders) -> None:
    assert [w.start_frame for w in captions.windows] == [0, 105, 210]
    single, fanned = _frames(captions.single), _frames(captions.fanned)
    assert len(single) == len(fanned) == 360
    differing = [i for i, (a, b) in enumerate(zip(single, fanned, strict=True)) if a != b]
    assert differing == [], differing[:10]
    # the captions are on screen on both sides of each edge (frames 104/105 and 209/210), and not before
    for frame in (104, 105, 209, 210):
        assert _caption_ink(fanned[frame]) > 20, frame
    assert _caption_ink(fanned[95]) == 0


def _caption_ink(frame: bytes) -> int:
    """Lit pixels in the top band, where the captions are (the title is centred, lower down)."""
    return sum(
        1 for y in range(0, 24) for x in range(W) if sum(frame[(y * W + x) * 3 : (y * W + x) * 3 + 3]) > 600
    )


@pytest.mark.parametrize("name", ["generic", "melies", "transition", "faded"])
def test_fanned_out_sound_is_the_single_pass_sound_within_coding_noise(
    name: str, request: pytest.FixtureRequest
) -> None:
    """Each chunk mixes the sound under its frames from the whole timeline's plan: sample for sample
    the single pass's mix, so the two exports differ by what two AAC codings of one signal differ by,
    and no more at the splices than anywhere else."""
    renders: Renders = request.getfixturevalue(name)
    duration = frames.output_frames(renders_request(name).to_composition()) / FPS
    single = audio_levels.samples(renders.single, 0, duration)
    fanned = audio_levels.samples(renders.fanned, 0, duration)
    assert len(single) == len(fanned)
    block = audio_levels.RATE // 50  # 20 ms
    cuts = [w.start_frame / FPS for w in renders.windows[1:]]
    at_cuts, elsewhere = 0.0, 0.0
    for at in range(0, len(single) - block, block):
        a, b = single[at : at + block], fanned[at : at + block]
        level = math.sqrt(sum(x * x for x in a) / block)
        difference = math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) / block)
        share = difference / max(level, 0.05)
        near = any(abs(at / audio_levels.RATE - cut) < 0.05 for cut in cuts)
        at_cuts, elsewhere = (max(at_cuts, share), elsewhere) if near else (at_cuts, max(elsewhere, share))
    print(f"{name}: worst 20 ms difference {at_cuts:.4f} of the level at the splices, {elsewhere:.4f} else")
    assert elsewhere < 0.1
    assert at_cuts < max(1.5 * elsewhere, 0.02)
