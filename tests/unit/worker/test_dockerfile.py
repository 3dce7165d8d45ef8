"""Static checks of the worker image: base, entry point, final stage, contents.

They need no Docker engine, so `make test` guards what can be checked without building the image.
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


def test_the_image_is_the_lambda_python_312_base() -> None:
    final_from = _stages()[-1][0][1]
    base = (
        _args()[final_from.removeprefix("${").removesuffix("}")] if final_from.startswith("$") else final_from
    )
    assert base == "public.ecr.aws/lambda/python:3.12"


def test_cmd_is_the_handler_and_it_resolves() -> None:
    cmds = [rest for keyword, rest in _stages()[-1] if keyword == "CMD"]
    assert [json.loads(cmd) for cmd in cmds] == [[HANDLER]]
    module, _, name = HANDLER.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))


def test_the_final_stage_has_no_build_tools_and_runs_unprivileged() -> None:
    final = _stages()[-1]
    runs = " ".join(rest for keyword, rest in final if keyword == "RUN")
    for tool in ("apt-get", "dnf", "yum", "microdnf", "pip install", "curl", "wget", "gcc", "make "):
        assert tool not in runs
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    env = " ".join(rest for keyword, rest in final if keyword == "ENV")
    assert "RENDER_FONT_FILE=/opt/fonts/DejaVuSans.ttf" in env
    assert "FFMPEG_PATH=/opt/bin/ffmpeg" in env and "FFPROBE_PATH=/opt/bin/ffprobe" in env


def test_ffmpeg_is_downloaded_with_a_checksum_check_in_a_builder_stage() -> None:
    builder = " ".join(rest for stage in _stages()[:-1] for keyword, rest in stage if keyword == "RUN")
    assert "md5sum -c" in builder and "sha256sum -c" in builder
    assert "DejaVuSans.ttf" in builder


def test_every_copied_source_exists_and_passes_the_ignore_file() -> None:
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
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
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
