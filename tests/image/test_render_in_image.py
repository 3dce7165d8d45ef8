"""The renderer inside the image: the render tests that need ffmpeg and the fan-out exactness tests (the
same files as `make unit`, not copies) on the image's ffmpeg, Python and packages; and one request
rendered by the host and by the image, compared by frames, duration and pixels."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.image.conftest import REPO_ROOT, Image
from tests.video_frames import frame_count

# Run inside the image: every render test, and the worker's fan-out tests (split, chunks, join).
SUITE = [
    "/tmp/suite/tests/unit/render",
    "/tmp/suite/tests/unit/worker/test_fanout.py",
    "/tmp/suite/tests/unit/worker/test_output_options.py",  # posters, m4a and usage through the worker
]
SITE_PACKAGES = next((REPO_ROOT / ".venv" / "lib").glob("python3.*/site-packages"))


def _pytest_ini() -> str:
    """The project's pytest settings, with the suite's own folder as the only path of the repository."""
    options = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    markers = "\n".join(f"    {marker}" for marker in options["markers"])
    return (
        "[pytest]\n"
        f"addopts = {options['addopts']} -p no:cacheprovider\n"
        f"markers =\n{markers}\n"
        "pythonpath = .\n"
        f"timeout = {options['timeout']}\n"
    )


def test_the_render_and_fanout_tests_pass_on_the_images_ffmpeg(image: Image, image_tmp: Path) -> None:
    """The image's /var/task comes first on the path, so the code under test is the image's; the test
    tools (pytest, moto) come from the project's virtualenv, of the same Python minor version. A test
    that would skip (ffmpeg or ffprobe missing) counts as a failure here."""
    suite = image_tmp / "suite"
    for name in ("tests", "examples", "site"):
        (suite / name).mkdir(parents=True)
    (suite / "pytest.ini").write_text(_pytest_ini())
    report = "/tmp/suite-report.xml"
    result = image.run(
        ["python3", "-m", "pytest", "-c", "/tmp/suite/pytest.ini", "--rootdir", "/tmp/suite",
         "-q", f"--junitxml={report}", *SUITE],
        env={"PYTHONPATH": "/var/task:/tmp/suite/site"},
        tmp=image_tmp,
        binds=[(REPO_ROOT / "tests", "/tmp/suite/tests"), (REPO_ROOT / "examples", "/tmp/suite/examples"),
               (SITE_PACKAGES, "/tmp/suite/site")],
        check=False,
        timeout=1200,
    )  # fmt: skip
    # our own pytest's report, written a moment ago
    summary = ET.parse(image_tmp / Path(report).name).getroot().find("testsuite")  # noqa: S314
    assert summary is not None, result.stdout + result.stderr
    counts = {name: int(summary.get(name, "0")) for name in ("tests", "failures", "errors", "skipped")}
    print(f"\nin the image: {counts}")
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
    assert result.returncode == 0, tail
    assert counts["tests"] > 100 and counts["skipped"] == 0, (counts, tail)


def _sample_frames(path: Path, times: list[float], size: str = "64x36") -> list[bytes]:
    frames = []
    for at in times:
        frames.append(
            subprocess.run(
                ["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1",
                 "-vf", f"scale={size}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                check=True, capture_output=True,
            ).stdout
        )  # fmt: skip
    return frames


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return float(out)


def test_a_request_renders_alike_on_the_host_and_in_the_image(image: Image, image_tmp: Path) -> None:
    """examples/request.json (titles with the font, a logo, two clips, music) at 640x360: the same frame
    count and duration, and sampled frames within a few levels (the two ffmpeg builds' x264 differ)."""
    work = image_tmp / "parity"
    assets = work / "assets"
    assets.mkdir(parents=True)
    work.chmod(0o777)  # the image's user writes its output here
    subprocess.run(
        [str(REPO_ROOT / "examples" / "make-media.sh"), str(assets)], check=True, capture_output=True
    )
    request = json.loads((REPO_ROOT / "examples" / "request.json").read_text())
    for asset in request["assets"]:
        asset["s3Key"] = f"assets/{asset['src']}"
    request["output"].update(width=640, height=360)
    (work / "request.json").write_text(json.dumps(request))
    host_out, image_out = work / "host.mp4", work / "image.mp4"
    subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "render", str(work / "request.json"),
         "--assets-dir", str(work), "--output", str(host_out)],
        check=True, cwd=REPO_ROOT,
    )  # fmt: skip
    image.run(
        ["python3", "-m", "render", "/tmp/parity/request.json", "--assets-dir", "/tmp/parity",
         "--output", "/tmp/parity/image.mp4"],
        tmp=image_tmp,
    )  # fmt: skip
    assert frame_count(image_out) == frame_count(host_out) == 300
    assert abs(_duration(image_out) - _duration(host_out)) < 1 / 30
    times = [0.5, 2.0, 4.5, 6.0, 9.5]
    for at, host_frame, image_frame in zip(
        times, _sample_frames(host_out, times), _sample_frames(image_out, times), strict=True
    ):
        mean_difference = sum(abs(a - b) for a, b in zip(host_frame, image_frame, strict=True)) / len(
            host_frame
        )
        assert mean_difference < 4, f"frame at {at} s differs by {mean_difference:.1f} levels on average"


def test_the_ffmpeg_in_the_image_is_the_one_the_labels_name(image: Image) -> None:
    version = image.run(["ffmpeg", "-hide_banner", "-version"]).stdout
    upstream = re.match(r"ffmpeg version (\S+)", version)
    assert upstream is not None
    assert image.labels["org.debian.package.ffmpeg"].endswith(upstream.group(1))
