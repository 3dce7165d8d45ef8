"""The worker's configuration, read once per cold start from the environment Terraform sets.

Logic never reads ``os.environ``: it receives a ``WorkerSettings`` (tests build one directly).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from export_common.jobs import DEFAULT_JOB_TTL_DAYS

GIB = 1024**3


class WorkerSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    jobs_table_name: str = Field(alias="JOBS_TABLE_NAME", min_length=1)
    assets_bucket_name: str = Field(alias="ASSETS_BUCKET_NAME", min_length=1)
    exports_bucket_name: str = Field(alias="EXPORTS_BUCKET_NAME", min_length=1)
    max_upload_bytes: int = Field(2 * GIB, alias="MAX_UPLOAD_BYTES", gt=0)
    job_ttl_days: int = Field(DEFAULT_JOB_TTL_DAYS, alias="JOB_TTL_DAYS", gt=0)
    # worker timeout + margin: a claim outlives the invocation that made it, never less
    job_lease_seconds: int = Field(960, alias="JOB_LEASE_SECONDS", gt=0)
    max_receive_count: int = Field(3, alias="MAX_RECEIVE_COUNT", ge=1)
    # where per-job temp dirs are made; None = the system temp dir (/tmp on Lambda)
    work_dir: Path | None = Field(None, alias="WORK_DIR")
    # the job's own render limit; the invocation's remaining time may bound it further
    render_timeout_seconds: float = Field(840.0, alias="RENDER_TIMEOUT_SECONDS", gt=0)
    # time kept after the render for the upload and the final state write
    upload_margin_seconds: float = Field(60.0, alias="UPLOAD_MARGIN_SECONDS", ge=0)
    ffmpeg: str = Field("ffmpeg", alias="FFMPEG_PATH", min_length=1)
    ffprobe: str = Field("ffprobe", alias="FFPROBE_PATH", min_length=1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        return cls.model_validate(dict(os.environ if environ is None else environ))
