"""AWS clients and handler bootstrap, the same for the three handlers (API, worker, callbacks).

One place for: the retry and timeout configuration of every client, S3's addressing (path-style only with
an endpoint override, i.e. LocalStack; virtual-hosted on AWS) and SigV4, the signing secret's provider,
and the Powertools logger the plain modules log through. boto3 reads ``AWS_ENDPOINT_URL`` itself, so no
client here branches on the environment. Nothing is created at import time: a handler builds its clients
once per cold start, on first use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from export_common.errors import ErrorCode, ServiceError

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import GetSecretValueResponseTypeDef
    from mypy_boto3_sqs import SQSClient

DEFAULT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)
"""Calls on a request's or a message's path: a few quick retries, then the caller's own error handling."""
HEARTBEAT_CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 2})
"""Heartbeat calls give up quickly: a late beat is worth less than the next one, and the lease outlives
one missed beat."""


def s3_config(*, endpoint_override: bool) -> Config:
    """SigV4 always (presigned URLs); path-style only with an endpoint override (LocalStack)."""
    return Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_override else "virtual"},
        retries={"mode": "standard"},
    )


class AwsClients:
    """The clients of one cold start, from one boto3 session (tests pass moto's)."""

    def __init__(self, *, endpoint_url: str | None, session: boto3.session.Session | None = None) -> None:
        self.session = session or boto3.session.Session()
        self._endpoint_override = endpoint_url is not None

    def s3(self) -> S3Client:
        return self.session.client("s3", config=s3_config(endpoint_override=self._endpoint_override))

    def sqs(self, config: Config = DEFAULT_CONFIG) -> SQSClient:
        return self.session.client("sqs", config=config)

    def table(self, name: str, config: Config = DEFAULT_CONFIG) -> Table:
        return self.session.resource("dynamodb", config=config).Table(name)

    def secrets(
        self, secret_id: str, *, ttl_seconds: float, grace_seconds: float | None = None
    ) -> SecretProvider:
        client = self.session.client("secretsmanager", config=DEFAULT_CONFIG)
        return SecretProvider(client, secret_id, ttl_seconds=ttl_seconds, grace_seconds=grace_seconds)


@dataclass(frozen=True)
class SecretVersions:
    """One read of a secret: its ``AWSCURRENT`` value and creation time, and ``AWSPREVIOUS`` (if any)."""

    current: str
    current_created_at: float
    """Unix seconds: when the current version was written (the rotation), which starts the grace window."""
    previous: str | None = None
    previous_version_id: str | None = None


class SecretProvider:
    """A secret's current value and, within the grace window of a rotation, its previous one.

    Values are cached for ``ttl_seconds``; nothing a caller sends forces an earlier read. ``AWSPREVIOUS`` is
    offered only until ``grace_seconds`` after the current version was created (``None``: no previous
    value at all, the webhook signer's case), checked against the wall clock at each use, so the grace
    ends on time whatever the cache holds. ``previous_still_staged`` asks Secrets Manager itself, so a
    revoke (``make revoke-previous-secret`` removes the ``AWSPREVIOUS`` stage) is honoured at once.
    """

    def __init__(
        self,
        client: SecretsManagerClient,
        secret_id: str,
        *,
        ttl_seconds: float = 60,
        grace_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self._client = client
        self._secret_id = secret_id
        self._ttl = ttl_seconds
        self._grace = grace_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._versions: SecretVersions | None = None
        self._fetched_at = float("-inf")

    def versions(self) -> SecretVersions:
        if self._versions is None or self._clock() - self._fetched_at >= self._ttl:
            self._fetch()
        assert self._versions is not None  # noqa: S101 - _fetch sets it or raises
        return self._versions

    def current(self) -> str:
        return self.versions().current

    def previous(self) -> str | None:
        """The previous value while its grace window lasts, else None."""
        versions = self.versions()
        if self._grace is None or versions.previous is None:
            return None
        if self._wall_clock() >= versions.current_created_at + self._grace:
            return None
        return versions.previous

    def secrets(self) -> tuple[str, ...]:
        """The accepted values: the current one, then the previous one within its grace window."""
        previous = self.previous()
        return (self.current(),) if previous is None else (self.current(), previous)

    def previous_still_staged(self) -> bool:
        """Whether the cached previous version is still ``AWSPREVIOUS`` (one DescribeSecret; not cached)."""
        version_id = self.versions().previous_version_id
        if version_id is None:
            return False
        described = self._client.describe_secret(SecretId=self._secret_id)
        return "AWSPREVIOUS" in described.get("VersionIdsToStages", {}).get(version_id, [])

    def _fetch(self) -> None:
        current = self._get("AWSCURRENT")
        if current is None or not current.get("SecretString"):
            raise ServiceError(ErrorCode.DEPENDENCY_UNAVAILABLE, "The signing secret is not available.")
        created = current.get("CreatedDate")
        previous = self._get("AWSPREVIOUS") if self._grace is not None else None
        self._versions = SecretVersions(
            current=current["SecretString"],
            current_created_at=created.timestamp() if created is not None else float("-inf"),
            previous=previous.get("SecretString") or None if previous is not None else None,
            previous_version_id=previous.get("VersionId") if previous is not None else None,
        )
        self._fetched_at = self._clock()

    def _get(self, stage: str) -> GetSecretValueResponseTypeDef | None:
        try:
            return self._client.get_secret_value(SecretId=self._secret_id, VersionStage=stage)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None  # no previous version (never rotated, or revoked)
            raise


def route_logs(logger: Logger, packages: Iterable[str]) -> None:
    """The plain modules of ``packages`` log through the stdlib: give them ``logger``'s JSON handler (and
    its appended keys)."""
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers  # noqa: PLC0415

    names = set(packages)
    for name in names:
        logging.getLogger(name)
    copy_config_to_registered_loggers(source_logger=logger, include=names)
