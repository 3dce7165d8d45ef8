#!/usr/bin/env python3
"""Two ways for a chunk task to read 30 s of a long source in S3, measured on the local stack.

* **ffmpeg over HTTP**: ffmpeg opens a presigned GET and seeks with HTTP range requests
  (``-ss`` before ``-i``); ffprobe reads the same URL first, as the render's probe does.
* **own ranges** (what the worker does, ``export_worker.sources``): the index and first packets by
  ranged GETs into a sparse file, then exactly the ranges of the span (``render.ranges``); ffprobe
  and ffmpeg read the local file.

Both go through a byte-counting TCP relay in front of LocalStack, so the bytes are those S3 sent,
whatever each client buffered. The timed work is the probe, the reads and a decode of the window's
video (``-f null``), the part of a chunk task that differs between the two.

    LOCALSTACK_PORT=4566 .venv/bin/python benchmarks/ranged_reads.py [--source FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions" / "worker"), str(ROOT / "functions" / "shared")]

from export_worker.sources import TaskSources  # noqa: E402
from export_worker.storage import AssetRef  # noqa: E402
from render.ranges import SourceSpan, TrackKind  # noqa: E402

BUCKET = "bench-ranged-reads"
KEY = "assets/long.mp4"
WINDOW_SECONDS = 30.0


class CountingRelay:
    """A TCP relay on a free local port that counts the bytes the upstream sends back."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.received = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self._server.accept()
            upstream = socket.create_connection(self.upstream)
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, count: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                if count:
                    with self._lock:
                        self.received += len(data)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def take(self) -> int:
        time.sleep(0.2)  # let the relay threads drain
        with self._lock:
            received, self.received = self.received, 0
        return received


@dataclass(frozen=True)
class Measure:
    seconds: float
    bytes_read: int
    requests: int | None = None


def _decode(target: str, start: float, *extra: str) -> None:
    subprocess.run(
        ["ffprobe", "-v", "error", *extra, "-show_format", "-show_streams", "-of", "json", target],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-v", "error", *extra, "-ss", f"{start}", "-t", f"{WINDOW_SECONDS}", "-i", target,
         "-map", "0:v:0", "-f", "null", "-"],
        check=True,
    )  # fmt: skip


def over_http(s3_relay: S3Client, relay: CountingRelay, start: float) -> Measure:
    params = {"Bucket": BUCKET, "Key": KEY}
    url = s3_relay.generate_presigned_url("get_object", Params=params, ExpiresIn=300)
    relay.take()
    began = time.monotonic()
    _decode(url, start, "-protocol_whitelist", "http,tcp")
    return Measure(time.monotonic() - began, relay.take())


def own_ranges(s3_relay: S3Client, relay: CountingRelay, start: float, size: int) -> Measure:
    relay.take()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ranged-") as tmp:
        sources = TaskSources(s3_relay, BUCKET, Path(tmp), max_bytes=size, whole_below=0)
        sources.open([AssetRef("long.mp4", KEY)])
        path = Path(tmp) / KEY
        sources.read_spans([SourceSpan(path, start, start + WINDOW_SECONDS, frozenset({TrackKind.VIDEO}))])
        _decode(str(path), start, "-protocol_whitelist", "file")
        requests = sources.reads.requests
    return Measure(time.monotonic() - began, relay.take(), requests)


def _local_s3(port: int) -> S3Client:
    """A client of the local stack's S3 (LocalStack takes any credentials)."""
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - LocalStack's documented dummy
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, required=True, help="a long mp4 (bench_fanout.py makes one)")
    args = parser.parse_args()
    port = int(os.environ.get("LOCALSTACK_PORT", "4566"))
    relay = CountingRelay(port)
    s3, s3_relay = _local_s3(port), _local_s3(relay.port)
    s3.create_bucket(Bucket=BUCKET)
    size = args.source.stat().st_size
    s3.upload_file(str(args.source), BUCKET, KEY)
    duration = float(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
             str(args.source)],
            check=True, capture_output=True, text=True,
        ).stdout
    )  # fmt: skip
    print(f"source: {size / 1e6:.0f} MB, {duration / 60:.1f} min; window {WINDOW_SECONDS:g} s of video")
    try:
        for start in (60.0, duration / 2, duration - WINDOW_SECONDS - 5):
            http = over_http(s3_relay, relay, start)
            own = own_ranges(s3_relay, relay, start, size)
            print(
                f"  at {start:7.1f} s: ffmpeg over HTTP {http.seconds:5.2f} s, "
                f"{http.bytes_read / 1e6:7.1f} MB | "
                f"own ranges {own.seconds:5.2f} s, {own.bytes_read / 1e6:7.1f} MB in {own.requests} GETs"
            )
    finally:
        s3.delete_object(Bucket=BUCKET, Key=KEY)
        s3.delete_bucket(Bucket=BUCKET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
