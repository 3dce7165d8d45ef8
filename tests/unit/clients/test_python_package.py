"""``clients/python`` installs into a fresh virtualenv: ``import video_export``, the ``video-export`` command.

Offline: the wheel is built from a copy of ``clients/python`` with this venv's setuptools and installed with
``--no-index --no-deps`` into a plain venv (no system site-packages). ``requests``, the one dependency, is
then lent from this venv's site-packages through PYTHONPATH (a fresh venv cannot download it offline);
without it, only the HTTP client fails to import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.unit.clients.runtimes import ROOT

PACKAGE = ROOT / "clients" / "python"


def _run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})}
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=300, check=False, env=environment
    )


def test_pip_install_into_a_fresh_venv(tmp_path: Path) -> None:
    # Given a wheel built from the package's own files (a copy: the build writes next to its sources)
    source = tmp_path / "src"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--wheel-dir", tmp_path / "wheels", source,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (tmp_path / "wheels").glob("video_export-*.whl")

    # When it is installed into a plain new venv
    venv = tmp_path / "venv"
    created = _run(sys.executable, "-m", "venv", venv)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    installed = _run(python, "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", wheel)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    # Then its metadata asks for requests alone, Python 3.10+, and names the command
    metadata = _run(
        python, "-c",
        "import importlib.metadata as m, json; d = m.distribution('video-export'); "
        "print(json.dumps({'requires': d.requires, 'python': d.metadata['Requires-Python'], "
        "'scripts': [e.value for e in d.entry_points if e.group == 'console_scripts'], "
        "'files': sorted(str(f) for f in d.files if f.parts[0] == 'video_export' and f.suffix != '.pyc')}))",
    )  # fmt: skip
    assert metadata.returncode == 0, metadata.stderr
    facts = json.loads(metadata.stdout)
    assert [r.split(">")[0].split("=")[0].strip() for r in facts["requires"]] == ["requests"]
    assert facts["python"] == ">=3.10"
    assert facts["scripts"] == ["video_export.cli:main"]
    assert "video_export/py.typed" in facts["files"]
    assert {f"video_export/{m}.py" for m in ("signing", "webhooks", "client", "cli")} <= set(facts["files"])

    # and, the venv being truly fresh, the signing and webhook modules import with the stdlib alone
    # while the HTTP client needs requests, which this venv lacks
    alone = _run(
        python, "-c",
        "import video_export, video_export.signing, video_export.webhooks; print(video_export.__file__)\n"
        "try:\n    import video_export.client\nexcept ModuleNotFoundError as e:\n    print(e.name)",
    )  # fmt: skip
    assert alone.returncode == 0, alone.stderr
    location, missing = alone.stdout.split()
    assert Path(location).is_relative_to(venv) and missing == "requests"

    # and with requests lent from the project venv, the package and its command work
    lent = {"PYTHONPATH": sysconfig.get_paths()["purelib"]}
    imported = _run(python, "-c", "import video_export.client as c; print(c.__file__)", env=lent)
    assert imported.returncode == 0 and Path(imported.stdout.strip()).is_relative_to(venv), imported.stderr
    helped = _run(venv / "bin" / "video-export", "--help", env=lent)
    assert helped.returncode == 0 and "verify-webhook" in helped.stdout, helped.stderr
