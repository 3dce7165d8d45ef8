"""Cold-start figures of the API Lambda: import time of the handler vs boto3 alone, and the package size.

Each import is timed in a fresh interpreter (``-X importtime`` would add overhead; we time the import
statement itself), median of N runs. If ``build/api.zip`` exists (``make build``) the handler is imported
from the unpacked zip, proving the package carries what it needs and no ffmpeg; otherwise from the tree.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZIP = ROOT / "build" / "api.zip"
SOURCE_PATHS = [ROOT, ROOT / "functions" / "shared", ROOT / "functions" / "api"]
TIMER = (
    "import time, sys; t = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - t); "
    "heavy = ('ffmpeg', 'render.pipeline', 'render.compiler', 'render.probe'); "
    "print(int(any(m.startswith(heavy) for m in sys.modules)))"
)


def time_import(module: str, paths: list[Path], runs: int) -> tuple[float, bool]:
    samples, heavy = [], False
    env_path = ":".join(str(p) for p in paths)
    for _ in range(runs):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path[:0] = {env_path.split(':')!r}; " + TIMER.format(module=module),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=tempfile.gettempdir(),
        ).stdout.split()
        samples.append(float(out[0]))
        heavy |= out[1] == "1"
    return statistics.median(samples), heavy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    paths = SOURCE_PATHS
    where = "source tree"
    with tempfile.TemporaryDirectory() as unpacked:
        if ZIP.exists():
            with zipfile.ZipFile(ZIP) as archive:
                names = archive.namelist()
                archive.extractall(unpacked)
            paths = [Path(unpacked)]
            where = f"{ZIP.relative_to(ROOT)} (unpacked)"
            size = ZIP.stat().st_size
            unzipped = sum(f.stat().st_size for f in Path(unpacked).rglob("*") if f.is_file())
            ffmpeg = [n for n in names if "ffmpeg" in n.lower()]
            sizes = f"{size / 1e6:.2f} MB zipped, {unzipped / 1e6:.2f} MB unzipped"
            print(f"package      {ZIP.relative_to(ROOT)}: {sizes}")
            print(f"             {len(names)} files; ffmpeg files: {len(ffmpeg)}")
        else:
            print("package      build/api.zip not found (run `make build`); timing the source tree only")
        handler_s, heavy = time_import("export_api.handler", paths, args.runs)
        boto3_s, _ = time_import("boto3", paths, args.runs)
    print(f"import       export_api.handler from {where}: {handler_s * 1000:.0f} ms (median of {args.runs})")
    print(f"import       boto3 alone: {boto3_s * 1000:.0f} ms; handler/boto3 = {handler_s / boto3_s:.2f}x")
    print(f"render deps  ffmpeg or render pipeline imported by the handler: {'YES (bad)' if heavy else 'no'}")
    return 1 if heavy else 0


if __name__ == "__main__":
    raise SystemExit(main())
