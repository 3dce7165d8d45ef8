"""What the image holds and how it runs: the versions it was built from, its user and read-only root,
and every shared library present (the dpkg excludes of functions/worker/image/dpkg-excludes leave out
only what nothing loads)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from render.ass import FONT_FAMILY
from tests.image.conftest import REPO_ROOT, Image, image_engine

APT_PACKAGES = [
    line
    for line in (REPO_ROOT / "functions" / "worker" / "image" / "apt-packages").read_text().splitlines()
    if line and not line.startswith("#")
]


def test_the_debian_versions_are_labels_of_the_image(image: Image) -> None:
    for package in APT_PACKAGES:
        assert image.labels.get(f"org.debian.package.{package}"), package
    ffmpeg = image.run(["ffmpeg", "-hide_banner", "-version"]).stdout.splitlines()[0]
    assert image.labels["org.debian.package.ffmpeg"].split(":")[-1] in ffmpeg


def test_python_is_the_projects_one_minor_version(image: Image) -> None:
    wanted = (REPO_ROOT / ".python-version").read_text().strip()
    version = image.run(["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout
    assert version.strip() == wanted


def test_the_entry_point_is_the_runtime_interface_client_and_the_handler(image: Image) -> None:
    assert image.config["Entrypoint"] == ["/usr/bin/python3", "-m", "awslambdaric"]
    assert image.config["Cmd"] == ["export_worker.handler.lambda_handler"]
    image.run(["python3", "-c", "import awslambdaric, export_worker.handler"])


def test_it_runs_unprivileged_on_a_read_only_root_with_only_tmp_writable(
    image: Image, image_tmp: Path
) -> None:
    script = (
        "id -u; "
        "for d in / /var/task /usr /etc /opt; do touch $d/.probe 2>/dev/null && echo writable:$d; done; "
        "touch /tmp/.probe && echo tmp-ok"
    )
    out = image.run(["sh", "-c", script], tmp=image_tmp).stdout.split()
    assert out[0] != "0"
    assert out[1:] == ["tmp-ok"]
    assert (image_tmp / ".probe").exists()


def test_ffmpeg_ffprobe_and_the_renderers_fonts_exist(image: Image) -> None:
    env = dict(item.split("=", 1) for item in image.config["Env"])  # type: ignore[union-attr]
    for name in ("FFMPEG_PATH", "FFPROBE_PATH"):
        image.run(["test", "-s", env[name]])
    # fontconfig finds the text font itself and a font for each script of the fallback chain
    assert image.run(["fc-match", "-f", "%{family}", FONT_FAMILY]).stdout.startswith(FONT_FAMILY)
    for script in ("ar", "he", "hi", "th", "zh-cn", "ja", "ru", "el"):
        assert image.run(["fc-list", f":lang={script}", "family"]).stdout.strip(), script
    filters = image.run(["ffmpeg", "-hide_banner", "-filters"]).stdout
    for name in ("drawtext", "overlay", "amix", "scale", "fps", "concat", "loudnorm", "afade"):
        assert f" {name} " in filters, name
    encoders = image.run(["ffmpeg", "-hide_banner", "-encoders"]).stdout
    assert " libx264 " in encoders and " aac " in encoders


def test_no_library_in_the_image_misses_a_dependency(image: Image) -> None:
    """ldd over every ELF file the worker can load: ffmpeg, ffprobe, python3, every shared library of the
    system and every extension module of the task root."""
    script = (
        "for f in /usr/bin/ffmpeg /usr/bin/ffprobe /usr/bin/python3 /usr/lib/*/*.so* "
        "$(find /var/task /usr/lib/python3* -name '*.so'); do "
        '  [ -f "$f" ] || continue; '
        "  missing=$(ldd \"$f\" 2>/dev/null | grep 'not found'); "
        '  [ -z "$missing" ] || echo "$f: $missing"; '
        "done"
    )
    missing = image.run(["sh", "-c", script]).stdout.strip()
    assert missing == ""


def test_these_checks_fail_on_an_image_without_ffprobe_or_the_font(image: Image, tmp_path: Path) -> None:
    """The negative control: the same image with ffprobe and the font removed fails the checks above."""
    broken = image.ref.rsplit(":", 1)[0] + ":broken-for-image-test"
    containerfile = (
        f"FROM {image.ref}\nUSER 0\n"
        "RUN rm /usr/bin/ffprobe /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf\n"
        f"USER {image.config['User']}\n"
    )
    (tmp_path / "Containerfile").write_text(containerfile)
    engine = image_engine()
    build = [engine, "build", "-q", "-t", broken, "-f", str(tmp_path / "Containerfile"), str(tmp_path)]
    if engine == "podman":
        build.insert(2, "--isolation=chroot")
    subprocess.run(build, check=True, capture_output=True)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
             "-k", "ffprobe_and_the_renderers_fonts"],
            check=False, capture_output=True, text=True, env={**os.environ, "IMAGE_REF": broken},
        )  # fmt: skip
    finally:
        subprocess.run([engine, "rmi", "-f", broken], check=False, capture_output=True)
    assert result.returncode == 1, result.stdout
    assert "1 failed" in result.stdout
