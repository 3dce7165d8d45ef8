"""video-export: the command line of the video-export API client.

Reads ``EXPORT_API_URL`` (with the API Gateway stage) and ``EXPORT_SIGNING_SECRET`` from the environment
(``verify-webhook``: ``EXPORT_WEBHOOK_SECRET``, the secret webhooks are signed with).
Results go to stdout as JSON, progress bars and errors to stderr. Exit status: 0 done (a SUCCEEDED job, a
cancel taken, a valid webhook), 1 failed (an API error, a FAILED or CANCELLED job, an invalid webhook),
2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from video_export.client import ApiError, ExportClient, JobNotSucceededError, describe_file, job_failure
from video_export.signing import SignatureError
from video_export.webhooks import check_webhook

EPILOG = """examples:
  video-export export --timeline request.json --file clip.mp4=./clip.mp4 --out out.mp4
  video-export wait 0b5e1f2c-9a43-4c1e-8f00-3d2c1b0a9f8e
  video-export cancel 0b5e1f2c-9a43-4c1e-8f00-3d2c1b0a9f8e
  video-export verify-webhook --path /hooks/export --body body.json \\
      --header "x-base44-timestamp: 1732526400000" --header "x-base44-signature: 89686228…"
"""


class UsageError(Exception):
    """Bad arguments or environment: exit status 2."""


def split_file_option(value: str) -> tuple[str, str]:
    """``SRC=PATH`` split at the last ``=``, since a src may hold many (a signed URL's query) and a path
    rarely does; a path with ``=`` in it is still found when the split at an earlier ``=`` names a file."""
    splits = [i for i, char in enumerate(value) if char == "="]
    for i in reversed(splits):
        if i > 0 and Path(value[i + 1 :]).is_file():
            return value[:i], value[i + 1 :]
    src, _, path = value.rpartition("=")
    return src, path


def _files(values: Sequence[str]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for value in values:
        src, path = split_file_option(value)
        if "=" not in value or not src or not path:
            raise UsageError(f"--file expects SRC=PATH, got {value!r}")
        if not Path(path).is_file():
            raise UsageError(f"--file {src}: no such file {path}")
        files[src] = Path(path)
    return files


def _headers(values: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header expects NAME:VALUE, got {value!r}")
        headers[name.strip().lower()] = content.strip()
    return headers


def _request(path: Path) -> dict[str, Any]:
    try:
        request = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"--timeline {path}: {error}") from None
    if not isinstance(request, dict):
        raise UsageError(f"--timeline {path}: not a JSON object")
    return request


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise UsageError(f"{name} is not set (the API URL with its stage, and the signing secret)")
    return value


def _client() -> ExportClient:
    return ExportClient(_env("EXPORT_API_URL"), _env("EXPORT_SIGNING_SECRET"))


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _final(job: dict[str, Any]) -> int:
    """Prints the final job; 0 when it SUCCEEDED, else 1 with ``errorCode: error`` on stderr."""
    _print(job)
    if job.get("status") == "SUCCEEDED":
        return 0
    verb = "was cancelled" if job.get("status") == "CANCELLED" else "failed"
    print(f"error: export {verb}: {job_failure(job)}", file=sys.stderr)
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="video-export",
        description=(__doc__ or "").split("\n\n", 1)[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def files_option(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--file", action="append", default=[], metavar="SRC=PATH", help="a file, under the src it has"
        )

    def progress_option(command: argparse.ArgumentParser) -> None:
        command.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    presign = sub.add_parser("presign", help="presign uploads for files; prints the uploads")
    files_option(presign)
    upload = sub.add_parser("upload", help="presign and upload files; prints the assets of POST /export")
    files_option(upload)
    progress_option(upload)
    export = sub.add_parser("export", help="upload files, start an export, wait for it, download the mp4")
    export.add_argument("--timeline", required=True, type=Path, help="a POST /export body (JSON file)")
    files_option(export)
    export.add_argument("--out", required=True, type=Path, help="where the mp4 goes")
    export.add_argument("--timeout", type=float, default=900.0, help="seconds to wait (default 900)")
    progress_option(export)
    quote = sub.add_parser(
        "quote", help="upload files, then print what the export would render and cost (renders nothing)"
    )
    quote.add_argument("--timeline", required=True, type=Path, help="a POST /export body (JSON file)")
    files_option(quote)
    progress_option(quote)
    wait = sub.add_parser("wait", help="wait for a job to end; prints the final job")
    wait.add_argument("job_id", metavar="JOB_ID")
    wait.add_argument("--timeout", type=float, default=900.0, help="seconds to wait (default 900)")
    progress_option(wait)
    download = sub.add_parser("download", help="save a SUCCEEDED job's mp4")
    download.add_argument("job_id", metavar="JOB_ID")
    download.add_argument("out", metavar="OUT", type=Path)
    progress_option(download)
    cancel = sub.add_parser(
        "cancel", help="cancel a job (DELETE /export/{jobId}); prints its status, CANCELLING or CANCELLED"
    )
    cancel.add_argument("job_id", metavar="JOB_ID")
    cancel.add_argument(
        "--wait", action="store_true", help="then wait until it has ended; prints the final job"
    )
    progress_option(cancel)
    status = sub.add_parser("status", help="print a job as GET /export/{jobId} reports it")
    status.add_argument("job_id", metavar="JOB_ID")
    sub.add_parser("health", help="print GET /health")
    verify = sub.add_parser(
        "verify-webhook", help="check a webhook delivery's signature with EXPORT_WEBHOOK_SECRET"
    )
    verify.add_argument("--path", required=True, help="the callback URL's path, e.g. /hooks/export")
    verify.add_argument("--body", required=True, help="file with the raw body as received ('-': stdin)")
    verify.add_argument(
        "--header", action="append", default=[], metavar="NAME:VALUE", help="a header of the delivery"
    )
    return parser


def _run(args: argparse.Namespace) -> int:
    progress = not getattr(args, "no_progress", False)
    if args.command == "verify-webhook":
        secret = _env("EXPORT_WEBHOOK_SECRET")
        body = sys.stdin.buffer.read() if args.body == "-" else Path(args.body).read_bytes()
        try:
            check_webhook(secret, _headers(args.header), args.path, body)
        except ValueError as error:
            if not isinstance(error, SignatureError):
                raise UsageError(str(error)) from None
            print(f"invalid: {error}", file=sys.stderr)
            return 1
        print("valid", file=sys.stderr)
        return 0
    files = _files(getattr(args, "file", []))
    if args.command in ("presign", "upload") and not files:
        raise UsageError(f"{args.command} needs at least one --file SRC=PATH")
    request = _request(args.timeline) if args.command in ("export", "quote") else {}
    client = _client()
    if args.command == "presign":
        _print(client.presign([describe_file(src, path) for src, path in files.items()]))
    elif args.command == "upload":
        _print(client.upload_files(files, progress=progress))
    elif args.command == "export":
        final = client.export_files(request, files, args.out, progress=progress, timeout=args.timeout)
        code = _final(final)
        if code == 0:
            print(f"saved {args.out}", file=sys.stderr)
        return code
    elif args.command == "quote":
        _print(client.quote(client.with_uploads(request, files, progress=progress)))
    elif args.command == "wait":
        return _final(client.wait(args.job_id, timeout=args.timeout, progress=progress))
    elif args.command == "download":
        client.download(args.job_id, args.out, progress=progress)
        print(f"saved {args.out}", file=sys.stderr)
    elif args.command == "cancel":
        cancelled = client.cancel(args.job_id)
        if not args.wait:
            _print(cancelled)
            return 0
        final = client.wait(args.job_id, progress=progress)
        _print(final)
        return 0 if final.get("status") == "CANCELLED" else 1
    elif args.command == "status":
        _print(client.get_status(args.job_id))
    else:
        _print(client.health())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"video-export: error: {error}", file=sys.stderr)
        return 2
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        for detail in error.details:
            print(f"  {detail.get('path')}: {detail.get('message')}", file=sys.stderr)
        return 1
    except JobNotSucceededError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (requests.RequestException, TimeoutError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
