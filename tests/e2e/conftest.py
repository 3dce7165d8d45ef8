"""End-to-end fixtures: the deployed local stack, media uploaded through presigned URLs, a summary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e import media
from tests.e2e.stack import LATENCIES, TIMINGS, Stack
from video_export.client import EXT_TYPES

# the media types the Python client sends (tests/unit/clients/test_contract.py ties them to the API's)
CONTENT_TYPES = EXT_TYPES


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack() -> Stack:
    deployed = Stack.discover()
    health = requests.get(deployed.api_url + "/health", timeout=60)
    assert health.status_code == 200, f"the local stack is not healthy: {health.status_code} {health.text}"
    return deployed


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def source_files(media_dir: Path) -> dict[str, Path]:
    """Two clips with audio (red 440 Hz, blue 880 Hz), a green image and a music track."""
    return {
        "red.mp4": media.solid_clip_with_tone(media_dir / "red.mp4", "red", 440),
        "blue.mp4": media.solid_clip_with_tone(media_dir / "blue.mp4", "blue", 880),
        "logo.png": media.still_image(media_dir / "logo.png", "lime"),
        "music.mp3": media.music_track(media_dir / "music.mp3"),
    }


def presign_and_upload(stack: Stack, files: dict[str, Path]) -> dict[str, str]:
    """POST /export/presign, then PUT each file to its URL; returns src → s3Key."""
    assets = [
        {"src": src, "contentType": CONTENT_TYPES[path.suffix], "ext": path.suffix}
        for src, path in files.items()
    ]
    response = stack.post_json("/export/presign", {"assets": assets})
    assert response.status_code == 200, response.text
    keys = {}
    for upload in response.json()["uploads"]:
        data = files[upload["src"]].read_bytes()
        put = requests.put(upload["uploadUrl"], data=data, headers=upload["headers"], timeout=60)
        assert put.status_code == 200, put.text
        keys[upload["src"]] = upload["s3Key"]
    return keys


@pytest.fixture(scope="session")
def uploaded(stack: Stack, source_files: dict[str, Path]) -> dict[str, str]:
    started = time.perf_counter()
    keys = presign_and_upload(stack, source_files)
    TIMINGS["presign + upload of 4 files"] = f"{time.perf_counter() - started:.2f} s"
    return keys


def one_clip_request(src: str, s3_key: str, *, end: float = 1.0) -> dict[str, Any]:
    """The smallest export: one video clip, 160x90 at 10 fps."""
    return {
        "timeline": {
            "editorData": [
                {"id": "r", "actions": [{"id": "a", "start": 0, "end": end, "effectId": "video",
                                         "data": {"src": src}}]}
            ]
        },
        "assets": [{"src": src, "s3Key": s3_key}],
        "output": {"width": 160, "height": 90, "fps": 10},
    }  # fmt: skip


def showcase_request(keys: dict[str, str]) -> dict[str, Any]:
    """A 4-second timeline using every kind of action, a title and layering (top row in front).

    0-2 s red clip (trimmed 0.5 s in), 2-4 s blue clip; the green logo in the top-left corner from 1 to
    3 s; a title in the bottom band; music under everything. Output 320x180 at 15 fps.
    """
    return {
        "timeline": {
            "editorData": [
                {
                    "id": "titles",
                    "actions": [
                        {
                            "id": "title",
                            "start": 0,
                            "end": 1.5,
                            "effectId": "text",
                            "data": {
                                "text": 'Base44 "export": 100% \\ done ✓',
                                "fontSize": 16,
                                "color": "#ffffff",
                                "x": 0,
                                "y": 140,
                                "width": 320,
                                "height": 40,
                            },
                        }
                    ],
                },
                {
                    "id": "overlay",
                    "actions": [
                        {
                            "id": "logo",
                            "start": 1,
                            "end": 3,
                            "effectId": "image",
                            "data": {"src": "logo.png", "x": 0, "y": 0, "width": 80, "height": 45},
                        }
                    ],
                },
                {
                    "id": "main",
                    "actions": [
                        {
                            "id": "clip-red",
                            "start": 0,
                            "end": 2,
                            "effectId": "video",
                            "data": {"src": "red.mp4", "trimStart": 0.5},
                        },
                        {
                            "id": "clip-blue",
                            "start": 2,
                            "end": 4,
                            "effectId": "video",
                            "data": {"src": "blue.mp4", "muted": True},
                        },
                    ],
                },
                {
                    "id": "music",
                    "actions": [
                        {
                            "id": "bed",
                            "start": 0,
                            "end": 3,
                            "effectId": "audio",
                            "data": {"src": "music.mp3", "volume": 0.5},
                        }
                    ],
                },
            ]
        },
        "assets": [{"src": src, "s3Key": key} for src, key in keys.items()],
        "output": {"width": media.WIDTH, "height": media.HEIGHT, "fps": media.FPS},
    }


@pytest.fixture(scope="session")
def fanout_settings(stack: Stack) -> dict[str, float]:
    """The deployed worker's fan-out settings (what the split used)."""
    config = stack.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["worker_function_name"]
    )
    env = config["Environment"]["Variables"]
    return {
        name: float(env[name])
        for name in ("FANOUT_THRESHOLD_SECONDS", "FANOUT_MAX_CHUNKS", "FANOUT_MIN_CHUNK_SECONDS")
    }


@pytest.fixture(scope="session")
def seconds(fanout_settings: dict[str, float]) -> float:
    """A timeline just over the threshold: several chunks, little render time."""
    return fanout_settings["FANOUT_THRESHOLD_SECONDS"] + 2


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("downloads")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not LATENCIES.samples and not TIMINGS:
        return
    terminalreporter.section("end-to-end summary")
    for outcome in ("passed", "failed", "error", "skipped"):
        reports = terminalreporter.stats.get(outcome, [])
        tests = [r.nodeid.split("::", 1)[-1] for r in reports if getattr(r, "nodeid", "")]
        if tests:
            terminalreporter.write_line(f"{outcome} ({len(tests)}):")
            for test in tests:
                terminalreporter.write_line(f"  {test}")
    terminalreporter.write_line("signed API calls through LocalStack's API Gateway:")
    for line in LATENCIES.summary_lines():
        terminalreporter.write_line("  " + line)
    for name, value in TIMINGS.items():
        terminalreporter.write_line(f"{name}: {value}")
    terminalreporter.write_line(
        "The stack stays up for inspection (make dev-status); `make dev-down` clears it."
    )
