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

    def secrets(self, secret_id: str, *, ttl_seconds: float) -> SecretProvider:
        client = self.session.client("secretsmanager", config=DEFAULT_CONFIG)
        return SecretProvider(client, secret_id, ttl_seconds=ttl_seconds)


class SecretProvider:
    """The accepted signing secrets (``AWSCURRENT`` then ``AWSPREVIOUS``), cached for ``ttl_seconds``."""

    def __init__(
        self,
        client: SecretsManagerClient,
        secret_id: str,
        *,
        ttl_seconds: float = 60,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._client = client
        self._secret_id = secret_id
        self._ttl = ttl_seconds
        self._clock = clock
        self._secrets: tuple[str, ...] = ()
        self._fetched_at = float("-inf")

    def secrets(self) -> tuple[str, ...]:
        if self._clock() - self._fetched_at >= self._ttl or not self._secrets:
            self._fetch()
        return self._secrets

    def age(self) -> float:
        return self._clock() - self._fetched_at

    def refresh(self) -> tuple[str, ...]:
        self._fetch()
        return self._secrets

    def _fetch(self) -> None:
        current = self._get("AWSCURRENT")
        if current is None:
            raise ServiceError(ErrorCode.DEPENDENCY_UNAVAILABLE, "The signing secret is not available.")
        previous = self._get("AWSPREVIOUS")
        self._secrets = tuple(s for s in (current, previous) if s)
        self._fetched_at = self._clock()

    def _get(self, stage: str) -> str | None:
        try:
            value = self._client.get_secret_value(SecretId=self._secret_id, VersionStage=stage)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None  # no previous version yet (never rotated)
            raise
        return value.get("SecretString") or None


def route_logs(logger: Logger, packages: Iterable[str]) -> None:
    """The plain modules of ``packages`` log through the stdlib: give them ``logger``'s JSON handler (and
    its appended keys)."""
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers  # noqa: PLC0415

    names = set(packages)
    for name in names:
        logging.getLogger(name)
    copy_config_to_registered_loggers(source_logger=logger, include=names)
