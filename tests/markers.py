"""Markers shared by the test suites, defined once."""

from __future__ import annotations

import pytest

requires_ffmpeg = pytest.mark.ffmpeg
"""The test runs ffmpeg/ffprobe. Without them it is skipped on a workstation and fails in CI (``CI=true``):
see ``tests/unit/conftest.py``. ``make unit-fast`` leaves these tests out."""

# fixtures that make media with ffmpeg: a test using one needs ffmpeg even if it does not say so
FFMPEG_FIXTURES = frozenset({"bench", "clip_bytes", "long_clip", "media"})

# whole folders and modules that wait in real time or run Node/Deno and local HTTP servers: ``make unit``
# runs them, ``make unit-fast`` does not (their marks are added at collection, tests/unit/conftest.py)
NODE_PATHS = ("clients/",)
REALTIME_PATHS = (
    "local_lambda_executor/",
    "callbacks/test_callback_sender.py",
    "worker/test_parts.py::test_the_heartbeat",
    "worker/test_parts.py::test_a_refused_lease",
    "worker/test_parts.py::test_a_failing_call",
)
