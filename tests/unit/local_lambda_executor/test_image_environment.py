"""An image environment as the executor starts it (`image_runtime.enter_command`), in the real worker image.

Needs the image (`make image`), podman and root (a mount namespace and chroot); skipped otherwise. The
handler is a probe written to the environment's /tmp, run by the image's awslambdaric: what it sees is
what the worker sees in the local stack.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_lambda_executor.image_map import ImageRootfs, image_rootfs
from local_lambda_executor.image_runtime import enter_command, fresh_tmp
from local_lambda_executor.runtime_api import COMMAND_VARIABLE
from tests.unit.local_lambda_executor.fake_endpoint import RUNTIME_ID, FakeEndpoint, free_port, post_invoke

ENTER_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "image" / "enter.sh"

IMAGE = os.environ.get("WORKER_IMAGE_REF", "localhost/video-export-worker:dev")

PROBE = """
    import os, subprocess, sys, time

    def handler(event, context):
        if event.get("hang"):  # a long ffmpeg, then past the timeout
            subprocess.Popen([os.environ["FFMPEG_PATH"], "-nostdin", "-loglevel", "error", "-re",
                              "-f", "lavfi", "-i", "testsrc", "-f", "null", "-"])
            time.sleep(60)
        try:
            open("/var/task/written", "w")
            root_writable = True
        except OSError:
            root_writable = False
        with open("/tmp/written", "w") as scratch:
            scratch.write("ok")
        ffmpeg = subprocess.run([os.environ["FFMPEG_PATH"], "-version"], capture_output=True, text=True)
        import awslambdaric
        return {
            "python": sys.executable, "version": list(sys.version_info[:2]),
            "uid": os.getuid(), "gid": os.getgid(), "root_writable": root_writable,
            "ffmpeg": ffmpeg.stdout.split("\\n", 1)[0], "ric": awslambdaric.__file__,
            "endpoint": os.environ.get("AWS_ENDPOINT_URL"), "hosts": open("/etc/hosts").read(),
        }
"""


def _usable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (a mount namespace and chroot)"
    if not (shutil.which("podman") and shutil.which("unshare") and shutil.which("chroot")):
        return "needs podman, unshare and chroot"
    if subprocess.run(["podman", "image", "exists", IMAGE], check=False).returncode != 0:
        return f"no image {IMAGE} (make image)"
    return None


pytestmark = pytest.mark.skipif(_usable() is not None, reason=str(_usable()))


@pytest.fixture(scope="module")
def image_entry() -> dict[str, Any]:
    def podman(*args: str) -> str:
        return subprocess.run(["podman", *args], check=True, capture_output=True, text=True).stdout.strip()

    config = json.loads(podman("image", "inspect", "--format", "{{json .Config}}", IMAGE))
    rootfs = podman("image", "mount", IMAGE)
    return {"image": IMAGE, "rootfs": rootfs, "config": config, "enter": str(ENTER_SCRIPT)}


@pytest.fixture
def environment(
    image_entry: dict[str, Any], endpoint: FakeEndpoint, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int, ImageRootfs, Path]]:
    image = image_rootfs(image_entry, command=["probe.handler"])
    tmp = tmp_path / "tmp"
    fresh_tmp(image, tmp)
    (tmp / "probe.py").write_text(textwrap.dedent(PROBE))
    port = free_port()
    env = dict(
        image.env,
        LOCAL_LAMBDA_PORT=str(port),
        LOCALSTACK_RUNTIME_ENDPOINT=endpoint.url,
        LOCALSTACK_RUNTIME_ID=RUNTIME_ID,
        AWS_LAMBDA_FUNCTION_TIMEOUT="3",
        AWS_ENDPOINT_URL="http://127.0.0.1:4566",
        LAMBDA_TASK_ROOT=image.workdir,
        PYTHONPATH="/tmp",  # a function variable: the probe lives in the environment's /tmp
        **{COMMAND_VARIABLE: json.dumps(image.command)},
    )
    log = (tmp_path / "environment.log").open("wb")
    process = subprocess.Popen(
        enter_command(image, tmp), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    yield process, port, image, tmp
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=5)
    log.close()


def test_the_handler_runs_in_the_image_as_its_user_on_a_read_only_root(
    environment: tuple[subprocess.Popen[bytes], int, ImageRootfs, Path], endpoint: FakeEndpoint
) -> None:
    process, port, image, tmp = environment
    endpoint.wait_for(f"/status/{RUNTIME_ID}/ready", timeout=30)

    post_invoke(port, "req-probe", {})

    seen = json.loads(endpoint.wait_for("/invocations/req-probe/response", timeout=30))
    assert seen["python"] == "/usr/bin/python3" and seen["version"] == [3, 13]  # Debian's, the image's
    assert seen["ric"].startswith("/var/task/awslambdaric/")  # the image's locked client
    assert (seen["uid"], seen["gid"]) == (image.uid, image.gid) != (0, 0)
    assert seen["root_writable"] is False
    assert (tmp / "written").read_text() == "ok"  # /tmp is the environment's directory
    assert seen["ffmpeg"].startswith("ffmpeg version 7.")  # the image's, not the host's
    assert seen["endpoint"] == "http://127.0.0.1:4566"  # the function's variables win over the image's
    assert "localhost" in seen["hosts"]  # the host's /etc/hosts, as Lambda's sandbox provides one
    assert os.getpgid(process.pid) == process.pid  # the bridge kept the pid the executor started


def test_a_timeout_kills_the_image_environment_and_its_ffmpeg(
    environment: tuple[subprocess.Popen[bytes], int, ImageRootfs, Path], endpoint: FakeEndpoint
) -> None:
    process, port, _, _ = environment
    endpoint.wait_for(f"/status/{RUNTIME_ID}/ready", timeout=30)

    post_invoke(port, "req-hang", {"hang": True})

    error = json.loads(endpoint.wait_for("/invocations/req-hang/error", timeout=30))
    assert error["errorType"] == "Sandbox.Timedout"
    process.wait(timeout=10)
    deadline = time.monotonic() + 5
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(process.pid)  # ffmpeg included


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
