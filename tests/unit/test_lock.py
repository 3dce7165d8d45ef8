"""One lock feeds everything: the venv (`uv sync --frozen`), the API zip and the worker image (their
requirements files are exports of uv.lock). These tests fail when someone edits one and not the other."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ("api", "worker")


def _uv(*args: str) -> subprocess.CompletedProcess[str]:
    uv = subprocess.run(
        [str(ROOT / "scripts/bootstrap/uv.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    return subprocess.run([uv, *args], cwd=ROOT, capture_output=True, text=True, check=False)


def _requirements(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_lock_matches_the_pyproject_files() -> None:
    checked = _uv("lock", "--check")
    assert checked.returncode == 0, f"uv.lock is stale; run `make lock`:\n{checked.stderr}"


@pytest.mark.parametrize("artefact", ARTEFACTS)
def test_each_lambda_bundles_the_locked_versions(artefact: str) -> None:
    exported = _uv(
        "export", "--frozen", "--quiet", "--no-header", "--only-group", artefact, "--no-emit-project"
    )
    assert exported.returncode == 0, exported.stderr
    committed = (ROOT / "functions" / artefact / "requirements.txt").read_text(encoding="utf-8")
    assert _requirements(committed) == _requirements(exported.stdout), (
        f"functions/{artefact}/requirements.txt differs from uv.lock; run `make lock`"
    )
    assert any(line.startswith("pydantic==") for line in _requirements(committed))
