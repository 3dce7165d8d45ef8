"""Configuration of the API Lambda, parsed from the environment once per cold start.

Logic never reads ``os.environ``: it receives a ``Settings``. Variable names and defaults are the ones in
``docs/architecture.md``.
"""

from __future__ import annotations

from pydantic import Field

from export_common.callbacks import CallbackPolicy
from export_common.limits import (
    DEFAULT_PREVIOUS_SECRET_GRACE_SECONDS,
    MIB,
    PRESIGN_MAX_EXPIRY_SECONDS,
    SQS_MAX_DELAY_SECONDS,
)
from export_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """The API's settings: the common part and its own."""

    job_queue_url: str = Field(alias="JOB_QUEUE_URL", min_length=1)
    signing_secret_arn: str = Field(alias="SIGNING_SECRET_ARN", min_length=1)
    upload_url_expiry_seconds: int = Field(
        900, alias="UPLOAD_URL_EXPIRY_SECONDS", ge=60, le=PRESIGN_MAX_EXPIRY_SECONDS
    )
    download_url_expiry_seconds: int = Field(
        3600, alias="DOWNLOAD_URL_EXPIRY_SECONDS", ge=60, le=PRESIGN_MAX_EXPIRY_SECONDS
    )
    secret_cache_seconds: int = Field(60, alias="SIGNING_SECRET_CACHE_SECONDS", ge=0, le=3600)
    previous_secret_grace_seconds: int = Field(
        DEFAULT_PREVIOUS_SECRET_GRACE_SECONDS, alias="PREVIOUS_SECRET_GRACE_SECONDS", ge=0, le=30 * 86400
    )
    """After a rotation the previous signing secret is accepted this long after the current one was made."""
    max_body_bytes: int = Field(MIB, alias="MAX_BODY_BYTES", ge=1024, le=10 * MIB)
    callback_queue_url: str | None = Field(None, alias="CALLBACK_QUEUE_URL")
    """The callbacks queue; without it ``POST /export`` refuses a ``callbackUrl``."""
    callback_allowed_schemes: str = Field("https", alias="CALLBACK_ALLOWED_SCHEMES")
    """Comma-separated URL schemes a ``callbackUrl`` may use."""
    callback_allowed_networks: str = Field("", alias="CALLBACK_ALLOWED_NETWORKS")
    """Comma-separated CIDRs exempt from the public-address rule (none in production)."""
    callback_allowed_ports: str = Field("", alias="CALLBACK_ALLOWED_PORTS")
    """Comma-separated ports or ranges beyond 443 (and 80 with http), for receivers of a local stack."""
    callback_watch_seconds: int = Field(900, alias="CALLBACK_WATCH_SECONDS", ge=0, le=SQS_MAX_DELAY_SECONDS)
    """Delay of the safety message sent at job creation (see ``export_common.callbacks``)."""

    def callback_policy(self) -> CallbackPolicy:
        return CallbackPolicy.from_lists(
            self.callback_allowed_schemes.split(","),
            self.callback_allowed_networks.split(","),
            self.callback_allowed_ports.split(","),
        )
