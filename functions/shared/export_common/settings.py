"""What every function of the service is configured with, named as the environment variables it reads.

The fields mirror Terraform's ``common_environment`` (``terraform/modules/export_service/main.tf``); each
function's own settings model adds its part to this one, so a shared setting is declared once. Logic never
reads ``os.environ``: a handler parses its settings once per cold start with ``from_env`` and passes them on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from export_common.limits import DEFAULT_JOB_TTL_DAYS, DEFAULT_MAX_UPLOAD_BYTES


class ServiceSettings(BaseModel):
    """The common part. Field names work too (tests build settings directly); the environment uses aliases."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    jobs_table_name: str = Field(alias="JOBS_TABLE_NAME", min_length=1)
    assets_bucket_name: str = Field(alias="ASSETS_BUCKET_NAME", min_length=1)
    exports_bucket_name: str = Field(alias="EXPORTS_BUCKET_NAME", min_length=1)
    max_upload_bytes: int = Field(DEFAULT_MAX_UPLOAD_BYTES, alias="MAX_UPLOAD_BYTES", ge=1)
    job_ttl_days: int = Field(DEFAULT_JOB_TTL_DAYS, alias="JOB_TTL_DAYS", ge=1, le=3650)
    service_version: str = Field("dev", alias="SERVICE_VERSION")
    # Set for LocalStack; S3 then uses path-style URLs (virtual-hosted names do not resolve locally).
    aws_endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Parses the environment (default ``os.environ``); an empty variable counts as unset."""
        env = os.environ if environ is None else environ
        return cls.model_validate({name: value for name, value in env.items() if value != ""})
