"""The delivery function's configuration, read once per cold start from the environment Terraform sets.

Logic never reads ``os.environ``: it receives a ``CallbackSettings`` (tests build one directly).
"""

from __future__ import annotations

from pydantic import Field

from export_common.callbacks import MAX_SQS_DELAY_SECONDS, CallbackPolicy, CallbackSchedule
from export_common.limits import PRESIGN_MAX_EXPIRY_SECONDS, SQS_MAX_DELAY_SECONDS, SQS_MAX_VISIBILITY_SECONDS
from export_common.settings import ServiceSettings


class CallbackSettings(ServiceSettings):
    """The webhook delivery function's settings: the common part and its own."""

    webhook_secret_arn: str = Field(alias="WEBHOOK_SECRET_ARN", min_length=1)
    """The webhook signing secret: its own, never the API's request-signing secret (which this function
    cannot read), so that nobody can make the service sign bytes a request would be accepted with."""
    callback_queue_url: str = Field(alias="CALLBACK_QUEUE_URL", min_length=1)
    download_url_expiry_seconds: int = Field(
        3600, alias="DOWNLOAD_URL_EXPIRY_SECONDS", ge=60, le=PRESIGN_MAX_EXPIRY_SECONDS
    )
    first_delay_seconds: int = Field(30, alias="CALLBACK_FIRST_DELAY_SECONDS", ge=1, le=86400)
    backoff_factor: float = Field(2.0, alias="CALLBACK_BACKOFF_FACTOR", ge=1, le=10)
    max_delay_seconds: int = Field(21600, alias="CALLBACK_MAX_DELAY_SECONDS", ge=1, le=7 * 86400)
    max_attempts: int = Field(15, alias="CALLBACK_MAX_ATTEMPTS", ge=1, le=100)
    # how often the safety message looks at a job that has not ended yet
    watch_seconds: int = Field(
        MAX_SQS_DELAY_SECONDS, alias="CALLBACK_WATCH_SECONDS", ge=0, le=SQS_MAX_DELAY_SECONDS
    )
    # one attempt: resolve, connect, TLS, send, read the answer
    timeout_seconds: float = Field(10.0, alias="CALLBACK_TIMEOUT_SECONDS", gt=0, le=60)
    max_response_bytes: int = Field(65536, alias="CALLBACK_MAX_RESPONSE_BYTES", ge=0, le=1024 * 1024)
    allowed_schemes: str = Field("https", alias="CALLBACK_ALLOWED_SCHEMES")
    allowed_networks: str = Field("", alias="CALLBACK_ALLOWED_NETWORKS")
    allowed_ports: str = Field("", alias="CALLBACK_ALLOWED_PORTS")
    # an attempt whose function died is taken over after this (at least the function timeout)
    lease_seconds: int = Field(60, alias="CALLBACK_LEASE_SECONDS", ge=1, le=SQS_MAX_VISIBILITY_SECONDS)
    secret_cache_seconds: int = Field(60, alias="SIGNING_SECRET_CACHE_SECONDS", ge=0, le=3600)

    def policy(self) -> CallbackPolicy:
        return CallbackPolicy.from_lists(
            self.allowed_schemes.split(","), self.allowed_networks.split(","), self.allowed_ports.split(",")
        )

    def schedule(self) -> CallbackSchedule:
        return CallbackSchedule(
            first_delay_seconds=self.first_delay_seconds,
            backoff_factor=self.backoff_factor,
            max_delay_seconds=self.max_delay_seconds,
            max_attempts=self.max_attempts,
        )
