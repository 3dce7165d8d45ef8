"""scripts/container_engine.sh: `make deploy ENV=prod` builds and pushes with docker when its engine answers,
else with podman, and says which. Each case runs the real script with stand-in ``docker``/``podman``
commands (answering ``info`` as the case needs) as the only ones on PATH; one case checks this machine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "container_engine.sh"
BASH = shutil.which("bash") or "/bin/bash"


def _tool(bin_dir: Path, name: str, *, info_works: bool) -> None:
    """A stand-in that fails `info` unless ``info_works`` (a CLI without an engine) and has no buildx."""
    path = bin_dir / name
    path.write_text(f'#!{BASH}\n[ "$1" = info ] && exit {0 if info_works else 1}\nexit 1\n')
    path.chmod(0o755)


def _choose(bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, str(SCRIPT)], env={"PATH": str(bin_dir), **env}, capture_output=True, text=True, check=False
    )


class Case(NamedTuple):
    docker: bool | None  # does `docker info` work (None: no docker CLI)
    podman: bool | None  # does `podman info` work (None: no podman)
    forced: str  # CONTAINER_ENGINE
    engine: str | None  # the choice (None: it fails)
    reason: str  # what it says on stderr


@pytest.mark.parametrize(
    "case",
    [
        Case(True, True, "", "docker", "its engine answers"),
        Case(True, None, "", "docker", "its engine answers"),
        Case(False, True, "", "podman", "the docker CLI is installed but no engine answers"),
        Case(None, True, "", "podman", "the docker CLI is not installed"),
        Case(True, True, "podman", "podman", "CONTAINER_ENGINE=podman"),
        Case(False, True, "docker", None, "CONTAINER_ENGINE=docker, but the docker CLI is installed but no"),
        Case(False, False, "", None, "podman is not installed or `podman info` fails"),
        Case(None, None, "", None, "the docker CLI is not installed, and podman is not installed"),
        Case(True, True, "buildah", None, "CONTAINER_ENGINE must be docker or podman"),
    ],
)
def test_docker_when_its_engine_answers_else_podman(tmp_path: Path, case: Case) -> None:
    # Given docker and podman CLIs whose `info` works or fails (None: not installed)
    for name, works in (("docker", case.docker), ("podman", case.podman)):
        if works is not None:
            _tool(tmp_path, name, info_works=works)
    # When the deploy script's choice runs
    result = _choose(tmp_path, CONTAINER_ENGINE=case.forced)
    # Then it names the engine and why, or fails saying why
    if case.engine is None:
        assert result.returncode == 1 and result.stdout == "", result
    else:
        assert (result.returncode, result.stdout) == (0, f"{case.engine}\n"), result
    assert case.reason in result.stderr, result.stderr


def test_the_build_commands_make_a_plain_amd64_image(tmp_path: Path) -> None:
    _tool(tmp_path, "docker", info_works=True)  # no buildx: `buildx version` fails
    commands = {}
    for engine in ("docker", "podman"):
        out = subprocess.run(
            [BASH, "-c", f'source "{SCRIPT}"; image_build_command {engine}'],
            env={"PATH": str(tmp_path)}, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        commands[engine] = out.splitlines()
    tail = ["--platform", "linux/amd64"]
    assert commands["docker"] == ["docker", "build", *tail]
    assert commands["podman"] == ["podman", "build", "--isolation=chroot", "--format", "docker", *tail]


def test_this_machine_gets_the_engine_that_works_here() -> None:
    docker_works = shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True, check=False
    ).returncode == 0  # fmt: skip
    podman_works = shutil.which("podman") is not None and subprocess.run(
        ["podman", "info"], capture_output=True, check=False
    ).returncode == 0  # fmt: skip
    expected = "docker" if docker_works else "podman" if podman_works else None
    result = subprocess.run([BASH, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == (expected or ""), result.stderr
    assert result.returncode == (0 if expected else 1)
