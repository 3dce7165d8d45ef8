"""One Python minor version for the venv, the zip runtimes and the worker image: `.python-version` says it,
and everything that restates it must agree (the image's own python3 is checked by `make image-test`)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION = (ROOT / ".python-version").read_text().strip()


def test_the_version_is_a_minor_version() -> None:
    assert re.fullmatch(r"3\.\d+", VERSION)


def test_every_lambda_zip_runtime_is_that_version() -> None:
    runtimes = re.findall(
        r'runtime\s*=\s*"([^"]+)"', (ROOT / "terraform/modules/export_service/lambda.tf").read_text()
    )
    assert runtimes and set(runtimes) == {f"python{VERSION}"}


def test_the_project_and_its_tools_target_that_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    major, minor = VERSION.split(".")
    assert pyproject["project"]["requires-python"] == f">={VERSION},<{major}.{int(minor) + 1}"
    assert pyproject["tool"]["mypy"]["python_version"] == VERSION
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{major}{minor}"


def test_the_venv_runs_that_version() -> None:
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == VERSION
