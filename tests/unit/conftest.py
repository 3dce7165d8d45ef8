"""Fixtures shared by the unit tests: a moto-backed AWS account with the stack's resources."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.loaders
import pytest
from moto import mock_aws

from tests.markers import FFMPEG_FIXTURES, NODE_PATHS, REALTIME_PATHS, requires_ffmpeg

REGION = "us-east-1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a media-making fixture needs ffmpeg; Node and real-time tests are marked by their
    path (``make unit-fast`` leaves all three out)."""
    for item in items:
        if FFMPEG_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(requires_ffmpeg)
        where = item.nodeid.removeprefix("tests/unit/")
        if where.startswith(NODE_PATHS):
            item.add_marker(pytest.mark.node)
        if where.startswith(REALTIME_PATHS):
            item.add_marker(pytest.mark.realtime)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """ffmpeg missing: skipped on a workstation, a failure in CI (where a skip would hide lost coverage)."""
    if item.get_closest_marker("ffmpeg") is None:
        return
    if shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("ffmpeg/ffprobe are not installed, and CI must run every ffmpeg-backed test")
    pytest.skip("ffmpeg is not installed")


@pytest.fixture(autouse=True)
def _isolated_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No unit test may reach a real endpoint or real credentials."""
    for name in list(os.environ):
        if name.startswith("AWS_") and name not in ("AWS_LAMBDA_FUNCTION_NAME",):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture(scope="session", autouse=True)
def _parsed_aws_models_shared() -> Iterator[None]:
    """Every ``mock_aws()`` gives boto3 a new default session, and each session's new loader parses the
    service models' JSON again: most of a moto-backed test's set-up. Parsed models are read-only data (a
    session hands the same objects to all its clients), so loaders with the same search paths share one
    cache of them. Sessions, clients and moto's accounts stay one per test."""
    caches: dict[tuple[str, ...], dict[Any, Any]] = {}

    def shared_cache(loader: botocore.loaders.Loader) -> dict[Any, Any]:
        return caches.setdefault(tuple(loader.search_paths), {})

    with pytest.MonkeyPatch.context() as patch:
        # Loader.__init__ assigns ``self._cache = {}``: the setter ignores it
        patch.setattr(
            botocore.loaders.Loader, "_cache", property(shared_cache, lambda loader, _: None), raising=False
        )
        yield


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def jobs_table(aws: None) -> Any:
    """The jobs table as Terraform creates it: hash key ``pk``, TTL on ``expiresAt``."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = dynamodb.create_table(
        TableName="jobs",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists()
    return table
