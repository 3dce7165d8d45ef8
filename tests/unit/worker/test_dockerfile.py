"""Static checks of the worker image's Dockerfile: base, entry point, final stage, what it fetches.

They need no image engine; `make image-test` (tests/image) runs the built image itself.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "functions" / "worker" / "Dockerfile"
DOCKERIGNORE = ROOT / "functions" / "worker" / "Dockerfile.dockerignore"
REQUIREMENTS = ROOT / "functions" / "worker" / "requirements.txt"
HANDLER = "export_worker.handler.lambda_handler"
# import name -> distribution in requirements.txt
DISTRIBUTIONS = {
    "aws_lambda_powertools": "aws-lambda-powertools",
    "boto3": "boto3",
    "botocore": "boto3",
    "s3transfer": "boto3",
    "jmespath": "boto3",
    "dateutil": "boto3",
    "urllib3": "boto3",
    "certifi": "boto3",
    "six": "boto3",
    "awslambdaric": "awslambdaric",
    "tqdm": "tqdm",
    "ffmpeg": "ffmpeg-python",
    "future": "ffmpeg-python",
    "past": "ffmpeg-python",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "typing_extensions": "pydantic",
    "typing_inspection": "pydantic",
    "annotated_types": "pydantic",
}
FIRST_PARTY = {"render", "export_common", "export_worker"}


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _args() -> dict[str, str]:
    return dict(rest.split("=", 1) for keyword, rest in _instructions() if keyword == "ARG" and "=" in rest)


def test_the_base_is_debian_trixie_slim() -> None:
    args = _args()
    assert args["BASE_IMAGE"] == "docker.io/library/debian:trixie-slim"
    assert args["DEBIAN_SUITE"] == "trixie"
    assert _stages()[0][0][1].startswith("${BASE_IMAGE}")


def test_the_entry_point_is_the_runtime_interface_client_and_cmd_the_handler() -> None:
    final = _stages()[-1]
    assert [json.loads(rest) for keyword, rest in final if keyword == "ENTRYPOINT"] == [
        ["/usr/bin/python3", "-m", "awslambdaric"]
    ]
    assert [json.loads(rest) for keyword, rest in final if keyword == "CMD"] == [[HANDLER]]
    module, _, name = HANDLER.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))


def test_the_final_stage_installs_nothing_and_runs_unprivileged() -> None:
    final = _stages()[-1]
    runs = " ".join(rest for keyword, rest in final if keyword == "RUN")
    for tool in ("apt-get", "pip install", "curl", "wget", "gcc", "make "):
        assert tool not in runs
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    env = " ".join(rest for keyword, rest in final if keyword == "ENV")
    assert "FFMPEG_PATH=/usr/bin/ffmpeg" in env and "FFPROBE_PATH=/usr/bin/ffprobe" in env


def test_nothing_is_downloaded_but_debian_packages_and_the_wheelhouse() -> None:
    runs = " ".join(rest for keyword, rest in _instructions() if keyword == "RUN")
    for fetcher in ("curl", "wget", "ADD "):
        assert fetcher not in runs
    assert not [rest for keyword, rest in _instructions() if keyword == "ADD"]
    urls = [url.split("%s")[0] for url in re.findall(r"https?://\S+", runs)]
    assert urls == ["http://snapshot.debian.org/archive/debian/"]
    pip = next(rest for keyword, rest in _instructions() if keyword == "RUN" and "pip install" in rest)
    assert "--no-index" in pip and "--require-hashes" in pip and "--find-links /tmp/wheelhouse" in pip


def test_every_copied_source_exists_and_passes_the_ignore_file() -> None:
    """build/wheelhouse is made by the image build (scripts/image/build.sh), not kept in the repository."""
    allowed = [
        line.removeprefix("!").rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.startswith("!")
    ]
    sources = [
        rest.split()[0]
        for keyword, rest in _instructions()
        if keyword == "COPY" and not rest.startswith("--from")
    ]
    assert "build/wheelhouse/" in sources
    assert "wheelhouse=build/wheelhouse" in (ROOT / "scripts" / "image" / "build.sh").read_text()
    for source in sources:
        assert source == "build/wheelhouse/" or (ROOT / source).exists(), source
        assert any(source.rstrip("/") == a or source.startswith(a + "/") for a in allowed), source


def test_requirements_cover_what_the_handler_imports() -> None:
    """Import the handler and the renderer in a clean interpreter and list the third-party packages."""
    code = (
        "import sys, export_worker.handler, render.pipeline;"
        "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    imported = set(out.split()) - set(sys.stdlib_module_names) - FIRST_PARTY
    imported = {name for name in imported if not name.startswith("_")}
    # One requirement per line that starts in column 0; its `--hash` options continue on indented lines.
    lines = [line for line in REQUIREMENTS.read_text().splitlines() if line and line[0] not in "# "]
    required = {re.split(r"[=<>\[ ]", line, maxsplit=1)[0].lower() for line in lines}
    unknown = sorted(name for name in imported if name not in DISTRIBUTIONS)
    assert unknown == []
    assert {DISTRIBUTIONS[name] for name in imported} <= required
    assert all("==" in line for line in lines)
