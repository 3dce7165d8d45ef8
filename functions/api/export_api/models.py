"""Request and response bodies of the API's own routes (``POST /export`` uses ``render.model``).

Field names are the JSON names (camelCase) so the OpenAPI document and the wire format are one thing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from export_api.media import ALLOWED_MEDIA, OCTET_STREAM, is_header_value, media_type_of
from export_common.jobs import CallbackState, JobStatus
from render import limits
from render.json_types import STRICT, WholeNumber

# An ext longer than this is no file extension; it is ignored like any other unusable one.
_MAX_EXT_LENGTH = 16


class PresignAsset(BaseModel):
    model_config = ConfigDict(**STRICT, extra="forbid")

    src: str = Field(
        min_length=1,
        max_length=limits.MAX_SRC_LENGTH,
        description="the name the timeline uses for this file (any text, e.g. a long URL)",
    )
    contentType: str = Field(  # noqa: N815 - JSON name
        OCTET_STREAM,
        max_length=100,
        description=(
            "the file's media type as the browser reports it; missing, null or empty means "
            f"{OCTET_STREAM}. The upload must carry exactly this Content-Type. One of: "
            + ", ".join(sorted(ALLOWED_MEDIA))
        ),
    )
    ext: str | None = Field(
        None,
        description=(
            "the file's extension (`.mp4` or `mp4`), optional. The key gets the content type's own "
            "extension when this one is missing, unknown or disagrees with a known type; with "
            f"{OCTET_STREAM} a known media extension is kept, otherwise the key has none"
        ),
    )

    size: WholeNumber | None = Field(
        None,
        ge=1,
        description=(
            "the file's size in bytes, optional. When given, the presigned PUT is bound to exactly this "
            "Content-Length (S3 refuses a short or long upload) and the form POST to this size; at most "
            "maxUploadBytes"
        ),
    )

    @field_validator("contentType", mode="before")
    @classmethod
    def _missing_type(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return OCTET_STREAM
        return value

    @field_validator("contentType")
    @classmethod
    def _allowed_type(cls, value: str) -> str:
        # Kept as sent (only trimmed): the presigned PUT is bound to this exact header value.
        value = value.strip()
        if not is_header_value(value):
            raise PydanticCustomError(
                "invalid_content_type", "content type must be printable ASCII (a header value)"
            )
        if media_type_of(value) not in ALLOWED_MEDIA:
            raise PydanticCustomError(
                "unsupported_content_type",
                "content type '{value}' is not accepted; use one of {allowed}",
                {"value": value, "allowed": ", ".join(sorted(ALLOWED_MEDIA))},
            )
        return value

    @field_validator("ext", mode="before")
    @classmethod
    def _usable_ext(cls, value: Any) -> str | None:
        """Anything that cannot be an extension is ignored, never a reason to reject the upload."""
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_EXT_LENGTH:
            return None
        return value.strip()


class PresignRequest(BaseModel):
    """Body of ``POST /export/presign``."""

    model_config = ConfigDict(**STRICT, extra="forbid", title="PresignRequest")

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
        description=(
            "headers the PUT must carry exactly: the content type is signed, so a file presigned as "
            f"{OCTET_STREAM} (or without a contentType) must be sent with Content-Type: {OCTET_STREAM}; "
            "with a size, Content-Length is signed too"
        )
    )
    post: PresignedPost = Field(description="alternative: an HTML-form POST that enforces the size limit")


class PresignResponse(BaseModel):
    uploads: list[PresignedUpload]
    expiresInSeconds: int  # noqa: N815
    maxUploadBytes: int  # noqa: N815


class CreateExportResponse(BaseModel):
    jobId: str  # noqa: N815
    status: JobStatus


class CancelExportResponse(BaseModel):
    """Body of ``DELETE /export/{jobId}``: 202 when the cancel was taken, 200 when the job already was."""

    jobId: str  # noqa: N815
    status: Literal[JobStatus.CANCELLING, JobStatus.CANCELLED] = Field(
        description=(
            "CANCELLED: the job ended (a queued job at once); CANCELLING: the worker stops the render within "
            "one heartbeat, removes what it wrote and ends the job CANCELLED (poll GET /export/{jobId})"
        )
    )


class ErrorDetail(BaseModel):
    path: str = Field(description="the field, e.g. `assets[0].contentType` or `headers.Idempotency-Key`")
    message: str


class ErrorResponse(BaseModel):
    """Body of every error response."""

    error: str = Field(description="what went wrong, in words a client may show")
    code: str = Field(description="machine-readable error code, e.g. VALIDATION_ERROR")
    details: list[ErrorDetail] | None = Field(None, description="per-field problems, when there are")


class OutputInfo(BaseModel):
    durationSeconds: float  # noqa: N815
    sizeBytes: int  # noqa: N815
    width: int
    height: int


class CallbackInfo(BaseModel):
    """How the job's completion webhook fares (only for a job created with a ``callbackUrl``)."""

    state: CallbackState = Field(
        description=(
            "PENDING until the job ends and the first attempt starts; DELIVERING while an attempt runs; "
            "RETRYING after a failed attempt; DELIVERED (a 2xx answer) or FAILED (every attempt failed)"
        )
    )
    attempts: int = Field(ge=0, description="attempts started so far")
    lastStatus: int | None = Field(  # noqa: N815
        None, description="HTTP status of the last attempt; null when it got no answer or none ran yet"
    )
    lastError: str | None = Field(None, description="why the last attempt failed")  # noqa: N815
    nextAttemptAt: str | None = Field(None, description="when RETRYING: when the next attempt is due")  # noqa: N815


class JobStatusResponse(BaseModel):
    jobId: str  # noqa: N815
    status: JobStatus
    createdAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    progress: float | None = Field(None, ge=0, le=1, description="while RUNNING")
    error: str | None = Field(None, description="when FAILED: why, in words a client may show")
    errorCode: str | None = Field(  # noqa: N815
        None, description="when FAILED: machine-readable code, e.g. INVALID_MEDIA or RENDER_TIMEOUT"
    )
    outputKey: str | None = Field(  # noqa: N815
        None, description="when SUCCEEDED: key of the rendered file in the exports bucket"
    )
    downloadUrl: str | None = Field(None, description="when SUCCEEDED: presigned GET")  # noqa: N815
    downloadUrlExpiresAt: str | None = None  # noqa: N815
    output: OutputInfo | None = Field(None, description="when SUCCEEDED")
    callback: CallbackInfo | None = Field(None, description="when the job was created with a callbackUrl")


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    checks: dict[str, Literal["ok", "error"]]
