"""Python client of the video-export API: sign, upload, start an export, follow it, download the result.

    eval "$(make -s dev-env)"   # EXPORT_API_URL, EXPORT_SIGNING_SECRET
    .venv/bin/python scripts/export_client.py export --timeline request.json \
        --file clip.mp4=./clip.mp4 --file logo.png=./logo.png --out out.mp4

``request.json`` is a ``POST /export`` body (``timeline``, optional ``output``); its ``assets`` are
filled in from the uploads. Importable: ``ExportClient`` is what the end-to-end tests use.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions" / "shared"))
from export_common.signing import signed_headers

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
}
FINAL = ("SUCCEEDED", "FAILED")


class ApiError(Exception):
    """A non-2xx answer: ``status`` and the service's ``{"error": "<message>", "code", "details"?}``.

    ``message`` is the service's readable ``error`` (or the start of a body that is not the service's),
    ``details`` its per-field problems ``[{path, message}]`` when it sent some.
    """

    def __init__(self, status: int, body: Any):
        fields = body if isinstance(body, dict) else {}
        error, code, details = fields.get("error"), fields.get("code"), fields.get("details")
        self.status = status
        self.code = code if isinstance(code, str) and code else "HTTP_ERROR"
        self.message = error if isinstance(error, str) and error else str(body)[:500]
        self.details: list[dict[str, Any]] = details if isinstance(details, list) else []
        self.body = body
        super().__init__(f"{status} {self.code}: {self.message}")


def job_failure(status: Mapping[str, Any]) -> str | None:
    """``"INVALID_MEDIA: clip.mp4 is not a video"`` for a FAILED job's status, None for any other."""
    if status.get("status") != "FAILED":
        return None
    return f"{status.get('errorCode') or 'FAILED'}: {status.get('error') or 'the export failed'}"


class ExportClient:
    """Signs every request with the shared secret; the path signed is the route path (no stage)."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
    ):
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ExportClient:
        env = os.environ if environ is None else environ
        return cls(env["EXPORT_API_URL"], env["EXPORT_SIGNING_SECRET"])

    # ----------------------------------------------------------------- HTTP
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
    ) -> requests.Response:
        """One signed call, re-signed on every attempt (a signature is accepted once).

        Retries connection errors and 5xx with exponential backoff: always for GET, and for POST only
        when ``retry`` is set (``create_export`` sends an Idempotency-Key, so repeating it is safe).
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
            time.sleep(self.backoff * 2**attempt)
            attempt += 1

    def _json(self, response: requests.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if not response.ok:
            raise ApiError(response.status_code, body)
        return body

    # ----------------------------------------------------------------- API
    def health(self) -> dict[str, Any]:
        response = self.session.get(self.base_url + "/health", timeout=self.timeout)
        return dict(response.json())

    def presign(self, assets: list[dict[str, str]]) -> list[dict[str, Any]]:
        """``[{"src", "contentType"?, "ext"?}]`` → uploads with ``s3Key``, ``uploadUrl``, ``headers``."""
        return list(self._json(self.request("POST", "/export/presign", {"assets": assets}))["uploads"])

    def upload(self, upload: Mapping[str, Any], path: Path) -> None:
        """PUT one file to its presigned URL with exactly the headers it was signed with."""
        with path.open("rb") as stream:
            response = self.session.put(
                upload["uploadUrl"],
                data=stream,
                headers=dict(upload["headers"]),
                timeout=max(self.timeout, 300),
            )
        if not response.ok:
            raise ApiError(response.status_code, {"error": response.text[:500], "code": "UPLOAD_FAILED"})

    def upload_files(self, files: Mapping[str, Path]) -> list[dict[str, str]]:
        """Presigns and uploads ``{src: path}``; returns the ``assets`` list of ``POST /export``."""
        if not files:
            return []
        wanted = []
        for src, path in files.items():
            ext = path.suffix.lower()
            content_type = (
                EXT_TYPES.get(ext) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            wanted.append({"src": src, "contentType": content_type, "ext": ext})
        uploads = self.presign(wanted)
        for upload in uploads:
            self.upload(upload, files[upload["src"]])
        return [{"src": u["src"], "s3Key": u["s3Key"]} for u in uploads]

    def create_export(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> dict[str, Any]:
        key = idempotency_key or str(uuid.uuid4())
        response = self.request("POST", "/export", dict(body), headers={"Idempotency-Key": key}, retry=True)
        return dict(self._json(response))

    def get_status(self, job_id: str) -> dict[str, Any]:
        return dict(self._json(self.request("GET", f"/export/{job_id}")))

    def wait(
        self,
        job_id: str,
        *,
        timeout: float = 900.0,
        interval: float = 1.0,
        on_status: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Polls until SUCCEEDED or FAILED (returned, not raised); TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.get_status(job_id)
            if on_status:
                on_status(status)
            if status["status"] in FINAL:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {status['status']} after {timeout:.0f}s")
            time.sleep(interval)

    def download(self, status: Mapping[str, Any], out: Path) -> Path:
        with self.session.get(
            str(status["downloadUrl"]), stream=True, timeout=max(self.timeout, 300)
        ) as response:
            if not response.ok:
                raise ApiError(
                    response.status_code, {"error": response.text[:500], "code": "DOWNLOAD_FAILED"}
                )
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("wb") as stream:
                for chunk in response.iter_content(1 << 20):
                    stream.write(chunk)
        return out

    def export(
        self, request: Mapping[str, Any], files: Mapping[str, Path], out: Path, *, progress: bool = True
    ) -> dict[str, Any]:
        """Uploads, starts, follows (progress bar) and downloads one export; returns the final status.

        An uploaded file's issued ``s3Key`` replaces the request's asset of the same ``src``.
        """
        uploaded = self.upload_files(files)
        fresh = {asset["src"] for asset in uploaded}
        assets = [a for a in request.get("assets", []) if a.get("src") not in fresh] + uploaded
        job = self.create_export({**request, "assets": assets})
        bar = tqdm(total=100, unit="%", desc=f"export {job['jobId'][:8]}", disable=not progress)

        def show(status: dict[str, Any]) -> None:
            done = 100 if status["status"] == "SUCCEEDED" else int(100 * float(status.get("progress") or 0))
            bar.set_postfix_str(status["status"])
            bar.update(max(0, done - bar.n))

        try:
            final = self.wait(job["jobId"], on_status=show)
        finally:
            bar.close()
        if final["status"] == "SUCCEEDED":
            self.download(final, out)
        return final


def _parse_files(values: list[str]) -> dict[str, Path]:
    files = {}
    for value in values:
        src, sep, path = value.partition("=")
        if not sep or not src or not path:
            raise SystemExit(f"--file expects src=path, got {value!r}")
        files[src] = Path(path)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="upload files, start an export, wait, download")
    export.add_argument("--timeline", required=True, type=Path, help="POST /export body (JSON)")
    export.add_argument(
        "--file", action="append", default=[], metavar="SRC=PATH", help="a file the timeline uses"
    )
    export.add_argument("--out", required=True, type=Path)
    export.add_argument("--no-progress", action="store_true")
    status = sub.add_parser("status", help="print a job's status")
    status.add_argument("job_id")
    sub.add_parser("health", help="print /health")
    args = parser.parse_args(argv)

    client = ExportClient.from_env()
    try:
        if args.command == "health":
            print(json.dumps(client.health(), indent=2))
            return 0
        if args.command == "status":
            print(json.dumps(client.get_status(args.job_id), indent=2))
            return 0
        request = json.loads(args.timeline.read_text())
        final = client.export(request, _parse_files(args.file), args.out, progress=not args.no_progress)
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        print(json.dumps(error.body, indent=2), file=sys.stderr)
        return 1
    print(json.dumps(final, indent=2))
    if final["status"] != "SUCCEEDED":
        print(f"error: export failed: {job_failure(final)}", file=sys.stderr)
        return 1
    print(f"saved {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
