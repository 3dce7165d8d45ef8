"""The executor package lives in LocalStack's venv; its LocalStack-free modules are tested from source."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

EXECUTOR_SRC = Path(__file__).resolve().parents[3] / "scripts" / "local_lambda_executor"
if str(EXECUTOR_SRC) not in sys.path:
    sys.path.insert(0, str(EXECUTOR_SRC))


import pytest  # noqa: E402 (after the path set-up above)

from tests.unit.local_lambda_executor.fake_endpoint import FakeEndpoint, serve_fake_endpoint  # noqa: E402


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    with serve_fake_endpoint() as fake:
        yield fake
