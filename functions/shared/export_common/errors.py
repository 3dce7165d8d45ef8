"""Error codes the service returns to clients, defined once.

API errors travel as ``{"error": "<message>", "code": "<CODE>", "details": [{path, message}]}``:
``error`` is always a human-readable string (clients show it as is), ``details`` only when there are
per-field problems. Job failures are stored on the job as ``{code, message}``; the API reports them as
``error`` (the message) and ``errorCode``. Render failures use the codes of ``render.errors`` and are passed
through unchanged.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from render.errors import AssetMissingError, InvalidCaptionsError


class ErrorCode(StrEnum):
    """Machine-readable error codes; the HTTP status for each lives in ``HTTP_STATUS``."""

    # 400
    INVALID_JSON = "INVALID_JSON"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INVALID_ASSET_KEY = "INVALID_ASSET_KEY"
    # One code for an asset that was never uploaded, whether POST /export finds it out or the worker does.
    ASSET_MISSING = AssetMissingError.code
    # An uploaded asset larger than maxUploadBytes (a PUT without `size` binds no length; the upload guard
    # removes such files as they land, and POST /export refuses one it still finds).
    ASSET_TOO_LARGE = "ASSET_TOO_LARGE"
    INVALID_CALLBACK_URL = "INVALID_CALLBACK_URL"
    # A captions file (SRT, WebVTT) that is malformed, empty or too large: POST /export reads it, and the
    # worker fails the job with the same code when the file changed after that.
    INVALID_CAPTIONS = InvalidCaptionsError.code
    # 401
    MISSING_SIGNATURE = "MISSING_SIGNATURE"
    INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
    TIMESTAMP_OUT_OF_RANGE = "TIMESTAMP_OUT_OF_RANGE"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    REPLAYED_REQUEST = "REPLAYED_REQUEST"
    # 404 / 405
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    # 409
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    # DELETE /export/{jobId} of a job that already SUCCEEDED or FAILED: there is nothing left to cancel
    JOB_ALREADY_ENDED = "JOB_ALREADY_ENDED"
    # 413 / 415
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    # answered by API Gateway itself (export_common.gateway_responses): a request it refused before the
    # API saw it (a WAF rule, a resource policy), one over the stage's rate, any other 4xx of its own
    ACCESS_DENIED = "ACCESS_DENIED"
    RATE_LIMITED = "RATE_LIMITED"
    REQUEST_REFUSED = "REQUEST_REFUSED"
    # 5xx: never caused by client input
    QUEUE_UNAVAILABLE = "QUEUE_UNAVAILABLE"
    DEPENDENCY_UNAVAILABLE = "DEPENDENCY_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    API_TIMEOUT = "API_TIMEOUT"  # API Gateway gave up waiting for the API function
    # job failures decided by the worker (render.errors adds the render-specific ones)
    RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED"
    INVALID_JOB = "INVALID_JOB"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.INVALID_ASSET_KEY: 400,
    ErrorCode.ASSET_MISSING: 400,
    ErrorCode.ASSET_TOO_LARGE: 400,
    ErrorCode.INVALID_CALLBACK_URL: 400,
    ErrorCode.INVALID_CAPTIONS: 400,
    ErrorCode.MISSING_SIGNATURE: 401,
    ErrorCode.INVALID_TIMESTAMP: 401,
    ErrorCode.TIMESTAMP_OUT_OF_RANGE: 401,
    ErrorCode.INVALID_SIGNATURE: 401,
    ErrorCode.REPLAYED_REQUEST: 401,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.IDEMPOTENCY_CONFLICT: 409,
    ErrorCode.JOB_ALREADY_ENDED: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.ACCESS_DENIED: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.REQUEST_REFUSED: 400,
    ErrorCode.QUEUE_UNAVAILABLE: 503,
    ErrorCode.DEPENDENCY_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.API_TIMEOUT: 504,
}


class ServiceError(Exception):
    """An error with a code and a message that is safe to show to the client (no paths, no secrets)."""

    def __init__(self, code: ErrorCode, message: str, *, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def to_body(self) -> dict[str, Any]:
        """The JSON body of an error response: the one place its shape is defined."""
        body: dict[str, Any] = {"error": self.message, "code": self.code.value}
        if self.details:
            body["details"] = self.details
        return body
