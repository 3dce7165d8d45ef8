"""Request and response bodies of the API's own routes (``POST /export`` uses ``render.model``).

Field names are the JSON names (camelCase) so the OpenAPI document and the wire format are one thing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from export_api.media import ALLOWED_MEDIA, normalize_ext
from export_common.jobs import JobStatus
from render import limits


class PresignAsset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    src: str = Field(min_length=1, max_length=500, description="the name the timeline uses for this file")
    contentType: str = Field(  # noqa: N815 - JSON name
        max_length=100, description="one of: " + ", ".join(sorted(ALLOWED_MEDIA))
    )
    ext: str = Field(min_length=1, max_length=10, description="file extension agreeing with contentType")

    @field_validator("contentType")
    @classmethod
    def _allowed_type(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ALLOWED_MEDIA:
            raise PydanticCustomError(
                "unsupported_content_type",
                "content type {value!r} is not accepted; use one of {allowed}",
                {"value": value[:100], "allowed": ", ".join(sorted(ALLOWED_MEDIA))},
            )
        return value

    @field_validator("ext")
    @classmethod
    def _normal_ext(cls, value: str) -> str:
        return normalize_ext(value)

    @model_validator(mode="after")
    def _ext_agrees(self) -> PresignAsset:
        allowed = ALLOWED_MEDIA[self.contentType]
        if self.ext not in allowed:
            raise PydanticCustomError(
                "ext_mismatch",
                "ext {ext!r} does not agree with content type {ct}; use {allowed}",
                {"ext": self.ext, "ct": self.contentType, "allowed": " or ".join(sorted(allowed))},
            )
        return self


class PresignRequest(BaseModel):
    """Body of ``POST /export/presign``."""

    model_config = ConfigDict(extra="forbid", title="PresignRequest")

    assets: list[PresignAsset] = Field(min_length=1, max_length=limits.MAX_ASSETS)

    @model_validator(mode="after")
    def _unique_src(self) -> PresignRequest:
        srcs = [a.src for a in self.assets]
        if len(set(srcs)) != len(srcs):
            raise PydanticCustomError("duplicate_asset", "every src may appear only once")
        return self


class PresignedPost(BaseModel):
    url: str
    fields: dict[str, str] = Field(description="form fields to send before the file field")


class PresignedUpload(BaseModel):
    src: str
    s3Key: str  # noqa: N815 - JSON name
    uploadUrl: str  # noqa: N815
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str] = Field(
        description="headers the PUT must carry exactly (the content type is signed)"
    )
    post: PresignedPost = Field(description="alternative: an HTML-form POST that enforces the size limit")


class PresignResponse(BaseModel):
    uploads: list[PresignedUpload]
    expiresInSeconds: int  # noqa: N815
    maxUploadBytes: int  # noqa: N815


class CreateExportResponse(BaseModel):
    jobId: str  # noqa: N815
    status: JobStatus


class ApiError(BaseModel):
    code: str
    message: str
    details: list[dict[str, str]] | None = Field(None, description="per-field problems: {path, message}")


class ErrorResponse(BaseModel):
    error: ApiError


class JobErrorBody(BaseModel):
    code: str
    message: str


class OutputInfo(BaseModel):
    durationSeconds: float  # noqa: N815
    sizeBytes: int  # noqa: N815
    width: int
    height: int


class JobStatusResponse(BaseModel):
    jobId: str  # noqa: N815
    status: JobStatus
    createdAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    progress: float | None = Field(None, ge=0, le=1, description="while RUNNING")
    error: JobErrorBody | None = Field(None, description="when FAILED")
    downloadUrl: str | None = Field(None, description="when SUCCEEDED: presigned GET")  # noqa: N815
    downloadUrlExpiresAt: str | None = None  # noqa: N815
    output: OutputInfo | None = Field(None, description="when SUCCEEDED")


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    checks: dict[str, Literal["ok", "error"]]
