"""``GET /health``: the version and whether each dependency answers, using only actions the API already has.

DynamoDB GetItem on a key that never exists; S3 HeadObject on a key that is never issued (404 is healthy,
which needs s3:ListBucket on the assets bucket, the same grant that lets ``POST /export`` tell a missing
asset from a forbidden one); SQS GetQueueAttributes (QueueArn); Secrets Manager through the secret cache.
The result is cached briefly so the unsigned route cannot be used to hammer the dependencies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from export_api.auth import SecretProvider
from export_api.models import HealthResponse
from export_common.keys import HEALTH_PROBE_KEY
from export_common.limits import is_missing_object
from export_common.table import probe

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

logger = Logger(child=True)

HEALTH_CACHE_SECONDS = 10.0
PROBE_OBJECT = HEALTH_PROBE_KEY


@dataclass
class HealthChecker:
    table: Table
    s3: S3Client
    sqs: SQSClient
    secrets: SecretProvider
    assets_bucket: str
    queue_url: str
    version: str
    clock: Callable[[], float] = time.monotonic
    _cached: tuple[float, HealthResponse] | None = field(default=None, init=False)

    def check(self) -> HealthResponse:
        now = self.clock()
        if self._cached is not None and now - self._cached[0] < HEALTH_CACHE_SECONDS:
            return self._cached[1]
        checks: dict[str, Literal["ok", "error"]] = {
            "dynamodb": self._run("dynamodb", lambda: probe(self.table)),
            "sqs": self._run(
                "sqs",
                lambda: self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"]),
            ),
            "s3": self._run("s3", self._probe_s3),
            "secretsmanager": self._run("secretsmanager", self.secrets.current),
        }
        status: Literal["ok", "degraded"] = "ok" if all(v == "ok" for v in checks.values()) else "degraded"
        result = HealthResponse(status=status, version=self.version, checks=checks)
        self._cached = (now, result)
        return result

    def _probe_s3(self) -> None:
        try:
            self.s3.head_object(Bucket=self.assets_bucket, Key=PROBE_OBJECT)
        except ClientError as error:
            if not is_missing_object(error):
                raise

    @staticmethod
    def _run(name: str, probe: Callable[[], object]) -> Literal["ok", "error"]:
        try:
            probe()
        except Exception as error:  # any failure of a dependency is "degraded", never a 500
            logger.warning("health check failed", extra={"dependency": name, "error": type(error).__name__})
            return "error"
        return "ok"
