"""Fixtures of the Node client tests: the API over HTTP, and the module run on Node and on Deno."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.api.api_stack import Stack
from tests.unit.api.conftest import stack  # noqa: F401 - the moto-backed stack, shared with the API tests
from tests.unit.clients.api_server import ApiServer, serve_api
from tests.unit.clients.runtimes import RUNTIMES, Runtime, deno_binary


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Runtime:
    if request.param == "node":
        assert shutil.which("node"), "node is not installed (make system-deps)"
    else:
        deno_binary()
    return Runtime(request.param, tmp_path)


@pytest.fixture
def api(stack: Stack) -> Iterator[ApiServer]:  # noqa: F811 - the imported fixture
    """The API under stage ``v1``, presigned S3 URLs relayed to moto."""
    with serve_api(stack, relay_s3=True) as server:
        yield server
