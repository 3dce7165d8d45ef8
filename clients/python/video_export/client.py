"""``ExportClient``: signed calls to the video-export API, parallel uploads, waiting, downloading.

client = ExportClient.from_env()            # EXPORT_API_URL (with the stage), EXPORT_SIGNING_SECRET
job = client.export_files(request, {"clip.mp4": Path("clip.mp4")}, Path("out.mp4"), progress=True)
if job["status"] != "SUCCEEDED":
    print(job_failure(job))                 # "INVALID_MEDIA: clip.mp4 is not a video"
"""

from __future__ import annotations

import json
import mimetypes
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import requests

from video_export.progress import ProgressBar
from video_export.signing import signed_headers

Job = dict[str, Any]
"""A job as ``GET /export/{jobId}`` reports it: ``jobId``, ``status``, ``progress``, ``downloadUrl``, ..."""

EXT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".ogv": "video/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
}
"""Content type sent for a file extension (the API accepts more; an unknown one goes as octet-stream)."""
FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


class ExportError(Exception):
    """Base class of the errors this package raises."""


class ApiError(ExportError):
    """A non-2xx answer: ``status`` and the service's ``{"error": "<message>", "code", "details"?}``.

    ``message`` is the service's readable ``error`` (or the start of a body that is not the service's),
    ``code`` its error code (``HTTP_ERROR`` when it sent none), ``details`` its per-field problems
    ``[{path, message}]`` when it sent some, ``body`` the parsed body.
    """

    def __init__(self, status: int, body: Any):
        fields = body if isinstance(body, dict) else {}
        error, code, details = fields.get("error"), fields.get("code"), fields.get("details")
        self.status = status
        self.code: str = code if isinstance(code, str) and code else "HTTP_ERROR"
        self.message: str = error if isinstance(error, str) and error else str(body)[:500]
        self.details: list[dict[str, Any]] = details if isinstance(details, list) else []
        self.body = body
        super().__init__(f"{status} {self.code}: {self.message}")


class JobNotSucceededError(ExportError):
    """A job has no output to download: it FAILED or was CANCELLED (``job_failure`` says so) or is not
    done yet."""

    def __init__(self, job: Mapping[str, Any]):
        self.job = dict(job)
        reason = job_failure(job) or f"still {job.get('status')}"
        super().__init__(f"job {job.get('jobId')} did not succeed: {reason}")


def job_failure(job: Mapping[str, Any]) -> str | None:
    """``"INVALID_MEDIA: clip.mp4 is not a video"`` for a FAILED job, ``"CANCELLED: …"`` for a cancelled
    one, None for any other."""
    if job.get("status") == "CANCELLED":
        return "CANCELLED: the export was cancelled"
    if job.get("status") != "FAILED":
        return None
    return f"{job.get('errorCode') or 'FAILED'}: {job.get('error') or 'the export failed'}"


def describe_file(src: str, path: Path) -> dict[str, str]:
    """The presign entry of a local file: ``{"src", "contentType", "ext"}`` from its extension."""
    ext = path.suffix.lower()
    content_type = EXT_TYPES.get(ext) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return {"src": src, "contentType": content_type, "ext": ext}


class _CountingReader:
    """A file that reports every chunk read to ``on_read``; ``len()`` gives requests the Content-Length."""

    def __init__(self, stream: BinaryIO, size: int, on_read: Callable[[int], None]):
        self._stream = stream
        self._size = size
        self._on_read = on_read

    def __len__(self) -> int:
        return self._size

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._on_read(len(chunk))
        return chunk


class ExportClient:
    """Signs every request with the shared secret; the path signed is the route path (no stage).

    ``base_url`` is the API's URL with its API Gateway stage (``https://…/v1``). Connection errors and 5xx
    answers are retried ``retries`` times with exponential backoff (``backoff``, ``2 * backoff``, …): GETs
    and uploads always, ``POST /export`` too (it carries an Idempotency-Key), ``POST /export/presign`` never.
    At most ``max_parallel_uploads`` files are uploaded at once.
    """

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        transfer_timeout: float = 300.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_parallel_uploads: int = 4,
    ):
        if not base_url or not secret:
            raise ValueError("base_url and secret are required")
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.session = session or requests.Session()
        self.timeout = timeout
        self.transfer_timeout = transfer_timeout
        self.retries = retries
        self.backoff = backoff
        self.max_parallel_uploads = max(1, max_parallel_uploads)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> ExportClient:
        """A client for ``EXPORT_API_URL`` and ``EXPORT_SIGNING_SECRET``; KeyError names a missing one."""
        env = os.environ if environ is None else environ
        return cls(env["EXPORT_API_URL"], env["EXPORT_SIGNING_SECRET"], **options)

    # ----------------------------------------------------------------- HTTP
    def _pause(self, attempt: int) -> None:
        time.sleep(self.backoff * 2**attempt)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
    ) -> requests.Response:
        """One signed call to ``base_url + path``, re-signed on every attempt (a signature is accepted once).

        ``body`` is sent as compact JSON. Retries connection errors and 5xx with exponential backoff: always
        for GET, for other methods only when ``retry`` is set.
        """
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        should_retry = method.upper() == "GET" if retry is None else retry
        attempt = 0
        while True:
            all_headers = {**(headers or {}), **signed_headers(self.secret, method, path, raw)}
            if body is not None:
                all_headers["Content-Type"] = "application/json"
            try:
                response = self.session.request(
                    method, self.base_url + path, data=raw or None, headers=all_headers, timeout=self.timeout
                )
            except requests.ConnectionError:
                if not should_retry or attempt >= self.retries:
                    raise
            else:
                if response.status_code < 500 or not should_retry or attempt >= self.retries:
                    return response
            self._pause(attempt)
            attempt += 1

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if not response.ok:
            raise ApiError(response.status_code, body)
        return body

    # ----------------------------------------------------------------- API
    def health(self) -> dict[str, Any]:
        """``GET /health`` (not signed)."""
        return dict(self._json(self.session.get(self.base_url + "/health", timeout=self.timeout)))

    def presign(self, assets: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``[{"src", "contentType"?, "ext"?}]`` → one upload each (``src``, ``s3Key``, ``uploadUrl``,
        ``headers``: the headers the PUT must carry), in order."""
        body = {"assets": [dict(asset) for asset in assets]}
        return list(self._json(self.request("POST", "/export/presign", body))["uploads"])

    def upload(
        self,
        uploads: Sequence[Mapping[str, Any]],
        files: Mapping[str, Path],
        *,
        progress: bool = False,
    ) -> list[dict[str, str]]:
        """PUTs ``files[upload["src"]]`` to each presigned upload, in parallel; returns ``[{src, s3Key}]``.

        Each PUT carries exactly the headers its URL was issued for. Connection errors, timeouts and 5xx are
        retried with backoff; a 4xx (an expired or mismatched URL) raises ``ApiError`` (``UPLOAD_FAILED``) at
        once. ``progress`` draws one bar of the bytes sent on stderr.
        """
        missing = [u["src"] for u in uploads if u["src"] not in files]
        if missing:
            raise ValueError(f"no file for the uploads of {missing}")
        sizes = {u["src"]: files[u["src"]].stat().st_size for u in uploads}
        bar = ProgressBar("upload", sum(sizes.values()), unit="bytes", enabled=progress)
        with bar, ThreadPoolExecutor(max_workers=min(self.max_parallel_uploads, len(uploads) or 1)) as pool:
            list(pool.map(lambda u: self._put(u, files[u["src"]], sizes[u["src"]], bar), uploads))
        return [{"src": str(u["src"]), "s3Key": str(u["s3Key"])} for u in uploads]

    def _put(self, upload: Mapping[str, Any], path: Path, size: int, bar: ProgressBar) -> None:
        attempt = 0
        while True:
            sent = 0

            def count(n: int) -> None:
                nonlocal sent
                sent += n
                bar.advance(n)

            try:
                with path.open("rb") as stream:
                    response = self.session.put(
                        str(upload["uploadUrl"]),
                        data=_CountingReader(stream, size, count),
                        headers=dict(upload.get("headers") or {}),
                        timeout=self.transfer_timeout,
                    )
            except (requests.ConnectionError, requests.Timeout):
                if attempt >= self.retries:
                    raise
            else:
                if response.ok:
                    return
                if response.status_code < 500 or attempt >= self.retries:
                    raise ApiError(
                        response.status_code, {"error": response.text[:500], "code": "UPLOAD_FAILED"}
                    )
            bar.advance(-sent)  # this file is sent again from its start
            self._pause(attempt)
            attempt += 1

    def upload_files(self, files: Mapping[str, Path], *, progress: bool = False) -> list[dict[str, str]]:
        """Presigns and uploads ``{src: path}``; returns the ``assets`` of ``POST /export``."""
        if not files:
            return []
        uploads = self.presign([describe_file(src, path) for src, path in files.items()])
        return self.upload(uploads, files, progress=progress)

    def export(self, request: Mapping[str, Any], *, idempotency_key: str | None = None) -> Job:
        """``POST /export`` (``timeline``, ``assets``, optional ``output``): the accepted job, ``QUEUED``.

        Sent with an Idempotency-Key (a fresh one unless given), so a retried call never starts two jobs.
        """
        key = idempotency_key or str(uuid.uuid4())
        response = self.request(
            "POST", "/export", dict(request), headers={"Idempotency-Key": key}, retry=True
        )
        return dict(self._json(response))

    def get_status(self, job_id: str) -> Job:
        """``GET /export/{jobId}``."""
        return dict(self._json(self.request("GET", f"/export/{job_id}")))

    def cancel(self, job_id: str) -> Job:
        """``DELETE /export/{jobId}``: ``{"jobId", "status"}``, ``CANCELLED`` (a queued job, or one already
        cancelled) or ``CANCELLING`` (a running one stops within one heartbeat; ``wait`` sees it end).

        ``ApiError`` ``JOB_ALREADY_ENDED`` (409) when the job SUCCEEDED or FAILED first, ``NOT_FOUND`` (404)
        for an unknown id. Retried like a GET: a repeated cancel answers the same.
        """
        return dict(self._json(self.request("DELETE", f"/export/{job_id}", retry=True)))

    def wait(
        self,
        job_id: str,
        *,
        timeout: float = 900.0,
        interval: float = 1.0,
        on_status: Callable[[Job], None] | None = None,
        progress: bool = False,
    ) -> Job:
        """Polls until the job is SUCCEEDED, FAILED or CANCELLED and returns it: a FAILED or CANCELLED job is
        returned, not raised (``job_failure(job)`` formats why). ``on_status`` sees every job polled, the
        final one included; ``progress`` draws a bar on stderr. ``TimeoutError`` when the job is not final
        after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        with ProgressBar(f"export {job_id[:8]}", 1.0, enabled=progress) as bar:
            while True:
                job = self.get_status(job_id)
                if on_status:
                    on_status(job)
                status = str(job.get("status"))
                done = 1.0 if status == "SUCCEEDED" else float(job.get("progress") or 0)
                bar.update(done, status)
                if status in FINAL:
                    return job
                if time.monotonic() > deadline:
                    raise TimeoutError(f"job {job_id} still {status} after {timeout:.0f}s")
                time.sleep(interval)

    def download(self, job: Mapping[str, Any] | str, out: Path, *, progress: bool = False) -> Path:
        """Saves a SUCCEEDED job's output (a job as polled, or its id) to ``out``; returns ``out``.

        ``JobNotSucceededError`` when the job has no output. The file appears only once complete.
        """
        status = self.get_status(job) if isinstance(job, str) else dict(job)
        if status.get("status") != "SUCCEEDED" or not status.get("downloadUrl"):
            raise JobNotSucceededError(status)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part")
        with self.session.get(
            str(status["downloadUrl"]), stream=True, timeout=self.transfer_timeout
        ) as response:
            if not response.ok:
                raise ApiError(
                    response.status_code, {"error": response.text[:500], "code": "DOWNLOAD_FAILED"}
                )
            total = int(response.headers.get("Content-Length") or 0)
            with (
                ProgressBar("download", total, unit="bytes", enabled=progress) as bar,
                partial.open("wb") as f,
            ):
                for chunk in response.iter_content(1 << 20):
                    f.write(chunk)
                    bar.advance(len(chunk))
        partial.replace(out)
        return out

    def export_files(
        self,
        request: Mapping[str, Any],
        files: Mapping[str, Path],
        out: Path,
        *,
        progress: bool = False,
        timeout: float = 900.0,
        interval: float = 1.0,
    ) -> Job:
        """The whole flow: upload ``files``, start the export, wait, download to ``out`` when it SUCCEEDED.

        ``request`` is a ``POST /export`` body; the issued ``s3Key`` of each uploaded file replaces the
        request's asset of the same ``src`` (other assets are kept). Returns the final job (FAILED included).
        """
        uploaded = self.upload_files(files, progress=progress)
        fresh = {asset["src"] for asset in uploaded}
        assets = [a for a in request.get("assets") or [] if a.get("src") not in fresh] + uploaded
        job = self.export({**request, "assets": assets})
        final = self.wait(str(job["jobId"]), timeout=timeout, interval=interval, progress=progress)
        if final.get("status") == "SUCCEEDED":
            self.download(final, out, progress=progress)
        return final


__all__ = [
    "EXT_TYPES",
    "ApiError",
    "ExportClient",
    "ExportError",
    "Job",
    "JobNotSucceededError",
    "describe_file",
    "job_failure",
]
