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

from export_common.limits import DEFAULT_JOB_TTL_DAYS, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_WORKER_MEMORY_MB
from export_common.messages import MAX_CHUNKS_LIMIT
from render import limits


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
    # fan-out (render.chunking): an output longer than the threshold renders as chunks on several
    # workers. The worker cuts with these; the API's quote names the same cut.
    fanout_threshold_seconds: float = Field(
        limits.FANOUT_THRESHOLD_SECONDS, alias="FANOUT_THRESHOLD_SECONDS", gt=0
    )
    fanout_max_chunks: int = Field(
        limits.FANOUT_MAX_CHUNKS, alias="FANOUT_MAX_CHUNKS", ge=2, lt=MAX_CHUNKS_LIMIT
    )
    fanout_min_chunk_seconds: float = Field(
        limits.FANOUT_MIN_CHUNK_SECONDS, alias="FANOUT_MIN_CHUNK_SECONDS", gt=0
    )
    # the worker Lambda's memory: usage and quotes count GB-seconds with it
    worker_memory_mb: int = Field(DEFAULT_WORKER_MEMORY_MB, alias="WORKER_MEMORY_MB", ge=128, le=10240)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Parses the environment (default ``os.environ``); an empty variable counts as unset."""
        env = os.environ if environ is None else environ
        return cls.model_validate({name: value for name, value in env.items() if value != ""})
