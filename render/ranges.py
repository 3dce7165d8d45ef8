"""Which bytes of an mp4 a render reads: the sample index of each track, and the byte ranges of a time span.

A task that renders a window of a long source needs only the packets it decodes: from the keyframe
before its in-point to the last packet shown before its out-point (and the packets a B-frame needs
from after that). The movie header (``moov``) says where every packet lies, so those ranges can be
fetched alone, written at their own offsets into a sparse file of the source's size, and ffmpeg then
reads that file as if it were whole: it seeks through the index and never reaches the holes.

Pure apart from the ``read`` callable it is given: a local file or ranged GETs from object storage.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from render.planner import RenderPlan

Reader = Callable[[int, int], bytes]  # (offset, length) -> those bytes (fewer only at the end of the file)
ByteRange = tuple[int, int]  # [start, end) in the file

# Read a little before the in-point and after the out-point: the demuxer, the decoder's delay and
# the trim filter all look a few packets beyond the exact cut. Sound needs less: every packet is a
# keyframe, and an AAC decoder looks one frame (21 ms) back. A chunk's sound reaches a few frames into
# its neighbours' clips, often far away in a source, where video is interleaved with it: a short roll
# there reads a quarter of a second of it instead of a whole one.
PRE_ROLL_SECONDS = 0.5
POST_ROLL_SECONDS = 0.5
SOUND_ROLL_SECONDS = 0.1
# Ranges less than this apart are read as one: reading 256 KiB more takes about 3 ms at 90 MB/s, less
# than a request's latency shared by the concurrent ones. Farther apart, a gap is still read when it is
# small beside the ranges on both sides (the other track's packets between a video's). A muxer that
# interleaves packet by packet leaves an audio read nothing cheaper than the video between: it reads
# the span whole (thousands of tiny requests would take longer).
MIN_MERGE_GAP_BYTES = 256 * 1024
MERGE_GAP_SHARE = 0.25
# The first bytes read to find the top-level boxes; the index of a "faststart" file is usually in them.
HEAD_BYTES = 64 * 1024
# An index larger than this is not read in pieces: the source is downloaded whole instead.
MAX_INDEX_BYTES = 64 * 1024 * 1024
_MAX_TOP_BOXES = 64


class TrackKind(StrEnum):
    VIDEO = "vide"
    AUDIO = "soun"


@dataclass(frozen=True)
class Track:
    """One track's packets in decode order: file offset, size, presentation second, keyframe or not."""

    kind: str  # the handler type: "vide", "soun", ...
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]
    times: tuple[float, ...]  # presentation time on the movie's timeline, seconds
    sync: tuple[int, ...]  # decode indices of keyframes, ascending (every packet when the track says none)

    def span_indices(self, start: float, end: float) -> tuple[int, int] | None:
        """Decode indices [first, last] of the packets that decoding [start, end] needs, or None when
        the track has no packet there: from the keyframe at or before `start` (less the pre-roll) to
        the last packet (in decode order) that shows before `end` plus the post-roll (sound: its roll)."""
        if not self.times:
            return None
        sound = self.kind == TrackKind.AUDIO
        begin = start - (SOUND_ROLL_SECONDS if sound else PRE_ROLL_SECONDS)
        keys = [i for i in self.sync if self.times[i] <= begin]
        first = keys[-1] if keys else 0
        limit = end + (SOUND_ROLL_SECONDS if sound else POST_ROLL_SECONDS)
        last = max((i for i in range(first, len(self.times)) if self.times[i] <= limit), default=None)
        if last is None:
            return None
        return first, last

    def ranges(self, start: float, end: float) -> list[ByteRange]:
        span = self.span_indices(start, end)
        if span is None:
            return []
        # runs of adjacent packets: the gaps between runs are the other tracks' packets
        return merge(
            ((self.offsets[i], self.offsets[i] + self.sizes[i]) for i in range(span[0], span[1] + 1)), gap=0
        )

    def bytes_shown(self, start: float, end: float) -> int:
        """The bytes of the packets presented in [start, end): what a window needs at the least."""
        return sum(size for size, at in zip(self.sizes, self.times, strict=True) if start <= at < end)


@dataclass(frozen=True)
class MovieIndex:
    """What a render needs to read an mp4 by ranges: its size, its non-media boxes and every track."""

    size: int
    header_ranges: tuple[ByteRange, ...]  # every top-level box (ftyp, moov, ...); of mdat its header
    tracks: tuple[Track, ...]

    def head_ranges(self) -> list[ByteRange]:
        """What is read before the plan is known: every box but the media data, and each track's
        first packet (probing decodes the first frame; everything else it reports is in the index)."""
        firsts = [(t.offsets[0], t.offsets[0] + t.sizes[0]) for t in self.tracks if t.sizes]
        return merge([*self.header_ranges, *firsts], gap=0)

    def ranges(self, start: float, end: float, kinds: Iterable[str] | None = None) -> list[ByteRange]:
        """The merged byte ranges of the packets that rendering [start, end] of the given kinds reads
        (all tracks when `kinds` is None), without the header ranges."""
        wanted = set(kinds) if kinds is not None else None
        found: list[ByteRange] = []
        for track in self.tracks:
            if wanted is None or track.kind in wanted:
                found.extend(track.ranges(start, end))
        return merge(found)

    def bytes_shown(self, start: float, end: float, kinds: Iterable[str] | None = None) -> int:
        wanted = set(kinds) if kinds is not None else None
        return sum(t.bytes_shown(start, end) for t in self.tracks if wanted is None or t.kind in wanted)


def merge(ranges: Iterable[ByteRange], *, gap: int | None = None) -> list[ByteRange]:
    """Sorted ranges, overlapping or near ones joined into one: `gap` bytes apart at most, or by
    default `MIN_MERGE_GAP_BYTES`, or a `MERGE_GAP_SHARE` of the smaller of the two ranges."""
    merged: list[ByteRange] = []
    for start, end in sorted(ranges):
        if merged:
            last_start, last_end = merged[-1]
            allowed = gap
            if allowed is None:
                smaller = min(last_end - last_start, end - start)
                allowed = max(MIN_MERGE_GAP_BYTES, int(MERGE_GAP_SHARE * smaller))
            if start <= last_end + allowed:
                merged[-1] = (last_start, max(last_end, end))
                continue
        merged.append((start, end))
    return merged


def total(ranges: Iterable[ByteRange]) -> int:
    return sum(end - start for start, end in ranges)


# ---------------------------------------------------------------------------------------- reading
def read_index(read: Reader, size: int) -> MovieIndex | None:
    """The index of the mp4 at `read`, or None when it cannot be read by ranges: not an ISO file, no
    single ``moov`` with a sample table per track, fragments, an edit list it does not follow, or an
    index too large. The caller then reads the whole file."""
    head = read(0, min(size, HEAD_BYTES))
    boxes = _top_boxes(read, head, size)
    if boxes is None:
        return None
    kinds = [kind for kind, _, _ in boxes]
    if kinds.count(b"moov") != 1 or b"moof" in kinds or b"mdat" not in kinds:
        return None
    # every box whole but the media data, of which only the header (the reader walks box by box)
    headers = [(at, at + (box_size if kind != b"mdat" else 16)) for kind, at, box_size in boxes]
    if total(headers) > MAX_INDEX_BYTES:
        return None
    at, box_size = next((at, box_size) for kind, at, box_size in boxes if kind == b"moov")
    moov = head[at : at + box_size] if at + box_size <= len(head) else read(at, box_size)
    if len(moov) != box_size:
        return None
    try:
        tracks = _tracks(_body(moov))
    except (struct.error, IndexError, ValueError):
        return None
    if tracks is None:
        return None
    return MovieIndex(size=size, header_ranges=tuple(headers), tracks=tracks)


def file_reader(path: Path) -> Reader:
    def read(offset: int, length: int) -> bytes:
        with path.open("rb") as stream:
            stream.seek(offset)
            return stream.read(length)

    return read


def _top_boxes(read: Reader, head: bytes, size: int) -> list[tuple[bytes, int, int]] | None:
    """(type, offset, size) of every top-level box; None when the file is not a whole chain of them."""
    boxes: list[tuple[bytes, int, int]] = []
    at = 0
    while at < size:
        if len(boxes) >= _MAX_TOP_BOXES or size - at < 8:
            return None
        header = head[at : at + 16] if at + 16 <= len(head) else read(at, min(16, size - at))
        box_size, kind = struct.unpack_from(">I4s", header)
        if box_size == 1 and len(header) >= 16:
            (box_size,) = struct.unpack_from(">Q", header, 8)
        elif box_size == 0:
            box_size = size - at
        if box_size < 8 or at + box_size > size:
            return None
        boxes.append((kind, at, box_size))
        at += box_size
    return boxes


def _body(box: bytes) -> bytes:
    box_size, _ = struct.unpack_from(">I4s", box)
    return box[16:] if box_size == 1 else box[8:]


def _children(body: bytes) -> dict[bytes, list[bytes]]:
    found: dict[bytes, list[bytes]] = {}
    at = 0
    while at + 8 <= len(body):
        box_size, kind = struct.unpack_from(">I4s", body, at)
        header = 8
        if box_size == 1:
            (box_size,) = struct.unpack_from(">Q", body, at + 8)
            header = 16
        elif box_size == 0:
            box_size = len(body) - at
        if box_size < header or at + box_size > len(body):
            raise ValueError("malformed box")
        found.setdefault(kind, []).append(body[at + header : at + box_size])
        at += box_size
    return found


def _one(boxes: dict[bytes, list[bytes]], kind: bytes) -> bytes:
    found = boxes.get(kind)
    if not found:
        raise ValueError(f"no {kind!r} box")
    return found[0]


def _tracks(moov: bytes) -> tuple[Track, ...] | None:
    children = _children(moov)
    movie_timescale = struct.unpack_from(
        ">I", _one(children, b"mvhd"), 20 if _one(children, b"mvhd")[0] else 12
    )[0]
    tracks = []
    for trak in children.get(b"trak", []):
        track = _track(_children(trak), movie_timescale)
        if track is None:
            return None
        tracks.append(track)
    return tuple(tracks) if tracks else None


def _track(trak: dict[bytes, list[bytes]], movie_timescale: int) -> Track | None:
    mdia = _children(_one(trak, b"mdia"))
    mdhd = _one(mdia, b"mdhd")
    timescale = struct.unpack_from(">I", mdhd, 20 if mdhd[0] else 12)[0]
    handler = _one(mdia, b"hdlr")[8:12].decode("latin-1")
    stbl = _children(_one(_children(_one(mdia, b"minf")), b"stbl"))
    shift = _edit_shift(trak, movie_timescale, timescale)
    if shift is None or not timescale:
        return None
    sizes = _sizes(stbl)
    offsets = _offsets(stbl, sizes)
    dts = _decode_times(_one(stbl, b"stts"), len(sizes))
    pts = _composition(stbl.get(b"ctts", [b""])[0], dts)
    times = tuple(t / timescale + shift for t in pts)
    sync = _sync(stbl.get(b"stss", [None])[0], len(sizes))
    return Track(kind=handler, offsets=tuple(offsets), sizes=tuple(sizes), times=times, sync=sync)


def _edit_shift(trak: dict[bytes, list[bytes]], movie_timescale: int, timescale: int) -> float | None:
    """Seconds to add to a packet's media time to place it on the movie's timeline; None for an edit
    list of more than one played segment (the packets' order on screen would differ from the file's)."""
    edts = trak.get(b"edts")
    if not edts:
        return 0.0
    elst = _children(edts[0]).get(b"elst")
    if not elst:
        return 0.0
    body = elst[0]
    version, count = body[0], struct.unpack_from(">I", body, 4)[0]
    empty = 0.0
    played: list[int] = []
    at = 8
    for _ in range(count):
        if version == 1:
            duration, media_time = struct.unpack_from(">Qq", body, at)
            at += 20
        else:
            duration, media_time = struct.unpack_from(">Ii", body, at)
            at += 12
        if media_time == -1:
            empty += duration / movie_timescale
        else:
            played.append(media_time)
    if len(played) > 1:
        return None
    return empty - (played[0] / timescale if played else 0.0)


def _sizes(stbl: dict[bytes, list[bytes]]) -> list[int]:
    stsz = _one(stbl, b"stsz")
    constant, count = struct.unpack_from(">II", stsz, 4)
    if constant:
        return [constant] * count
    return list(struct.unpack_from(f">{count}I", stsz, 12))


def _offsets(stbl: dict[bytes, list[bytes]], sizes: Sequence[int]) -> list[int]:
    if b"stco" in stbl:
        body = stbl[b"stco"][0]
        count = struct.unpack_from(">I", body, 4)[0]
        chunk_offsets = struct.unpack_from(f">{count}I", body, 8)
    else:
        body = _one(stbl, b"co64")
        count = struct.unpack_from(">I", body, 4)[0]
        chunk_offsets = struct.unpack_from(f">{count}Q", body, 8)
    stsc = _one(stbl, b"stsc")
    entries = struct.unpack_from(">I", stsc, 4)[0]
    runs = [struct.unpack_from(">III", stsc, 8 + 12 * i)[:2] for i in range(entries)]
    offsets: list[int] = []
    sample = 0
    for number, (first_chunk, per_chunk) in enumerate(runs):
        last_chunk = runs[number + 1][0] if number + 1 < len(runs) else len(chunk_offsets) + 1
        for chunk in range(first_chunk, last_chunk):
            at = chunk_offsets[chunk - 1]
            for _ in range(per_chunk):
                if sample >= len(sizes):
                    break
                offsets.append(at)
                at += sizes[sample]
                sample += 1
    if len(offsets) != len(sizes):
        raise ValueError("the chunk table does not place every sample")
    return offsets


def _decode_times(stts: bytes, count: int) -> list[int]:
    entries = struct.unpack_from(">I", stts, 4)[0]
    times: list[int] = []
    now = 0
    for i in range(entries):
        run, delta = struct.unpack_from(">II", stts, 8 + 8 * i)
        for _ in range(run):
            times.append(now)
            now += delta
    if len(times) < count:
        raise ValueError("the time table does not time every sample")
    return times[:count]


def _composition(ctts: bytes, dts: list[int]) -> list[int]:
    if not ctts:
        return dts
    version = ctts[0]
    entries = struct.unpack_from(">I", ctts, 4)[0]
    pts: list[int] = []
    fmt = ">Ii" if version == 1 else ">II"
    for i in range(entries):
        run, offset = struct.unpack_from(fmt, ctts, 8 + 8 * i)
        if offset >= 2**31:  # version 0 written signed by some muxers
            offset -= 2**32
        for _ in range(run):
            if len(pts) < len(dts):
                pts.append(dts[len(pts)] + offset)
    pts.extend(dts[len(pts) :])
    return pts


def _sync(stss: bytes | None, count: int) -> tuple[int, ...]:
    if stss is None:
        return tuple(range(count))
    entries = struct.unpack_from(">I", stss, 4)[0]
    return tuple(n - 1 for n in struct.unpack_from(f">{entries}I", stss, 8) if 0 < n <= count)


# ---------------------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class SourceSpan:
    """A stretch of one input file a render reads: [start, end] seconds (None: the whole file), and
    which of its tracks."""

    path: Path
    start: float | None
    end: float | None
    kinds: frozenset[str]


def plan_spans(plan: RenderPlan, *, video: bool = True, audio: bool = True) -> list[SourceSpan]:
    """What each input of `plan` reads, for the streams rendered (`video`, `audio` as ``compile_plan``).

    A looping input, or one read to its end (a still), reads the whole file.
    """
    uses: dict[int, set[str]] = {}
    if video:
        for segment in plan.base:
            sides = (
                (segment,)
                if segment.transition is None
                else (segment.transition.outgoing, segment.transition.incoming)
            )
            for side in sides:
                if side.input_index is not None:
                    uses.setdefault(side.input_index, set()).add(TrackKind.VIDEO)
        for overlay in plan.overlays:
            if overlay.input_index is not None:
                uses.setdefault(overlay.input_index, set()).add(TrackKind.VIDEO)
    if audio:
        for track in plan.audios:
            uses.setdefault(track.input_index, set()).add(TrackKind.AUDIO)
    spans = []
    for index, kinds in sorted(uses.items()):
        spec = plan.inputs[index]
        whole = spec.loop or spec.duration is None
        spans.append(
            SourceSpan(
                path=spec.path,
                start=None if whole else spec.seek,
                end=None if whole or spec.duration is None else spec.seek + spec.duration,
                kinds=frozenset(kinds),
            )
        )
    return spans


def span_ranges(index: MovieIndex, spans: Iterable[SourceSpan]) -> list[ByteRange] | None:
    """The merged ranges of `index`'s file that `spans` (all of one file) read; None: the whole file."""
    found: list[ByteRange] = []
    for span in spans:
        if span.start is None or span.end is None:
            return None
        found.extend(index.ranges(span.start, span.end, span.kinds))
    return merge(found)


def needed_bytes(index: MovieIndex, spans: Iterable[SourceSpan]) -> int:
    """The bytes of the packets the spans show (the least any reader must fetch)."""
    return sum(
        index.bytes_shown(s.start, s.end, s.kinds)
        if s.start is not None and s.end is not None
        else index.size
        for s in spans
    )


def write_sparse(target: Path, size: int, pieces: Iterable[tuple[int, bytes]]) -> int:
    """Writes `pieces` (offset, bytes) into `target`, a sparse file of `size` bytes (created when
    missing); returns the bytes written. The holes read as zeros and take no disk."""
    written = 0
    with target.open("r+b" if target.exists() else "w+b") as stream:
        if stream.seek(0, 2) != size:
            stream.truncate(size)
        for offset, data in pieces:
            stream.seek(offset)
            stream.write(data)
            written += len(data)
    return written


def copy_ranges(source: Path, target: Path, ranges: Iterable[ByteRange]) -> int:
    """Copies `ranges` of the local file `source` into the sparse `target` (tests and benchmarks: the
    same file the worker builds from object storage); returns the bytes copied."""
    read = file_reader(source)
    return write_sparse(
        target, source.stat().st_size, ((start, read(start, end - start)) for start, end in ranges)
    )


def contains(ranges: Sequence[ByteRange], offset: int, size: int) -> bool:
    """True when [offset, offset + size) lies inside one of the sorted, merged `ranges`."""
    at = bisect.bisect_right([start for start, _ in ranges], offset) - 1
    return at >= 0 and offset + size <= ranges[at][1]
