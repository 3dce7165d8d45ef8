"""Image map entries of a built image (`rootfs`): the image's configuration, the function's overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_lambda_executor.image_map import ImageMapError, numeric_user, resolve_image_handler

ENTER_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "image" / "enter.sh"

CONFIG = {
    "User": "993:993",
    "Env": ["PATH=/usr/bin:/bin", "FFMPEG_PATH=/usr/bin/ffmpeg", "EMPTY=", "A=b=c"],
    "WorkingDir": "/var/task",
    "Entrypoint": ["/usr/bin/python3", "-m", "awslambdaric"],
    "Cmd": ["export_worker.handler.lambda_handler"],
}


def _rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "usr").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nworker:x:993:994::/tmp:/usr/sbin/nologin\n")
    (root / "etc/group").write_text("root:x:0:\nvideo:x:44:\nworker:x:994:\n")
    return root


def _map(tmp_path: Path, config: dict[str, Any], rootfs: Path) -> str:
    path = tmp_path / "image-handlers.json"
    entry = {
        "image": "localhost/video-export-worker:dev",
        "rootfs": str(rootfs),
        "config": config,
        "enter": str(ENTER_SCRIPT),
    }
    path.write_text(json.dumps({"video-export-worker": entry}))
    return str(path)


def test_a_rootfs_entry_runs_the_images_entry_point_as_its_user(tmp_path: Path) -> None:
    rootfs = _rootfs(tmp_path)
    mapping = _map(tmp_path, CONFIG, rootfs)

    image = resolve_image_handler(
        "000000000000.dkr.ecr.us-east-1.amazonaws.com/video-export-worker:x", None, mapping
    )

    assert image.rootfs is not None
    assert image.rootfs.rootfs == str(rootfs)
    assert image.rootfs.command == [
        "/usr/bin/python3",
        "-m",
        "awslambdaric",
        "export_worker.handler.lambda_handler",
    ]
    assert image.rootfs.user == "993:993" and (image.rootfs.uid, image.rootfs.gid) == (993, 993)
    assert image.rootfs.workdir == "/var/task"
    assert image.rootfs.env == {
        "PATH": "/usr/bin:/bin",
        "FFMPEG_PATH": "/usr/bin/ffmpeg",
        "EMPTY": "",
        "A": "b=c",
    }


def test_the_functions_image_config_wins(tmp_path: Path) -> None:
    mapping = _map(tmp_path, CONFIG, _rootfs(tmp_path))

    image = resolve_image_handler(
        "video-export-worker:dev",
        ["other.handler"],
        mapping,
        entrypoint=["/bin/sh", "-c"],
        working_directory="/w",
    )

    assert image.rootfs is not None
    assert image.rootfs.command == ["/bin/sh", "-c", "other.handler"]
    assert image.rootfs.workdir == "/w"


def test_an_unmounted_rootfs_says_how_to_mount_it(tmp_path: Path) -> None:
    mapping = _map(tmp_path, CONFIG, tmp_path / "gone")

    with pytest.raises(ImageMapError, match=r"not mounted.*make dev-down && make dev-up"):
        resolve_image_handler("video-export-worker", None, mapping)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("993:993", "993:993"),
        ("worker", "993:994"),  # the user's primary group
        ("993", "993:994"),
        ("worker:video", "993:44"),
        ("1234", "1234:0"),  # no passwd entry: group 0, as Docker does
        ("", "0:0"),
    ],
)
def test_image_users_become_numeric(tmp_path: Path, user: str, expected: str) -> None:
    assert numeric_user(user or "0", _rootfs(tmp_path)) == expected


def test_an_unknown_user_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ImageMapError, match="nobody"):
        numeric_user("nobody", _rootfs(tmp_path))
