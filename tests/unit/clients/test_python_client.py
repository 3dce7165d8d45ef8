"""``video_export.ExportClient`` against the real API handler over HTTP; its uploads against flaky servers."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests

from export_common.jobs import JobError
from export_common.table import JobRepository
from tests.unit.api.api_stack import SECRET, Stack
from tests.unit.clients.api_server import ApiServer, finish_job, serving
from video_export import ApiError, ExportClient, job_failure
from video_export.progress import ProgressBar
from video_export.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

TIMELINE = {
    "editorData": [{"actions": [{"start": 0, "end": 1, "effectId": "video", "data": {"src": "clip.mp4"}}]}]
}


def test_presign_upload_export_wait_download(stack: Stack, api: ApiServer, tmp_path: Path) -> None:
    client = ExportClient(api.url, SECRET, backoff=0.01)
    assert client.health()["status"] == "ok"
    files = {}
    for name, data in (("clip.mp4", b"not really a video"), ("song.mp3", b"not really music")):
        files[name] = tmp_path / name
        files[name].write_bytes(data)

    uploads = client.presign([{"src": "clip.mp4", "contentType": "video/mp4", "ext": ".mp4"}])
    sent = api.api_calls()[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/export/presign")
    assert sent.headers[SIGNATURE_HEADER] == sign(
        SECRET, sent.headers[TIMESTAMP_HEADER], "POST", "/export/presign", sent.body
    )
    assert client.upload(uploads, files) == [{"src": "clip.mp4", "s3Key": uploads[0]["s3Key"]}]
    assets = client.upload_files(files)
    assert [a["src"] for a in assets] == ["clip.mp4", "song.mp3"]
    for asset in assets:
        stored = stack.s3.get_object(Bucket="assets-bucket", Key=asset["s3Key"])
        assert stored["Body"].read() == files[asset["src"]].read_bytes()
    assert [a["s3Key"].rsplit(".", 1)[-1] for a in assets] == ["mp4", "mp3"]

    request = {"timeline": TIMELINE, "assets": assets[:1]}
    job = client.export(request, idempotency_key="same")
    assert client.export(request, idempotency_key="same")["jobId"] == job["jobId"]
    assert client.get_status(job["jobId"])["status"] == "QUEUED"

    finish_job(stack, job["jobId"])
    seen: list[str] = []
    final = client.wait(job["jobId"], interval=0.01, on_status=lambda s: seen.append(s["status"]))
    assert final["status"] == "SUCCEEDED" and seen == ["SUCCEEDED"]
    assert client.download(final, tmp_path / "out" / "a.mp4").read_bytes() == b"rendered"
    assert client.download(job["jobId"], tmp_path / "b.mp4").read_bytes() == b"rendered"
    assert sorted(p.name for p in tmp_path.rglob("*.part")) == []

    with pytest.raises(ApiError) as error:
        client.get_status("nope")
    assert error.value.status == 404 and error.value.code == "NOT_FOUND"


def test_wait_returns_a_failed_job_with_its_reason(stack: Stack, api: ApiServer, tmp_path: Path) -> None:
    client = ExportClient(api.url, SECRET)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    job = client.export({"timeline": TIMELINE, "assets": client.upload_files({"clip.mp4": clip})})
    assert JobRepository(stack.table).mark_failed(job["jobId"], JobError(code="INVALID_MEDIA", message="bad"))
    final = client.wait(job["jobId"], interval=0.01)
    assert final["status"] == "FAILED"
    assert job_failure(final) == "INVALID_MEDIA: bad"


def test_export_files_does_the_whole_flow(stack: Stack, api: ApiServer, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"clip bytes")
    client = ExportClient(api.url, SECRET)
    result: dict[str, Any] = {}
    request = {"timeline": TIMELINE, "assets": [{"src": "clip.mp4", "s3Key": "assets/stale.mp4"}]}
    runner = threading.Thread(
        target=lambda: result.update(
            client.export_files(request, {"clip.mp4": clip}, tmp_path / "out.mp4", interval=0.02)
        )
    )
    runner.start()
    deadline = time.monotonic() + 30
    while not any(s.method == "GET" for s in api.api_calls()):
        assert time.monotonic() < deadline and runner.is_alive(), "no poll"
        time.sleep(0.01)
    job_id = next(s for s in api.api_calls() if s.method == "GET").path.rsplit("/", 1)[-1]
    stored = JobRepository(stack.table).get(job_id)
    assert stored is not None
    # the uploaded file's issued key replaced the request's stale one
    [asset] = stored.request_body()["assets"]
    assert asset["src"] == "clip.mp4" and asset["s3Key"] != "assets/stale.mp4"
    finish_job(stack, job_id, b"the render")
    runner.join(30)
    assert result["status"] == "SUCCEEDED" and result["jobId"] == job_id
    assert (tmp_path / "out.mp4").read_bytes() == b"the render"


# ------------------------------------------------------------------------------------------ uploads


@dataclass
class UploadServer:
    """A stand-in for S3's presigned PUT on 127.0.0.1: ``plan(path, attempt)`` decides each answer."""

    url: str
    attempts: dict[str, int] = field(default_factory=dict)
    stored: dict[str, bytes] = field(default_factory=dict)
    content_types: dict[str, str] = field(default_factory=dict)
    active: int = 0
    max_active: int = 0


@contextmanager
def upload_server(plan: Callable[[str, int], int | None], delay: float = 0.0) -> Iterator[UploadServer]:
    """``plan`` returns the status to answer, or None to drop the connection without an answer."""
    lock = threading.Lock()
    state = UploadServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                attempt = state.attempts[self.path] = state.attempts.get(self.path, 0) + 1
                state.active += 1
                state.max_active = max(state.max_active, state.active)
            time.sleep(delay)
            with lock:
                state.active -= 1
            status = plan(self.path, attempt)
            if status is None:
                self.close_connection = True
                return
            if status == 200:
                state.stored[self.path] = body
                state.content_types[self.path] = self.headers.get("Content-Type", "")
            payload = b"" if status == 200 else b"<Error>SlowDown</Error>"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:
            pass

    with serving(Handler) as url:
        state.url = url
        yield state


def _uploads(
    server: UploadServer, tmp_path: Path, count: int, size: int = 50_000
) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    uploads: list[dict[str, Any]] = []
    files: dict[str, Path] = {}
    for i in range(count):
        files[f"f{i}.mp4"] = tmp_path / f"f{i}.mp4"
        files[f"f{i}.mp4"].write_bytes(bytes([i]) * size)
        uploads.append(
            {
                "src": f"f{i}.mp4",
                "s3Key": f"assets/{i}.mp4",
                "uploadUrl": f"{server.url}/assets/{i}.mp4?X-Amz-Signature=abc",
                "headers": {"Content-Type": "video/mp4"},
            }
        )
    return uploads, files


def test_upload_retries_a_dropped_connection_and_5xx_then_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # dropped connection, then 503, then accepted
    with upload_server(lambda _, attempt: {1: None, 2: 503}.get(attempt, 200)) as server:
        uploads, files = _uploads(server, tmp_path, 1)
        client = ExportClient("http://api.invalid/v1", SECRET, backoff=0.01)
        assert client.upload(uploads, files, progress=True) == [{"src": "f0.mp4", "s3Key": "assets/0.mp4"}]
    assert server.attempts == {"/assets/0.mp4?X-Amz-Signature=abc": 3}
    assert server.stored["/assets/0.mp4?X-Amz-Signature=abc"] == files["f0.mp4"].read_bytes()
    assert server.content_types["/assets/0.mp4?X-Amz-Signature=abc"] == "video/mp4"
    # the bar counted the bytes of the failed attempts out again: it ends at exactly the file's size
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1].startswith("upload [") and lines[-1].endswith("100% 50.0 kB/50.0 kB"), lines
    assert all("%" in line for line in lines)


def test_upload_gives_up_after_the_retries_and_never_retries_a_4xx(tmp_path: Path) -> None:
    with upload_server(lambda _, __: 503) as server:
        uploads, files = _uploads(server, tmp_path, 1)
        with pytest.raises(ApiError) as caught:
            ExportClient("http://api.invalid/v1", SECRET, retries=2, backoff=0.01).upload(uploads, files)
    assert (caught.value.status, caught.value.code) == (503, "UPLOAD_FAILED")
    assert "SlowDown" in caught.value.message
    assert list(server.attempts.values()) == [3]

    with upload_server(lambda _, __: 403) as server:
        uploads, files = _uploads(server, tmp_path, 1)
        with pytest.raises(ApiError) as caught:
            ExportClient("http://api.invalid/v1", SECRET, backoff=0.01).upload(uploads, files)
    assert caught.value.status == 403 and list(server.attempts.values()) == [1]

    with upload_server(lambda _, __: None) as server:
        uploads, files = _uploads(server, tmp_path, 1)
        with pytest.raises(requests.ConnectionError):
            ExportClient("http://api.invalid/v1", SECRET, retries=1, backoff=0.01).upload(uploads, files)
    assert list(server.attempts.values()) == [2]


def test_uploads_run_in_parallel_up_to_the_cap(tmp_path: Path) -> None:
    with upload_server(lambda _, __: 200, delay=0.2) as server:
        uploads, files = _uploads(server, tmp_path, 6, size=1000)
        client = ExportClient("http://api.invalid/v1", SECRET, max_parallel_uploads=3)
        started = time.monotonic()
        assets = client.upload(uploads, files)
        elapsed = time.monotonic() - started
    assert [a["src"] for a in assets] == [f"f{i}.mp4" for i in range(6)]
    assert len(server.stored) == 6 and server.max_active == 3
    assert elapsed < 6 * 0.2  # not one after the other


# ------------------------------------------------------------------------------------------ progress bar


def test_progress_bar_lines_off_a_terminal() -> None:
    out = io.StringIO()
    with ProgressBar("export 1234abcd", 1.0, stream=out) as bar:
        for done, status in (
            (0, "QUEUED"),
            (0, "RUNNING"),
            (0.05, "RUNNING"),
            (0.5, "RUNNING"),
            (1, "SUCCEEDED"),
        ):
            bar.update(done, status)
    lines = out.getvalue().splitlines()
    assert lines == [
        "export 1234abcd [..............................]   0% QUEUED",
        "export 1234abcd [..............................]   0% RUNNING",
        "export 1234abcd [###############...............]  50% RUNNING",
        "export 1234abcd [##############################] 100% SUCCEEDED",
    ]


def test_progress_bar_redraws_in_place_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    bar = ProgressBar("upload", 2_000_000, unit="bytes", stream=out, interval=0)
    bar.advance(1_000_000)
    bar.close()
    assert out.getvalue() == (
        "\r\x1b[2Kupload [###############...............]  50% 1.0 MB/2.0 MB"
        "\r\x1b[2Kupload [###############...............]  50% 1.0 MB/2.0 MB\n"
    )
    silent = io.StringIO()
    ProgressBar("upload", 10, stream=silent, enabled=False).close()
    assert silent.getvalue() == ""
