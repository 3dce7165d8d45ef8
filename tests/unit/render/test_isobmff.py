"""The in-process mp4 layout reader: whole files, files cut anywhere, and what it must not vouch for."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from render.errors import InvalidMediaError
from render.isobmff import read_layout
from render.probe import probe
from tests.markers import requires_ffmpeg
from tests.unit.render.conftest import Media


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _large_box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4sQ", 1, kind, 16 + len(body)) + body


def _mvhd_v1(timescale: int, duration: int) -> bytes:
    return _box(
        b"mvhd", bytes([1, 0, 0, 0]) + bytes(16) + struct.pack(">IQ", timescale, duration) + bytes(80)
    )


def _tkhd_v1(width: int, height: int) -> bytes:
    return _box(b"tkhd", bytes([1, 0, 0, 0]) + bytes(84) + struct.pack(">II", width << 16, height << 16))


def _remux(media: Media, tmp_path: Path, name: str, *flags: str) -> Path:
    out = tmp_path / f"{'-'.join(f.strip('+') for f in flags) or 'plain'}-{name}"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(media.root / "assets" / name),
            "-c",
            "copy",
            *flags,
            str(out),
        ],
        check=True,
    )
    return out


@requires_ffmpeg
@pytest.mark.parametrize("flags", [(), ("-movflags", "+faststart")])
def test_a_whole_mp4_is_vouched_for_with_its_duration_and_picture(
    media: Media, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    path = _remux(media, tmp_path, "green_tone.mp4", *flags)
    layout = read_layout(path)
    probed = media.probe(path)
    video = next(s for s in probed["streams"] if s["codec_type"] == "video")
    assert layout is not None and layout.whole_movie and not layout.truncated
    assert layout.movie_seconds == pytest.approx(float(probed["format"]["duration"]), abs=0.001)
    assert layout.picture == (video["width"], video["height"])


@requires_ffmpeg
@pytest.mark.parametrize("share", [0.3, 0.9, 0.999])
@pytest.mark.parametrize("flags", [(), ("-movflags", "+faststart")])
def test_an_mp4_cut_anywhere_is_truncated(
    media: Media, tmp_path: Path, share: float, flags: tuple[str, ...]
) -> None:
    whole = _remux(media, tmp_path, "green_tone.mp4", *flags)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * share)])
    layout = read_layout(cut)
    assert layout is not None and layout.truncated and not layout.whole_movie
    # what the box the cut falls in lacks (later boxes are not known, so at most what the file lacks)
    assert 0 < layout.missing_bytes <= len(data) - int(len(data) * share)


def test_a_header_cut_short_counts_its_own_missing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes(_box(b"ftyp", b"isom") + b"\x00\x00\x10")
    layout = read_layout(path)
    assert layout is not None and layout.missing_bytes == 5


def test_an_mp4_missing_its_media_box_is_not_vouched_for(tmp_path: Path) -> None:
    """Cut exactly at a box boundary, nothing is 'missing', but there is no media: the tail check decides."""
    path = tmp_path / "index-only.mp4"
    path.write_bytes(_box(b"ftyp", b"isom") + _box(b"moov", _mvhd_v1(1000, 3000)))
    layout = read_layout(path)
    assert layout is not None and not layout.truncated and not layout.whole_movie


def test_large_boxes_and_version_1_headers_are_read(tmp_path: Path) -> None:
    path = tmp_path / "large.mp4"
    trak = _box(b"trak", _tkhd_v1(1920, 1080))
    path.write_bytes(
        _box(b"ftyp", b"isom") + _box(b"moov", _mvhd_v1(600, 1500) + trak) + _large_box(b"mdat", bytes(32))
    )
    layout = read_layout(path)
    assert layout is not None and layout.whole_movie
    assert (layout.movie_seconds, layout.picture) == (2.5, (1920, 1080))


def test_an_open_ended_media_box_is_not_vouched_for(tmp_path: Path) -> None:
    path = tmp_path / "open.mp4"
    path.write_bytes(
        _box(b"ftyp", b"isom") + _box(b"moov", _mvhd_v1(1000, 1000)) + struct.pack(">I4s", 0, b"mdat")
    )
    layout = read_layout(path)
    assert layout is not None and layout.open_ended and not layout.whole_movie and not layout.truncated


@requires_ffmpeg
def test_a_fragmented_mp4_is_left_to_the_tail_check(media: Media, tmp_path: Path) -> None:
    fragmented = _remux(media, tmp_path, "green_tone.mp4", "-movflags", "+frag_keyframe+empty_moov")
    layout = read_layout(fragmented)
    assert layout is not None and "moof" in layout.boxes and not layout.whole_movie
    assert probe(fragmented).duration is not None  # whole, so the tail check passes it


@pytest.mark.parametrize(
    "content", [b"\x89PNG\r\n\x1a\n" + bytes(64), b"ID3\x03\x00\x00" + bytes(64), b"", b"\xff" * 7]
)
def test_other_formats_are_not_read_as_boxes(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other"
    path.write_bytes(content)
    assert read_layout(path) is None


def test_a_corrupt_box_after_the_first_is_named_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(_box(b"ftyp", b"isom") + struct.pack(">I4s", 4096, b"\xff\xfe\x00\x01") + bytes(8))
    layout = read_layout(path)
    assert layout is not None and layout.truncated and layout.boxes[-1] == "\xff\xfe\x00\x01"


@requires_ffmpeg
def test_probe_refuses_an_mp4_cut_short_without_a_second_ffprobe(media: Media, tmp_path: Path) -> None:
    whole = _remux(media, tmp_path, "green_tone.mp4", "-movflags", "+faststart")
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidMediaError, match="truncated") as invalid:
        probe(cut, ffprobe=str(_ffprobe_that_runs_once(tmp_path)))
    assert f"last {len(data) - len(data) // 2} bytes of its 'mdat' box" in invalid.value.message


def _ffprobe_that_runs_once(tmp_path: Path) -> Path:
    """An ffprobe that works the first time and fails the test's point (exits 3) on a second run."""
    marker = tmp_path / "ran"
    script = tmp_path / "ffprobe-once"
    script.write_text(f'#!/bin/sh\n[ -e "{marker}" ] && exit 3\ntouch "{marker}"\nexec ffprobe "$@"\n')
    script.chmod(0o755)
    return script
