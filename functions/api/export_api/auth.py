"""HMAC authentication of ``/export*``: the secrets (cached; the previous one in its grace), the replay guard.

The signing rule itself lives in ``export_common.signing``; this module supplies what the rule needs at
run time and records each accepted signature so that it cannot be used twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from export_common.aws import SecretProvider
from export_common.errors import ErrorCode, ServiceError
from export_common.signing import MAX_CLOCK_SKEW_MS, VerifiedSignature, verify
from export_common.table import SignatureStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

logger = Logger(child=True)


class ReplayGuard:
    """Remembers accepted signatures in the jobs table; a second use within the window is rejected."""

    def __init__(self, table: Table, *, clock: Callable[[], float] = time.time):
        self._store = SignatureStore(table, clock=clock)

    def check_and_remember(self, signature: str) -> None:
        if not self._store.remember(signature):
            raise ServiceError(
                ErrorCode.REPLAYED_REQUEST, "This signed request was already used; sign it again."
            )


class Authenticator:
    """Checks the signature against every accepted secret and path spelling, then the replay guard."""

    def __init__(
        self,
        secrets: SecretProvider,
        replay_guard: ReplayGuard,
        *,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ):
        self._secrets = secrets
        self._replay_guard = replay_guard
        self._clock_ms = clock_ms

    def authenticate(
        self,
        *,
        timestamp: str | None,
        signature: str | None,
        method: str,
        paths: Sequence[str],
        raw_body: bytes,
    ) -> VerifiedSignature:
        kwargs: dict[str, Any] = {
            "timestamp": timestamp,
            "signature": signature,
            "method": method,
            "paths": paths,
            "raw_body": raw_body,
            "now_ms": self._clock_ms(),
        }
        # A mismatch never refreshes the cache: anonymous traffic cannot make the API call Secrets Manager,
        # and a rotated secret is picked up when the cache expires (secret_cache_seconds).
        try:
            verified = verify((self._secrets.current(),), **kwargs)
        except ServiceError as error:
            previous = self._secrets.previous()  # None once the grace window is over
            if error.code is not ErrorCode.INVALID_SIGNATURE or previous is None:
                raise
            verified = verify((previous,), **kwargs)
            # Signed with the previous secret: accepted only while it is still AWSPREVIOUS, asked each
            # time, so `make revoke-previous-secret` ends it at once (only such requests pay the call).
            if not self._secrets.previous_still_staged():
                raise
            logger.info("request signed with the previous secret (rotation grace)")
        self._replay_guard.check_and_remember(verified.signature)
        return verified


__all__ = ["MAX_CLOCK_SKEW_MS", "Authenticator", "ReplayGuard", "SecretProvider"]
