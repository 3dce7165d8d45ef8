"""How an image environment starts: the command that enters the image and runs the Runtime API bridge,
and its /tmp. LocalStack-free (standard library only), so the unit tests run the very same command.

    <enter script> ROOTFS --user UID:GID --tmp DIR --workdir DIR --bind <this package>:/mnt:ro
        [--bind /etc/hosts:/etc/hosts:ro] [--bind /etc/resolv.conf:/etc/resolv.conf:ro]
        -- <the image's python> -I -c <bootstrap> /mnt

`-I`: the bridge ignores the image's and the function's PYTHON* variables (its runtime child gets them).

The enter script is the image map's: the repository's `scripts/image/enter.sh`, which `make image-test`
runs the image through too. The bridge (`runtime_api.py`) then starts the image's entry point.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from local_lambda_executor.image_map import ImageRootfs

# Where this package is mounted (read-only) in the image. The mount point must exist in the image: /mnt
# does in Debian's.
PACKAGE_PARENT = Path(__file__).resolve().parent.parent
RUNTIME_MOUNT = "/mnt"
BRIDGE_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); from local_lambda_executor.runtime_api import main; main()"
)
# The bridge's interpreter when the entry point is not a python.
IMAGE_PYTHON = "/usr/bin/python3"
# The host's, read-only, where the image has them: Lambda's sandbox provides them, not the image (an
# image built by podman has an empty /etc/hosts: no `localhost`).
HOST_FILES = ("/etc/hosts", "/etc/resolv.conf")


def fresh_tmp(image: ImageRootfs, path: Path) -> None:
    """An empty /tmp for a (re)started environment, the image's user's."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    path.chmod(0o1777)
    with contextlib.suppress(PermissionError):  # not root: 1777 lets the image's user write all the same
        shutil.chown(path, image.uid, image.gid)


def enter_command(image: ImageRootfs, tmp: Path) -> list[str]:
    """The argv of an image environment: the bridge, inside the image, as the image's user."""
    command0 = Path(image.command[0]).name
    python = image.command[0] if command0.startswith("python") else IMAGE_PYTHON
    binds = [f"{PACKAGE_PARENT}:{RUNTIME_MOUNT}:ro"]
    binds += [f"{path}:{path}:ro" for path in HOST_FILES if Path(image.rootfs + path).is_file()]
    return [
        image.enter,
        image.rootfs,
        "--user",
        image.user,
        "--tmp",
        str(tmp),
        "--workdir",
        image.workdir,
        *[argument for bind in binds for argument in ("--bind", bind)],
        "--",
        python,
        "-I",
        "-c",
        BRIDGE_BOOTSTRAP,
        RUNTIME_MOUNT,
    ]
