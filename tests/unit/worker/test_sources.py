"""A task's sources read by range from S3 (moto), on a real mp4: only its spans' bytes are fetched,
the rest of the file stays a hole, anything unreadable by range is downloaded whole, and a task that
would not fit its storage fails before it fetches any media."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from export_worker.sources import TaskSources
from export_worker.storage import AssetRef
from render import ranges
from render.errors import StorageExceededError
from render.ranges import SourceSpan, TrackKind
from tests.markers import requires_ffmpeg

from .conftest import ASSETS_BUCKET, Bench

pytestmark = requires_ffmpeg
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def long_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("sources") / "long.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=60",
         "-f", "lavfi", "-i", "sine=d=60", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50",
         "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def _open(
    bench: Bench, tmp_path: Path, data: bytes, ext: str = ".mp4", **options: int
) -> tuple[TaskSources, Path]:
    key = bench.upload(data, ext)
    sources = TaskSources(bench.s3, ASSETS_BUCKET, tmp_path / "in", max_bytes=10**9, whole_below=0, **options)
    sources.open([AssetRef(f"clip{ext}", key)])
    return sources, (tmp_path / "in" / key)


def test_only_the_spans_are_read(bench: Bench, tmp_path: Path, long_mp4: bytes) -> None:
    sources, path = _open(bench, tmp_path, long_mp4)
    head_bytes = sources.reads.bytes_read
    assert path.stat().st_size == len(long_mp4)
    assert head_bytes < len(long_mp4) / 10  # the index and the first packets
    sources.read_spans([SourceSpan(path, 30.0, 36.0, frozenset({TrackKind.VIDEO}))])
    assert sources.reads.ranged == [path.relative_to(tmp_path / "in").as_posix()]
    assert sources.reads.bytes_read - head_bytes < len(long_mp4) * 0.2
    assert sources.reads.bytes_needed > 0
    index = ranges.read_index(ranges.file_reader(path), len(long_mp4))
    assert index is not None
    data = path.read_bytes()
    for start, end in index.ranges(30.0, 36.0, [TrackKind.VIDEO]):
        assert data[start:end] == long_mp4[start:end]
    assert path.stat().st_blocks * 512 < len(long_mp4) / 2  # sparse: the holes take no disk


def test_a_looping_span_reads_the_whole_file(bench: Bench, tmp_path: Path, long_mp4: bytes) -> None:
    sources, path = _open(bench, tmp_path, long_mp4)
    sources.read_spans([SourceSpan(path, None, None, frozenset({TrackKind.AUDIO}))])
    assert path.read_bytes() == long_mp4
    assert list(sources.reads.whole.values()) == ["loops or is read to its end"]


def test_a_file_without_an_index_is_read_whole(bench: Bench, tmp_path: Path) -> None:
    sources, path = _open(bench, tmp_path, b"RIFF" + bytes(5000), ext=".wav")
    assert path.read_bytes() == b"RIFF" + bytes(5000)
    assert list(sources.reads.whole.values()) == ["no mp4 index"]


def test_a_task_too_large_for_its_storage_fails_before_fetching(
    bench: Bench, tmp_path: Path, long_mp4: bytes
) -> None:
    # the output alone (an hour at the budgeted rate) is more than 1 GiB of storage
    sources, path = _open(bench, tmp_path, long_mp4, disk_bytes=1024 * MIB)
    before = sources.reads.bytes_read
    big = TaskSources(bench.s3, ASSETS_BUCKET, tmp_path / "big", max_bytes=10**9, disk_bytes=1024 * MIB,
                      output_seconds=3600, whole_below=0)  # fmt: skip
    with pytest.raises(StorageExceededError) as caught:
        big.open([AssetRef("clip.mp4", path.relative_to(tmp_path / "in").as_posix())])
    assert caught.value.code == "STORAGE_EXCEEDED" and "storage" in caught.value.message
    assert big.reads.bytes_read < 256 * 1024  # only the index was looked at
    assert not any((tmp_path / "big").rglob("*.mp4"))
    assert sources.reads.bytes_read == before
