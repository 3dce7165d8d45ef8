"""The box layout of an ISO base media file (mp4, mov, m4a), read in-process.

An mp4 is a chain of boxes, each starting with its own size, so a file cut short in transfer is
visible in its headers alone: the last box claims bytes the file does not have. Reading a few
headers here replaces an ffprobe run per upload (process start-up dominates a probe), and reading the
movie header replaces probing the file ffmpeg has just written.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_HEADER = 8
_LARGE_HEADER = 16
# Boxes read in full (the movie header and its tracks' headers are small); anything bigger is skipped.
_MOOV_LIMIT = 64 * 1024 * 1024
# What an ISO file may start with; a file starting otherwise is read as another format.
_FIRST_BOXES = {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pdin", b"uuid"}


@dataclass(frozen=True)
class Layout:
    """What the top-level boxes of a file say about it."""

    boxes: tuple[str, ...]  # top-level box types, in file order
    missing_bytes: int  # > 0: the last box (or header) runs past the end of the file
    open_ended: bool  # a box of size 0 runs "to the end of the file": nothing to check it against
    movie_seconds: float | None = None  # the movie header's duration
    picture: tuple[int, int] | None = None  # the first track with a size (tkhd), as displayed

    @property
    def truncated(self) -> bool:
        return self.missing_bytes > 0

    @property
    def whole_movie(self) -> bool:
        """True when the headers prove the file whole: an index (moov) and its media (mdat), each
        complete, and no fragments (a fragmented file cut between fragments looks whole but short)."""
        return (
            not self.truncated
            and not self.open_ended
            and {"moov", "mdat"} <= set(self.boxes)
            and "moof" not in self.boxes
        )


def read_layout(path: Path) -> Layout | None:
    """The layout of `path`, or None when it is not a chain of boxes (another format, or garbage)."""
    size = path.stat().st_size
    boxes: list[str] = []
    movie_seconds: float | None = None
    picture: tuple[int, int] | None = None
    with path.open("rb") as stream:
        at = 0
        while at < size:
            header = _box_header(stream, at, size)
            if isinstance(header, int):  # the header itself is cut off
                return Layout(tuple(boxes), missing_bytes=header, open_ended=False) if boxes else None
            kind, box_size, header_size = header
            if not boxes and kind not in _FIRST_BOXES:
                return None
            boxes.append(kind.decode("latin-1"))  # any 4 bytes; a corrupt type is still named
            if box_size == 0:
                return Layout(tuple(boxes), 0, open_ended=True, movie_seconds=movie_seconds, picture=picture)
            if box_size < header_size:
                return None
            if at + box_size > size:
                return Layout(tuple(boxes), at + box_size - size, open_ended=False)
            if kind == b"moov" and box_size <= _MOOV_LIMIT:
                stream.seek(at + header_size)
                movie_seconds, picture = _movie_facts(stream.read(box_size - header_size))
            at += box_size
    if not boxes:
        return None
    return Layout(tuple(boxes), 0, open_ended=False, movie_seconds=movie_seconds, picture=picture)


def _box_header(stream: BinaryIO, at: int, size: int) -> tuple[bytes, int, int] | int:
    """(type, size, header size) of the box at `at`, or how many bytes its header lacks."""
    if size - at < _HEADER:
        return _HEADER - (size - at)
    stream.seek(at)
    head = stream.read(_HEADER)
    box_size, kind = struct.unpack(">I4s", head)
    if box_size != 1:
        return kind, box_size, _HEADER
    if size - at < _LARGE_HEADER:
        return _LARGE_HEADER - (size - at)
    (large,) = struct.unpack(">Q", stream.read(8))
    return kind, large, _LARGE_HEADER


def _children(body: bytes) -> list[tuple[bytes, bytes]]:
    """The boxes inside a container's body, as (type, body); stops at the first malformed one."""
    found = []
    at = 0
    while at + _HEADER <= len(body):
        box_size, kind = struct.unpack_from(">I4s", body, at)
        header = _HEADER
        if box_size == 1 and at + _LARGE_HEADER <= len(body):
            (box_size,) = struct.unpack_from(">Q", body, at + _HEADER)
            header = _LARGE_HEADER
        elif box_size == 0:
            box_size = len(body) - at
        if box_size < header or at + box_size > len(body):
            break
        found.append((kind, body[at + header : at + box_size]))
        at += box_size
    return found


def _movie_facts(moov: bytes) -> tuple[float | None, tuple[int, int] | None]:
    """The duration in the movie header (mvhd), and the first track header (tkhd) with a picture size."""
    seconds: float | None = None
    picture: tuple[int, int] | None = None
    for kind, body in _children(moov):
        if kind == b"mvhd":
            seconds = _mvhd_seconds(body)
        elif kind == b"trak" and picture is None:
            picture = next((_tkhd_size(b) for k, b in _children(body) if k == b"tkhd"), None)
    return seconds, picture


def _mvhd_seconds(body: bytes) -> float | None:
    version = body[0] if body else None
    if version == 0 and len(body) >= 20:
        timescale, duration = struct.unpack_from(">II", body, 12)
    elif version == 1 and len(body) >= 32:
        timescale, duration = struct.unpack_from(">IQ", body, 20)
    else:
        return None
    return duration / timescale if timescale else None


def _tkhd_size(body: bytes) -> tuple[int, int] | None:
    """A track's display size (16.16 fixed point); None for a track without a picture (sound)."""
    version = body[0] if body else None
    offset = {0: 76, 1: 88}.get(version) if version is not None else None
    if offset is None or len(body) < offset + 8:
        return None
    width, height = struct.unpack_from(">II", body, offset)
    return (width >> 16, height >> 16) if width and height else None
