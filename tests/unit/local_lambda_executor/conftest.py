"""The executor package lives in LocalStack's venv; its LocalStack-free modules are tested from source
(pytest's `pythonpath` has `tools/local_lambda_executor`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.local_lambda_executor.fake_endpoint import FakeEndpoint, serve_fake_endpoint


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    with serve_fake_endpoint() as fake:
        yield fake
