"""`python -m render REQUEST.json --assets-dir DIR --output OUT.mp4` (see render/README.md)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError
from tqdm import tqdm  # type: ignore[import-untyped]

from render import limits
from render.errors import RenderError
from render.json_schema import export_request_schema_text
from render.model import ExportRequest
from render.pipeline import build_command, composition_with_captions, render_export, write_files


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m render", description="Render a POST /export body to an mp4 with ffmpeg."
    )
    parser.add_argument("request", nargs="?", type=Path, help="JSON file holding the POST /export body")
    parser.add_argument("--assets-dir", type=Path, help="directory holding each asset at <dir>/<s3Key>")
    parser.add_argument("--output", type=Path, help="mp4 to write")
    parser.add_argument("--plan", action="store_true", help="print the ffmpeg command instead of running it")
    parser.add_argument("--schema", action="store_true", help="print the JSON Schema of the request and exit")
    parser.add_argument(
        "--timeout",
        type=float,
        default=limits.RENDER_TIMEOUT_SECONDS,
        help="seconds before ffmpeg is stopped",
    )
    parser.add_argument("--ffmpeg", default="ffmpeg")
    parser.add_argument("--ffprobe", default="ffprobe")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.schema:
        sys.stdout.write(export_request_schema_text())
        return 0
    if args.request is None or args.assets_dir is None or (args.output is None and not args.plan):
        parser.error("REQUEST, --assets-dir and --output (or --plan) are required")

    try:
        request = ExportRequest.model_validate(json.loads(args.request.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"cannot read {args.request}: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        for error in exc.errors():
            print(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}", file=sys.stderr)
        return 2
    try:
        # a captions file that is not valid captions is refused before anything runs, as POST /export does
        composition_with_captions(request, args.assets_dir.resolve())
        if args.plan:
            workdir = Path(tempfile.mkdtemp(prefix="render-plan-"))
            output = (args.output or Path("out.mp4")).resolve()
            _, command = build_command(
                request, args.assets_dir.resolve(), output, workdir, ffmpeg=args.ffmpeg, ffprobe=args.ffprobe
            )
            write_files(command)  # kept so the printed command can be run as is
            print(shlex.join(command.argv))
            return 0
        with tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {elapsed}<{remaining}") as bar:

            def progress(fraction: float) -> None:
                bar.update(round(fraction * 100) - bar.n)

            result = render_export(
                request,
                args.assets_dir,
                args.output,
                on_progress=progress,
                timeout_seconds=args.timeout,
                ffmpeg=args.ffmpeg,
                ffprobe=args.ffprobe,
            )
    except RenderError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        if exc.stderr_tail:
            print(exc.stderr_tail, file=sys.stderr)
        return 1
    print(
        f"{args.output}: {result.width}x{result.height}, {result.duration_seconds:.3f} s, "
        f"{result.size_bytes} bytes, rendered in {result.render_seconds:.2f} s"
    )
    return 0
