"""Build the API Lambda zip (`build/api.zip`) for the Python of `.python-version` on x86_64.

The webhook delivery function runs from the same zip with its own handler
(`export_callbacks.handler.lambda_handler`): it needs the same packages plus its own small one.

The zip is deterministic (sorted entries, fixed timestamps and modes), so its hash -- which
Terraform uses to decide whether to update the function -- changes only when its content does.
Third-party wheels come from `functions/api/requirements.txt` (manylinux wheels for the Lambda
runtime, whatever the build host is) and are cached under `.tools/` keyed on that file.
The worker is a container image (`functions/worker/Dockerfile`), built by `scripts/deploy.sh`.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "functions" / "api" / "requirements.txt"
CACHE_DIR = ROOT / ".tools" / "build-cache"
DEFAULT_OUTPUT = ROOT / "build" / "api.zip"

# Lambda runtime the wheels are chosen for: the one Python minor version of the project.
PYTHON_VERSION = (ROOT / ".python-version").read_text().strip()
PIP_PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    PYTHON_VERSION,
    "--only-binary=:all:",
)

# Our own code in the zip: (source path relative to the repo, path inside the zip).
# The API must not pull in ffmpeg or the renderer's runtime, so only the pure-pydantic part of
# `render` (the request model and what it imports) is shipped.
SOURCES: tuple[tuple[str, str], ...] = (
    ("functions/shared/export_common", "export_common"),
    ("functions/api/export_api", "export_api"),
    ("functions/callbacks/export_callbacks", "export_callbacks"),
    ("render/__init__.py", "render/__init__.py"),
    ("render/py.typed", "render/py.typed"),
    ("render/model.py", "render/model.py"),
    ("render/errors.py", "render/errors.py"),
    ("render/limits.py", "render/limits.py"),
    ("render/colors.py", "render/colors.py"),
    ("render/composition.py", "render/composition.py"),
    ("render/json_types.py", "render/json_types.py"),
    ("render/encoding.py", "render/encoding.py"),  # output.quality and output.format
    ("render/frames.py", "render/frames.py"),  # frame arithmetic (a poster's time, the split)
    ("render/chunking.py", "render/chunking.py"),  # POST /export/quote: the worker's split decision
    ("render/cost.py", "render/cost.py"),  # POST /export/quote: the cost model
    ("render/editor_formats", "render/editor_formats"),
    ("render/captions.py", "render/captions.py"),  # POST /export parses captions files
    # the signing rule, defined once in the Python client package; only its stdlib-only modules
    ("clients/python/video_export/__init__.py", "video_export/__init__.py"),
    ("clients/python/video_export/py.typed", "video_export/py.typed"),
    ("clients/python/video_export/signing.py", "video_export/signing.py"),
)

# Packages provided by the runtime or never wanted in the zip.
EXCLUDED_TOP_LEVEL = frozenset({"bin", "boto3", "botocore", "s3transfer", "__pycache__"})
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def _iter_files(base: Path) -> Iterator[Path]:
    """Files below `base` (or `base` itself), without caches and compiled files."""
    if base.is_file():
        yield base
        return
    for path in sorted(base.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}:
            yield path


def install_dependencies(requirements: Path) -> Path:
    """pip-install the requirements for the Lambda platform once per requirements content."""
    key = hashlib.sha256(requirements.read_bytes() + " ".join(PIP_PLATFORM_ARGS).encode()).hexdigest()[:16]
    target = CACHE_DIR / f"api-deps-{key}"
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="tmp-api-deps-", dir=CACHE_DIR))
    print(f"==> installing API dependencies from {requirements.relative_to(ROOT)}")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(staging),
            *PIP_PLATFORM_ARGS,
            "-r",
            str(requirements),
        ],
        check=True,
    )
    staging.rename(target)
    (target / ".complete").touch()
    return target


def collect_entries(deps_dir: Path) -> dict[str, Path]:
    """Map of zip path -> source file for the dependencies and our own packages."""
    entries: dict[str, Path] = {}
    for top in sorted(deps_dir.iterdir()):
        if top.name in EXCLUDED_TOP_LEVEL or top.name.startswith("."):
            continue
        for path in _iter_files(top):
            entries[path.relative_to(deps_dir).as_posix()] = path
    for source, target in SOURCES:
        base = ROOT / source
        if not base.exists():
            raise SystemExit(f"error: {source} is missing (listed in SOURCES of {Path(__file__).name})")
        for path in _iter_files(base):
            inner = target if base.is_file() else f"{target}/{path.relative_to(base).as_posix()}"
            entries[inner] = path
    return entries


# Where each first-party package lives in the repository.
PACKAGE_DIRS = {
    "render": ROOT / "render",
    "export_common": ROOT / "functions" / "shared" / "export_common",
    "export_api": ROOT / "functions" / "api" / "export_api",
    "export_callbacks": ROOT / "functions" / "callbacks" / "export_callbacks",
    "video_export": ROOT / "clients" / "python" / "video_export",
}


def _is_repo_module(module: str) -> bool:
    """Whether `a.b.c` is a module or package in the repository (not an attribute of one)."""
    top, *rest = module.split(".")
    path = PACKAGE_DIRS[top].joinpath(*rest)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def check_first_party_imports(entries: dict[str, Path]) -> list[str]:
    """Module-level imports of our packages that the zip does not contain (a missing SOURCES line)."""
    ours = tuple(PACKAGE_DIRS)
    present = {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in entries}
    problems: list[str] = []
    for name, path in sorted(entries.items()):
        if not name.endswith(".py") or not name.startswith(ours):
            continue
        tree = ast.parse(path.read_bytes(), filename=str(path))
        for node in tree.body:  # lazy imports inside functions are the importer's business
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for module in modules:
                if module.split(".")[0] not in ours:
                    continue
                if module not in present and _is_repo_module(module):
                    problems.append(f"{name}: imports {module}, which is not in the zip")
    return problems


def write_zip(entries: dict[str, Path], output: Path) -> None:
    """Deterministic zip: sorted names, fixed timestamps and permissions."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].read_bytes(), compresslevel=9)
    os.replace(tmp, output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="zip to write (default: build/api.zip)"
    )
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS, help="API requirements file")
    args = parser.parse_args(argv)

    deps_dir = install_dependencies(args.requirements)
    entries = collect_entries(deps_dir)
    problems = check_first_party_imports(entries)
    if problems:
        print("error: the API zip would miss modules:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    write_zip(entries, args.output)
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    args.output.with_name(args.output.name + ".sha256").write_text(f"{digest}  {args.output.name}\n")
    size_mb = args.output.stat().st_size / 1_000_000
    print(
        f"==> {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}: "
        f"{len(entries)} files, {size_mb:.1f} MB, sha256 {digest[:16]}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
