"""Rotation with a grace window, and a revoke, through the deployed API (the local root: a 20 s grace and a
2 s secret cache). The secret is rotated by the code `make rotate-secret` runs (scripts.secret_rotation), and
put back afterwards so the rest of the suite signs with the secret it read at the start."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from scripts.secret_rotation import revoke_previous, rotate
from tests.e2e.stack import Stack


def _answer(stack: Stack, secret: str) -> tuple[int, str]:
    """GET of an unknown job signed with ``secret``: 404 when the signature is accepted, else 401 + code."""
    response = stack.request("GET", f"/export/{uuid.uuid4()}", secret=secret)
    return response.status_code, response.json()["code"]


ACCEPTED = (404, "NOT_FOUND")
REFUSED = (401, "INVALID_SIGNATURE")


def _api_setting(stack: Stack, name: str) -> int:
    config = stack.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["api_function_name"]
    )
    return int(config["Environment"]["Variables"][name])


@pytest.fixture
def secrets(stack: Stack) -> Iterator[Any]:
    """The Secrets Manager client; afterwards the suite's secret is current again (and in use)."""
    client = stack.client("secretsmanager")
    yield client
    client.put_secret_value(SecretId=stack.outputs["export_signing_secret_arn"], SecretString=stack.secret)
    deadline = time.monotonic() + 30
    while _answer(stack, stack.secret) != ACCEPTED:
        assert time.monotonic() < deadline, "the suite's secret was not accepted again"
        time.sleep(0.5)


def _rotated(stack: Stack, secrets: Any) -> tuple[str, float]:
    """Rotates the signing secret; returns the new value and its creation time, once the API uses it."""
    arn = stack.outputs["export_signing_secret_arn"]
    rotate(secrets, arn)
    current = secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    time.sleep(_api_setting(stack, "SIGNING_SECRET_CACHE_SECONDS") + 1)  # every warm API cache has expired
    return current["SecretString"], current["CreatedDate"].timestamp()


def test_the_old_secret_is_accepted_inside_the_grace_and_refused_after_it(stack: Stack, secrets: Any) -> None:
    grace = _api_setting(stack, "PREVIOUS_SECRET_GRACE_SECONDS")
    assert grace == stack.outputs["previous_secret_grace_seconds"] <= 60, "the local root's short grace"
    new, created = _rotated(stack, secrets)
    assert new != stack.secret
    assert _answer(stack, new) == ACCEPTED
    assert time.time() < created + grace
    assert _answer(stack, stack.secret) == ACCEPTED  # inside the grace
    time.sleep(max(0.0, created + grace + 1 - time.time()))
    assert _answer(stack, stack.secret) == REFUSED  # after it
    assert _answer(stack, new) == ACCEPTED


def test_a_revoked_previous_secret_is_refused_at_once(stack: Stack, secrets: Any) -> None:
    new, _ = _rotated(stack, secrets)
    assert _answer(stack, stack.secret) == ACCEPTED  # the grace has begun
    assert revoke_previous(secrets, stack.outputs["export_signing_secret_arn"]) is not None
    assert _answer(stack, stack.secret) == REFUSED  # the very next request, no cache interval waited
    assert _answer(stack, new) == ACCEPTED
