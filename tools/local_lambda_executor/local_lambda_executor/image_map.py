"""Container-image functions: the image URI names an entry of a JSON map, which says how the image runs.

The map (`LOCAL_LAMBDA_IMAGE_HANDLERS`, written by `scripts/local_stack/up.sh`) has one entry per image;
keys may be a full image URI, `repo:tag` or just the repository name. An entry is either

* the **built image** (`LOCAL_LAMBDA_IMAGES=built`, the default): the root file system of the image
  (`podman image mount`) and its configuration (`podman image inspect --format '{{json .Config}}'`):
  `{"image": "localhost/video-export-worker:dev", "imageId": "...", "rootfs": "/.../merged",
  "enter": "<repo>/scripts/image/enter.sh",
  "config": {"User": "993:993", "Env": [...], "WorkingDir": "/var/task", "Entrypoint": [...], "Cmd": [...]}}`.
  The function runs the image's entry point inside that file system (`ImageRootfs`), entered with the
  `enter` script (the repository's `scripts/image/enter.sh`, which `make image-test` uses too);
* or this repository's **source** (`LOCAL_LAMBDA_IMAGES=source`):
  `{"pythonpath": ["<repo>/functions/worker", ...], "handler": "pkg.mod.func"}`, run by `runtime.py`
  with the project's interpreter.

The function's `ImageConfig` (command, entry point, working directory) wins over the image's, as on Lambda.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ImageMapError(Exception):
    """The image function cannot be mapped to an image or to local code."""


@dataclass(frozen=True)
class ImageRootfs:
    """A built image to run a function in: its mounted root file system and its configuration."""

    reference: str
    rootfs: str
    user: str  # "uid:gid", numeric
    env: dict[str, str]
    workdir: str
    command: list[str]  # entry point + command
    enter: str  # the script that runs a command in the root file system

    @property
    def uid(self) -> int:
        return int(self.user.split(":", 1)[0])

    @property
    def gid(self) -> int:
        return int(self.user.split(":", 1)[1])


class ImageHandler:
    """How a container-image function runs: in its built image (`rootfs`), or from this repository's code."""

    def __init__(
        self,
        pythonpath: list[str],
        handler: str | None,
        workdir: str | None = None,
        rootfs: ImageRootfs | None = None,
    ) -> None:
        self.pythonpath = pythonpath
        self.handler = handler
        self.workdir = workdir
        self.rootfs = rootfs


def image_key_candidates(image_uri: str) -> list[str]:
    """Keys tried in the image map, most specific first: full URI, `repo:tag`, `repo`."""
    without_digest = image_uri.split("@", 1)[0]
    last = without_digest.rsplit("/", 1)[-1]
    repo = last.split(":", 1)[0]
    return [image_uri, without_digest, last, repo]


def resolve_image_handler(
    image_uri: str,
    command: list[str] | None,
    mapping_file: str | None,
    entrypoint: list[str] | None = None,
    working_directory: str | None = None,
) -> ImageHandler:
    """Maps an image function to its image or to local code; the function's ImageConfig wins."""
    if not mapping_file or not Path(mapping_file).is_file():
        raise ImageMapError(
            f"Image function {image_uri!r}: no image map (set LOCAL_LAMBDA_IMAGE_HANDLERS to a JSON file)"
        )
    mapping: dict[str, dict[str, Any]] = json.loads(Path(mapping_file).read_text())
    for key in image_key_candidates(image_uri):
        if key in mapping:
            entry = mapping[key]
            if "rootfs" in entry:
                return ImageHandler(
                    [], None, rootfs=image_rootfs(entry, command, entrypoint, working_directory)
                )
            handler = command[0] if command else entry.get("handler")
            return ImageHandler(list(entry.get("pythonpath", [])), handler, entry.get("workdir"))
    raise ImageMapError(
        f"Image function {image_uri!r} is not in {mapping_file}"
        f" (keys tried: {image_key_candidates(image_uri)})"
    )


def image_rootfs(
    entry: dict[str, Any],
    command: list[str] | None = None,
    entrypoint: list[str] | None = None,
    working_directory: str | None = None,
) -> ImageRootfs:
    """The built image of a map entry, with the function's ImageConfig overrides applied."""
    reference = str(entry.get("image") or "?")
    rootfs = str(entry["rootfs"])
    if not Path(rootfs, "usr").is_dir():
        raise ImageMapError(
            f"The root file system of {reference} is not mounted at {rootfs}"
            " (make dev-down && make dev-up mounts it again)"
        )
    config: dict[str, Any] = entry.get("config") or {}
    argv = list(entrypoint or config.get("Entrypoint") or []) + list(command or config.get("Cmd") or [])
    if not argv:
        raise ImageMapError(f"Image {reference} has neither an entry point nor a command")
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    return ImageRootfs(
        reference=reference,
        rootfs=rootfs,
        user=numeric_user(str(config.get("User") or "0:0"), Path(rootfs)),
        env=env,
        workdir=working_directory or str(config.get("WorkingDir") or "/"),
        command=argv,
        enter=_enter_script(entry, reference),
    )


def _enter_script(entry: dict[str, Any], reference: str) -> str:
    """The repository's `scripts/image/enter.sh` (make image-test runs the image through it too)."""
    enter = str(entry.get("enter") or "")
    if not Path(enter).is_file():
        raise ImageMapError(f"The image map entry of {reference} names no enter script (got {enter!r})")
    return enter


def numeric_user(user: str, rootfs: Path) -> str:
    """`uid:gid` of an image's `USER` (`name`, `uid`, `name:group`, `uid:gid`), names looked up in the
    image's own /etc/passwd and /etc/group. Without a group: the user's primary group, else 0 (Docker's
    rule)."""
    name, _, group = user.partition(":")
    users = _table(rootfs / "etc/passwd")
    if name.isdigit():
        uid = int(name)
        primary = next((int(f[3]) for f in users.values() if len(f) > 3 and f[2] == name), 0)
    elif name in users and len(users[name]) > 3:
        uid, primary = int(users[name][2]), int(users[name][3])
    else:
        raise ImageMapError(f"Image user {name!r} is not in {rootfs}/etc/passwd")
    if not group:
        return f"{uid}:{primary}"
    if group.isdigit():
        return f"{uid}:{group}"
    groups = _table(rootfs / "etc/group")
    if group not in groups or len(groups[group]) < 3:
        raise ImageMapError(f"Image group {group!r} is not in {rootfs}/etc/group")
    return f"{uid}:{int(groups[group][2])}"


def _table(path: Path) -> dict[str, list[str]]:
    """A passwd/group file by name (empty when the image has none)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    return {fields[0]: fields for fields in (line.split(":") for line in lines) if fields[0]}
