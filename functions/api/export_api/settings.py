"""Configuration of the API Lambda, parsed from the environment once per cold start.

Logic never reads ``os.environ``: it receives a ``Settings``. Variable names and defaults are the ones in
``docs/architecture.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from export_common.callbacks import CallbackPolicy
from export_common.limits import DEFAULT_JOB_TTL_DAYS, DEFAULT_MAX_UPLOAD_BYTES, MIB


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    jobs_table_name: str = Field(min_length=1)
    job_queue_url: str = Field(min_length=1)
    assets_bucket_name: str = Field(min_length=1)
    exports_bucket_name: str = Field(min_length=1)
    signing_secret_arn: str = Field(min_length=1)
    upload_url_expiry_seconds: int = Field(900, ge=60, le=7 * 86400)
    download_url_expiry_seconds: int = Field(3600, ge=60, le=7 * 86400)
    max_upload_bytes: int = Field(DEFAULT_MAX_UPLOAD_BYTES, ge=1)
    job_ttl_days: int = Field(DEFAULT_JOB_TTL_DAYS, ge=1, le=3650)
    service_version: str = "dev"
    aws_endpoint_url: str | None = None
    """Set for LocalStack; S3 then uses path-style URLs (virtual-hosted names do not resolve locally)."""
    secret_cache_seconds: int = Field(60, ge=0, le=3600)
    max_body_bytes: int = Field(MIB, ge=1024, le=10 * MIB)
    callback_queue_url: str | None = None
    """The callbacks queue; without it ``POST /export`` refuses a ``callbackUrl``."""
    callback_allowed_schemes: str = "https"
    """Comma-separated URL schemes a ``callbackUrl`` may use."""
    callback_allowed_networks: str = ""
    """Comma-separated CIDRs exempt from the public-address rule (none in production)."""
    callback_watch_seconds: int = Field(900, ge=0, le=900)
    """Delay of the safety message sent at job creation (see ``export_common.callbacks``)."""

    def callback_policy(self) -> CallbackPolicy:
        return CallbackPolicy.from_lists(
            self.callback_allowed_schemes.split(","), self.callback_allowed_networks.split(",")
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        names = {
            "jobs_table_name": "JOBS_TABLE_NAME",
            "job_queue_url": "JOB_QUEUE_URL",
            "assets_bucket_name": "ASSETS_BUCKET_NAME",
            "exports_bucket_name": "EXPORTS_BUCKET_NAME",
            "signing_secret_arn": "SIGNING_SECRET_ARN",
            "upload_url_expiry_seconds": "UPLOAD_URL_EXPIRY_SECONDS",
            "download_url_expiry_seconds": "DOWNLOAD_URL_EXPIRY_SECONDS",
            "max_upload_bytes": "MAX_UPLOAD_BYTES",
            "job_ttl_days": "JOB_TTL_DAYS",
            "service_version": "SERVICE_VERSION",
            "aws_endpoint_url": "AWS_ENDPOINT_URL",
            "secret_cache_seconds": "SIGNING_SECRET_CACHE_SECONDS",
            "max_body_bytes": "MAX_BODY_BYTES",
            "callback_queue_url": "CALLBACK_QUEUE_URL",
            "callback_allowed_schemes": "CALLBACK_ALLOWED_SCHEMES",
            "callback_allowed_networks": "CALLBACK_ALLOWED_NETWORKS",
            "callback_watch_seconds": "CALLBACK_WATCH_SECONDS",
        }
        return cls.model_validate({field: env[var] for field, var in names.items() if env.get(var)})
