"""Helpers of the API tests: REST proxy events, a moto-backed stack, a signed-request caller."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from export_api.app import ExportApi, Services
from export_api.settings import Settings
from export_common.signing import signed_headers

REGION = "us-east-1"
SECRET = "unit-test-secret"
STAGE = "v1"


@dataclass
class Reply:
    status: int
    headers: dict[str, Any]
    body: dict[str, Any]


ERROR_KEYS = {"error", "code", "details"}


def error_code(reply: Reply) -> str:
    """The code of an error reply, after checking the error shape: a readable string, a code, details."""
    body = reply.body
    assert reply.status >= 400, (reply.status, body)
    assert {"error", "code"} <= set(body) <= ERROR_KEYS, body
    assert isinstance(body["error"], str) and body["error"].strip(), body
    assert isinstance(body["code"], str) and body["code"].isupper(), body
    if "details" in body:
        assert body["details"] and all(set(d) == {"path", "message"} for d in body["details"]), body
    return body["code"]


def rest_event(
    method: str,
    path: str,
    *,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
    stage: str = STAGE,
) -> dict[str, Any]:
    """An API Gateway REST proxy event as the `{proxy+}` integration delivers it."""
    raw: str | None
    if body is None:
        raw = None
    elif base64_body:
        raw = base64.b64encode(body if isinstance(body, bytes) else body.encode()).decode()
    else:
        raw = body.decode() if isinstance(body, bytes) else body
    headers = headers or {}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": raw,
        "isBase64Encoded": base64_body,
    }


@dataclass
class Stack:
    settings: Settings
    services: Services
    api: ExportApi
    table: Any
    s3: Any
    sqs: Any
    secrets: Any

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        sign: bool = True,
        secret: str = SECRET,
        sign_path: str | None = None,
        headers: dict[str, str] | None = None,
        base64_body: bool = False,
        now_ms: int | None = None,
        content_type: str | None = "application/json",
    ) -> Reply:
        raw = (
            b""
            if body is None
            else body
            if isinstance(body, bytes)
            else json.dumps(body).encode()
            if not isinstance(body, str)
            else body.encode()
        )
        all_headers: dict[str, str] = {}
        if body is not None and content_type:
            all_headers["Content-Type"] = content_type
        if sign:
            all_headers.update(signed_headers(secret, method, sign_path or path, raw, now_ms=now_ms))
        all_headers.update(headers or {})
        try:
            raw.decode()
        except UnicodeDecodeError:
            base64_body = True  # what API Gateway does with bytes that are not text
        event = rest_event(
            method, path, body=raw if body is not None else None, headers=all_headers, base64_body=base64_body
        )
        return self.send(event)

    def send(self, event: dict[str, Any]) -> Reply:
        response = self.api.handle(event, None)  # type: ignore[arg-type]
        headers = dict(response.get("headers") or {})
        for key, values in (response.get("multiValueHeaders") or {}).items():
            headers[key] = values[0]
        return Reply(
            response["statusCode"], headers, json.loads(response["body"]) if response["body"] else {}
        )

    def upload(self, key: str, data: bytes = b"data") -> None:
        self.s3.put_object(Bucket=self.settings.assets_bucket_name, Key=key, Body=data)

    def messages(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(
            QueueUrl=self.settings.job_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def timeline_request(*srcs: str, keys: dict[str, str] | None = None) -> dict[str, Any]:
    """A valid `POST /export` body using each src once, one second each."""
    keys = keys or {}
    actions = [
        {"id": f"a{i}", "start": i, "end": i + 1, "effectId": "video", "data": {"src": src}}
        for i, src in enumerate(srcs)
    ] or [{"id": "t", "start": 0, "end": 1, "effectId": "text", "data": {"text": "hello"}}]
    return {
        "timeline": {"editorData": [{"id": "row", "actions": actions}]},
        "assets": [{"src": src, "s3Key": keys.get(src, f"assets/{src}")} for src in srcs],
        "output": {"width": 160, "height": 90, "fps": 10},
    }
