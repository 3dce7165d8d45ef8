"""The Python client reads the service's error shape: ``error`` a string, ``code``, ``errorCode`` on jobs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

import video_export
from video_export import client as client_module


def _response(status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = (body if isinstance(body, str) else json.dumps(body)).encode()
    response.headers["Content-Type"] = "application/json"
    return response


class _Session:
    """Answers every request with one canned response."""

    def __init__(self, response: requests.Response):
        self.response = response

    def request(self, *_: Any, **__: Any) -> requests.Response:
        return self.response


def test_api_error_reads_message_code_and_details() -> None:
    body = {
        "error": "The request body is invalid: assets[0].src: too short",
        "code": "VALIDATION_ERROR",
        "details": [{"path": "assets[0].src", "message": "too short"}],
    }
    client = client_module.ExportClient("http://api", "s", session=_Session(_response(400, body)))
    with pytest.raises(client_module.ApiError) as caught:
        client.presign([{"src": ""}])
    error = caught.value
    assert (error.status, error.code) == (400, "VALIDATION_ERROR")
    assert error.message == body["error"]
    assert error.details == body["details"]
    assert str(error) == "400 VALIDATION_ERROR: The request body is invalid: assets[0].src: too short"
    assert "{" not in str(error)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ("<html>Bad Gateway</html>", "HTTP_ERROR", "<html>Bad Gateway</html>"),
        ({"message": "Forbidden"}, "HTTP_ERROR", "{'message': 'Forbidden'}"),
        ({"error": "No such route.", "code": "NOT_FOUND"}, "NOT_FOUND", "No such route."),
    ],
)
def test_api_error_of_a_foreign_body_keeps_its_text(body: Any, code: str, message: str) -> None:
    error = client_module.ApiError(502, body)
    assert (error.code, error.message, error.details) == (code, message, [])


def test_failed_job_reads_error_and_error_code() -> None:
    failed = {
        "jobId": "j",
        "status": "FAILED",
        "error": "clip.mp4 is not a video",
        "errorCode": "INVALID_MEDIA",
    }
    assert client_module.job_failure(failed) == "INVALID_MEDIA: clip.mp4 is not a video"
    assert client_module.job_failure({"status": "SUCCEEDED", "outputKey": "exports/j.mp4"}) is None
    client = client_module.ExportClient("http://api", "s", session=_Session(_response(200, failed)))
    assert client.get_status("j") == failed


def test_a_failed_job_is_not_downloaded(tmp_path: Path) -> None:
    failed = {
        "jobId": "j",
        "status": "FAILED",
        "error": "clip.mp4 is not a video",
        "errorCode": "INVALID_MEDIA",
    }
    client = client_module.ExportClient("http://api", "s", session=_Session(_response(200, failed)))
    with pytest.raises(client_module.JobNotSucceededError) as caught:
        client.download("j", tmp_path / "never.mp4")
    assert str(caught.value) == "job j did not succeed: INVALID_MEDIA: clip.mp4 is not a video"
    assert caught.value.job == failed and not (tmp_path / "never.mp4").exists()


def test_the_package_exports_the_client_names() -> None:
    assert video_export.ApiError is client_module.ApiError
    assert video_export.job_failure is client_module.job_failure
    assert issubclass(video_export.ApiError, video_export.ExportError)
    with pytest.raises(AttributeError):
        _ = video_export.nothing_of_that_name
