"""The error body: a readable string in ``error``, the code beside it, field details only when present."""

from __future__ import annotations

from export_common.errors import HTTP_STATUS, ErrorCode, ServiceError


def test_body_is_a_message_string_and_a_code() -> None:
    error = ServiceError(ErrorCode.NOT_FOUND, "No export job with this id.")
    assert error.to_body() == {"error": "No export job with this id.", "code": "NOT_FOUND"}
    assert error.http_status == 404


def test_details_sit_beside_the_message_when_present() -> None:
    details = [{"path": "assets[0].src", "message": "too short"}]
    error = ServiceError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details=details)
    assert error.to_body() == {
        "error": "The request is invalid.",
        "code": "VALIDATION_ERROR",
        "details": details,
    }
    assert "details" not in ServiceError(ErrorCode.VALIDATION_ERROR, "x", details=[]).to_body()


def test_every_api_code_has_a_status_and_job_only_codes_default_to_500() -> None:
    assert all(400 <= status < 600 for status in HTTP_STATUS.values())
    assert ServiceError(ErrorCode.RETRIES_EXHAUSTED, "gave up").http_status == 500
