"""A task's sources, read by range: each mp4's index first, then only the stretches its render reads.

A chunk of a 10-minute cut from a one-hour recording needs a few seconds of that recording, not all of
it. Before probing, each mp4 asset becomes a sparse file of its own size holding its index (``moov``,
found with a few ranged GETs) and its first packets; once the render is planned, ``read_spans`` fetches
the byte ranges of the spans it reads (``render.ranges``) into that file, and ffmpeg reads the file as
if it were whole. Anything else (another format, a fragmented mp4, a small file, a looping or still
input) is downloaded whole, and the log says which and why.

The disk budget is checked before any media is fetched: a task whose reads and output would not fit
its Lambda's ephemeral storage fails with ``STORAGE_EXCEEDED`` instead of filling the disk mid-render.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from export_common.limits import MIB
from export_worker.storage import (
    AssetRef,
    human_size,
    local_path,
    missing_means_failed,
    stream_one,
    too_large,
)
from render import ranges
from render.errors import StorageExceededError
from render.ranges import ByteRange, MovieIndex, SourceSpan

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from export_worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

# Smaller files are downloaded whole: one request costs less than reading an index first.
WHOLE_BELOW_BYTES = 4 * MIB
# Room kept beside the sources for ffmpeg's scratch files and the process itself.
DISK_HEADROOM_BYTES = 256 * MIB
# Ranges are fetched this many at a time, in parts of at most this size: one GET streams at about
# 85-90 MB/s, and many small ranges (the audio track's packets between the video's) wait on latency.
FETCH_CONCURRENCY = 8
PART_BYTES = 8 * MIB
# What a task's output may take per second: the encoder's settings stay well below this rate.
OUTPUT_BYTES_PER_SECOND = 10 * 1_000_000 // 8


@dataclass
class Reads:
    """What a task read from object storage: the task's own counter, logged and stored on its record."""

    bytes_read: int = 0
    bytes_needed: int = 0  # the packets its spans show (whole files: their size)
    requests: int = 0
    whole: dict[str, str] = field(default_factory=dict)  # s3Key -> why it was read whole
    ranged: list[str] = field(default_factory=list)


@dataclass
class _Source:
    ref: AssetRef
    path: Path
    size: int
    index: MovieIndex | None = None  # None: downloaded whole
    have: list[ByteRange] = field(default_factory=list)


class TaskSources:
    """The assets of one task in ``assets_dir``; call ``open`` before the render and pass ``read_spans``
    to it (``RenderRun.read_spans``)."""

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        assets_dir: Path,
        *,
        max_bytes: int,
        disk_bytes: int | None = None,
        output_seconds: float = 0.0,
        whole_below: int = WHOLE_BELOW_BYTES,
    ) -> None:
        self._s3, self._bucket, self._dir = s3, bucket, assets_dir
        self._max_bytes, self._disk_bytes, self._whole_below = max_bytes, disk_bytes, whole_below
        self._output_bytes = int(output_seconds * OUTPUT_BYTES_PER_SECOND)
        self._sources: dict[Path, _Source] = {}
        self.reads = Reads()
        self._counting = threading.Lock()  # ranges are fetched from several threads

    # ---------------------------------------------------------------------------- before probing
    def open(self, refs: Iterable[AssetRef]) -> None:
        """Sizes every asset, reads each mp4's index (and first packets), downloads the rest whole."""
        self._dir.mkdir(parents=True, exist_ok=True)
        for ref in refs:
            with missing_means_failed(ref):
                head = self._s3.head_object(Bucket=self._bucket, Key=ref.s3_key)
            size = int(head["ContentLength"])
            if size > self._max_bytes:
                raise too_large(ref, self._max_bytes)
            path = local_path(self._dir, ref.s3_key)
            self._sources[path.resolve()] = _Source(ref, path, size)
        for source in self._sources.values():
            if source.size >= self._whole_below:
                source.index = ranges.read_index(self._reader(source.ref), source.size)
        whole = [s for s in self._sources.values() if s.index is None]
        heads = {id(s): s.index.head_ranges() for s in self._sources.values() if s.index is not None}
        self._check_disk(sum(s.size for s in whole) + sum(ranges.total(r) for r in heads.values()))
        for source in self._sources.values():
            source.path.parent.mkdir(parents=True, exist_ok=True)
            if source.index is None:
                reason = "small" if source.size < self._whole_below else "no mp4 index"
                self._download_whole(source, reason)
            else:
                self._fetch(source, heads[id(source)])

    # ---------------------------------------------------------------------------- once planned
    def read_spans(self, spans: Sequence[SourceSpan]) -> None:
        """Fetches what the planned render reads: the ranges of each ranged source's spans."""
        by_source: dict[Path, list[SourceSpan]] = {}
        for span in spans:
            by_source.setdefault(span.path.resolve(), []).append(span)
        todo: list[tuple[_Source, list[ByteRange] | None]] = []
        for path, its_spans in by_source.items():
            source = self._sources.get(path)
            if source is None or source.index is None:
                if source is not None:
                    self.reads.bytes_needed += source.size
                continue
            wanted = ranges.span_ranges(source.index, its_spans)
            self.reads.bytes_needed += ranges.needed_bytes(source.index, its_spans)
            todo.append((source, None if wanted is None else _missing(wanted, source.have)))
        self._check_disk(sum(source.size if new is None else ranges.total(new) for source, new in todo))
        for source, new in todo:
            if new is None:
                self._download_whole(source, "loops or is read to its end")
            else:
                self._fetch(source, new)
                self.reads.ranged.append(source.ref.s3_key)
        logger.info(
            "sources read",
            extra={
                "bytes_read": self.reads.bytes_read,
                "bytes_needed": self.reads.bytes_needed,
                "requests": self.reads.requests,
                "ranged": self.reads.ranged,
                "whole": self.reads.whole,
            },
        )

    # ---------------------------------------------------------------------------- helpers
    def _check_disk(self, incoming: int) -> None:
        """STORAGE_EXCEEDED when `incoming` more bytes, the output and the headroom would not fit."""
        needed = incoming + self._output_bytes + DISK_HEADROOM_BYTES
        free = shutil.disk_usage(self._dir).free
        if self._disk_bytes is not None:
            used = sum(_allocated(s.path) for s in self._sources.values())
            free = min(free, self._disk_bytes - used)
        if needed > free:
            raise StorageExceededError(
                f"this task needs about {human_size(needed)} of the worker's storage, which has "
                f"{human_size(max(free, 0))} left",
                stderr_tail=f"needed={needed} free={free} incoming={incoming} output={self._output_bytes}",
            )

    def _reader(self, ref: AssetRef) -> ranges.Reader:
        def read(offset: int, length: int) -> bytes:
            with missing_means_failed(ref):
                response = self._s3.get_object(
                    Bucket=self._bucket, Key=ref.s3_key, Range=f"bytes={offset}-{offset + length - 1}"
                )
            data = response["Body"].read()
            with self._counting:
                self.reads.bytes_read += len(data)
                self.reads.requests += 1
            return data

        return read

    def _fetch(self, source: _Source, wanted: Sequence[ByteRange]) -> None:
        read = self._reader(source.ref)
        parts = [
            (at, min(at + PART_BYTES, end)) for start, end in wanted for at in range(start, end, PART_BYTES)
        ]
        with ThreadPoolExecutor(max_workers=FETCH_CONCURRENCY) as pool:
            pieces: Iterator[tuple[int, bytes]] = pool.map(
                lambda part: (part[0], read(part[0], part[1] - part[0])), parts
            )
            ranges.write_sparse(source.path, source.size, pieces)  # written in order as they arrive
        source.have = ranges.merge([*source.have, *wanted], gap=0)

    def _download_whole(self, source: _Source, reason: str) -> None:
        logger.info("source read whole", extra={"key": source.ref.s3_key, "reason": reason})
        source.path.unlink(missing_ok=True)
        written = stream_one(self._s3, self._bucket, source.ref, source.path, max_bytes=self._max_bytes)
        self.reads.bytes_read += written
        self.reads.requests += 1
        self.reads.whole[source.ref.s3_key] = reason
        source.index = None
        source.have = [(0, source.size)]


def _missing(wanted: Iterable[ByteRange], have: Sequence[ByteRange]) -> list[ByteRange]:
    """The parts of `wanted` not already in `have` (both sorted, `have` merged)."""
    missing: list[ByteRange] = []
    for start, end in wanted:
        at = start
        for have_start, have_end in have:
            if have_end <= at or have_start >= end:
                continue
            if have_start > at:
                missing.append((at, have_start))
            at = max(at, have_end)
        if at < end:
            missing.append((at, end))
    return missing


def _allocated(path: Path) -> int:
    """The disk a (sparse) file takes, not its length."""
    try:
        return path.stat().st_blocks * 512
    except FileNotFoundError:
        return 0


def open_sources(
    s3: S3Client,
    settings: WorkerSettings,
    refs: Iterable[AssetRef],
    assets_dir: Path,
    *,
    output_seconds: float,
) -> TaskSources:
    """The task's sources under the deployment's settings, opened (indexes read, small files downloaded)."""
    storage_mb = settings.ephemeral_storage_mb
    sources = TaskSources(
        s3,
        settings.assets_bucket_name,
        assets_dir,
        max_bytes=settings.max_upload_bytes,
        disk_bytes=None if storage_mb is None else storage_mb * MIB,
        output_seconds=output_seconds,
    )
    sources.open(refs)
    return sources
