"""Ranged reads of mp4 sources, on real files made by ffmpeg.

The ranges computed for a window must hold every packet ffmpeg decodes for it (from the keyframe
before its in-point), as ffprobe lists them, for constant and variable frame rates; and a render from
a sparse file holding only the index and those ranges must be frame-identical to one from the whole file.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from render import fanout, ranges
from render.fanout import ChunkWindow
from render.model import ExportRequest
from render.pipeline import render_export
from render.ranges import SourceSpan, TrackKind
from tests.markers import requires_ffmpeg

pytestmark = requires_ffmpeg

W, H, FPS = 160, 90, 25
SECONDS = 40
_CODEC = ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p"]
_SOURCES: dict[str, list[str]] = {
    # constant frame rate, B-frames, audio interleaved, index up front
    "cfr.mp4": [
        "-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r={FPS}:d={SECONDS}",
        "-f", "lavfi", "-i", f"sine=f=500:r=48000:d={SECONDS}",
        *_CODEC, "-c:a", "aac", "-movflags", "+faststart",
    ],
    # variable frame rate (a third of the frames dropped in the first half), index at the end
    "vfr.mp4": [
        "-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r={FPS}:d={SECONDS}",
        "-f", "lavfi", "-i", f"sine=f=700:r=44100:d={SECONDS}",
        "-vf", f"select='gte(t\\,{SECONDS / 2})+not(eq(mod(n\\,3)\\,1))'", "-fps_mode", "vfr",
        *_CODEC, "-c:a", "aac",
    ],
    # fragmented: no sample table to read ranges from
    "fragmented.mp4": [
        "-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r={FPS}:d=4", *_CODEC,
        "-movflags", "frag_keyframe+empty_moov",
    ],
}  # fmt: skip
WINDOWS = [(0.0, 3.0), (7.3, 12.9), (19.96, 24.04), (33.5, SECONDS + 1.0)]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ranges-media")
    (root / "assets").mkdir()
    for name, args in _SOURCES.items():
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-v", "error", "-y", *args, str(root / "assets" / name)], check=True
        )
    return root


def _index(path: Path) -> ranges.MovieIndex:
    index = ranges.read_index(ranges.file_reader(path), path.stat().st_size)
    assert index is not None
    return index


def _packets(path: Path) -> list[dict[str, Any]]:
    """Every packet in file order as ffprobe reads it: stream, times, position, size, keyframe."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "packet=stream_index,pts_time,dts_time,pos,size,flags",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [p for p in json.loads(out)["packets"] if p.get("pts_time") not in (None, "N/A")]


def _decoded(
    packets: Sequence[dict[str, Any]], stream: int, start: float, end: float
) -> list[dict[str, Any]]:
    """The packets of `stream` that decoding [start, end) reads: from the last keyframe at or before
    `start`, in decode order, up to the last one presented before `end`."""
    track = [p for p in packets if p["stream_index"] == stream]
    keys = [i for i, p in enumerate(track) if "K" in p["flags"] and float(p["pts_time"]) <= start]
    first = keys[-1] if keys else 0
    shown = [i for i in range(first, len(track)) if float(track[i]["pts_time"]) < end]
    return track[first : max(shown) + 1] if shown else []


@pytest.mark.parametrize("name", ["cfr.mp4", "vfr.mp4"])
@pytest.mark.parametrize(("start", "end"), WINDOWS)
def test_ranges_hold_every_packet_the_window_decodes(
    sources: Path, name: str, start: float, end: float
) -> None:
    path = sources / "assets" / name
    index = _index(path)
    packets = _packets(path)
    for stream, kind in ((0, TrackKind.VIDEO), (1, TrackKind.AUDIO)):
        found = index.ranges(start, end, [kind])
        needed = _decoded(packets, stream, start, end)
        assert needed
        missing = [p for p in needed if not ranges.contains(found, int(p["pos"]), int(p["size"]))]
        assert not missing, f"{name} {kind} [{start}, {end}): {len(missing)} packets outside the ranges"
        # and only a little more than that: the keyframe before, the rolls, the other track's gaps
        assert ranges.total(found) < ranges.total([(0, path.stat().st_size)]) * (
            (end - start) / SECONDS + 0.25
        )


def test_vfr_source_has_uneven_frame_times(sources: Path) -> None:
    video = next(t for t in _index(sources / "assets" / "vfr.mp4").tracks if t.kind == TrackKind.VIDEO)
    steps = {round(b - a, 3) for a, b in zip(sorted(video.times), sorted(video.times)[1:], strict=False)}
    assert len(steps) > 1


def test_index_at_the_end_is_found(sources: Path) -> None:
    path = sources / "assets" / "vfr.mp4"
    index = _index(path)
    assert index.header_ranges[-1][1] == path.stat().st_size  # the moov is the last box
    assert {t.kind for t in index.tracks} == {TrackKind.VIDEO, TrackKind.AUDIO}


def test_fragmented_or_foreign_files_are_read_whole(sources: Path, tmp_path: Path) -> None:
    fragmented = sources / "assets" / "fragmented.mp4"
    assert ranges.read_index(ranges.file_reader(fragmented), fragmented.stat().st_size) is None
    wav = tmp_path / "tone.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=1", str(wav)], check=True)
    assert ranges.read_index(ranges.file_reader(wav), wav.stat().st_size) is None


# ------------------------------------------------------------------ renders from ranged input
def _request() -> ExportRequest:
    def video(start: float, end: float, src: str, trim: float) -> dict[str, Any]:
        return {"id": f"{src}-{start}", "start": start, "end": end, "effectId": "video",
                "data": {"src": src, "trimStart": trim}}  # fmt: skip

    return ExportRequest.model_validate(
        {
            "timeline": {
                "editorData": [
                    {"id": "pip", "actions": [{**video(3, 11, "vfr.mp4", 9.5), "data": {
                        "src": "vfr.mp4", "trimStart": 9.5, "x": 8, "y": 8, "width": 64, "height": 36}}]},
                    {"id": "main", "actions": [video(0, 7, "cfr.mp4", 12.3), video(7, 14, "vfr.mp4", 21.7)]},
                ]
            },
            "assets": [{"src": name, "s3Key": f"assets/{name}"} for name in ("cfr.mp4", "vfr.mp4")],
            "output": {"width": W, "height": H, "fps": 30},
        }
    )  # fmt: skip


class _SparseCopy:
    """What the worker does, from local files: each source's index first, its spans once planned."""

    def __init__(self, whole: Path, sparse: Path, keys: Sequence[str]) -> None:
        self.whole, self.sparse, self.copied, self.spans = whole, sparse, 0, list[SourceSpan]()
        for key in keys:
            (sparse / key).parent.mkdir(parents=True, exist_ok=True)
            self.copied += ranges.copy_ranges(whole / key, sparse / key, _index(whole / key).head_ranges())

    def __call__(self, spans: Sequence[SourceSpan]) -> None:
        self.spans.extend(spans)
        for span in spans:
            key = span.path.relative_to(self.sparse.resolve())
            found = ranges.span_ranges(_index(self.whole / key), [span])
            assert found is not None
            self.copied += ranges.copy_ranges(self.whole / key, self.sparse / key, found)


def _framemd5(path: Path) -> list[str]:
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if not line.startswith("#")]


def test_chunk_from_ranged_input_is_frame_identical(sources: Path, tmp_path: Path) -> None:
    request = _request()
    window = ChunkWindow(1, 150, 330)  # 5 s to 11 s: inside both clips of the main row and the overlay
    whole = tmp_path / "whole.mp4"
    fanout.render_video_chunk(request, sources, window, whole)
    sparse = tmp_path / "sparse"
    reader = _SparseCopy(sources, sparse, fanout.used_asset_keys(request, window))
    ranged = tmp_path / "ranged.mp4"
    fanout.render_video_chunk(request, sparse, window, ranged, read_spans=reader)
    assert _framemd5(ranged) == _framemd5(whole)
    assert {s.kinds for s in reader.spans} == {frozenset({TrackKind.VIDEO})}
    sizes = sum((sources / "assets" / name).stat().st_size for name in ("cfr.mp4", "vfr.mp4"))
    assert reader.copied < sizes / 3


def test_single_pass_from_ranged_input_is_frame_identical(sources: Path, tmp_path: Path) -> None:
    request = _request()
    whole = tmp_path / "whole.mp4"
    render_export(request, sources, whole)
    sparse = tmp_path / "sparse"
    reader = _SparseCopy(sources, sparse, request.used_asset_keys())
    ranged = tmp_path / "ranged.mp4"
    render_export(request, sparse, ranged, read_spans=reader)
    assert _framemd5(ranged) == _framemd5(whole)  # video and audio packets alike
    assert any(TrackKind.AUDIO in s.kinds for s in reader.spans)
    sizes = sum((sources / "assets" / name).stat().st_size for name in ("cfr.mp4", "vfr.mp4"))
    assert reader.copied < sizes * 0.6


def test_merge_joins_near_ranges() -> None:
    assert ranges.merge([(10, 20), (0, 5), (21, 30)], gap=1) == [(0, 5), (10, 30)]
    assert ranges.merge([(0, 5), (4, 8)], gap=0) == [(0, 8)]
    assert ranges.contains([(0, 5), (10, 30)], 12, 18)
    assert not ranges.contains([(0, 5), (10, 30)], 4, 2)
