"""`make image-test`: the worker image that ships, run as Lambda runs it (its user, a read-only root,
only /tmp writable) through `scripts/image/run.sh`. The image must exist (`make image` builds it): a
missing image is an error here, never a skip."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_SCRIPT = REPO_ROOT / "scripts" / "image" / "run.sh"


def _image_ref() -> str:
    lib = (REPO_ROOT / "scripts" / "image" / "lib.sh").read_text()
    default = next(
        line.split("=", 1)[1].strip('"') for line in lib.splitlines() if line.startswith("WORKER_IMAGE_REF=")
    )
    return os.environ.get("IMAGE_REF", default)


@dataclass(frozen=True)
class Image:
    """The built worker image and a way to run commands in it."""

    ref: str
    config: dict[str, object]
    labels: dict[str, str]

    def argv(
        self,
        command: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        tmp: Path | None = None,
        binds: Sequence[tuple[Path, str]] = (),
    ) -> list[str]:
        """The host command that runs `command` in the image (`scripts/image/run.sh`, with IMAGE_REF set
        to this image); `binds` are read-only (host path, path in the image)."""
        args: list[str] = [str(RUN_SCRIPT)]
        for name, value in (env or {}).items():
            args += ["--env", f"{name}={value}"]
        if tmp is not None:
            args += ["--tmp", str(tmp)]
        for source, target in binds:
            args += ["--bind", f"{source}:{target}:ro"]
        return [*args, "--", *command]

    def run(
        self,
        command: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        tmp: Path | None = None,
        binds: Sequence[tuple[Path, str]] = (),
        check: bool = True,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Runs `command` in the image and waits for it."""
        result = subprocess.run(
            self.argv(command, env=env, tmp=tmp, binds=binds),
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "IMAGE_REF": self.ref},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} failed in the image ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result


def image_engine() -> str:
    """docker or podman, as scripts/image/lib.sh chooses."""
    out = subprocess.run(
        ["bash", "-c", f"source {REPO_ROOT}/scripts/image/lib.sh && image_engine"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


@pytest.fixture(scope="session")
def image() -> Image:
    ref = _image_ref()
    inspect = subprocess.run(
        [image_engine(), "image", "inspect", ref], check=False, capture_output=True, text=True
    )
    if inspect.returncode != 0:
        raise AssertionError(f"no image {ref}: run `make image` first (make image-test does)")
    config = json.loads(inspect.stdout)[0]["Config"]
    return Image(ref, config, dict(config.get("Labels") or {}))


@pytest.fixture
def image_tmp(tmp_path: Path) -> Path:
    """A host directory that is the image's /tmp, readable and writable by the image's user."""
    path = tmp_path / "image-tmp"
    path.mkdir()
    path.chmod(0o1777)
    return path
