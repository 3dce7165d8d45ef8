"""Webhook verification: ``video_export.verify_webhook``, ``verifyWebhook`` on Node and Deno, and the CLI.

One table of deliveries, judged the same way by the three of them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from tests.unit.clients.runtimes import Runtime, as_bytes
from video_export import verify_webhook
from video_export.signing import MAX_CLOCK_SKEW_MS, SignatureError, sign
from video_export.webhooks import check_webhook

SECRET = "hook-secret"
PATH = "/hooks/export"
BODY = '{"jobId":"j1","status":"SUCCEEDED","output":{"title":"Café ✓"}}'
NOW = 1_764_064_800_000
CLI = Path(sys.executable).parent / "video-export"


def _headers(timestamp: int | str = NOW, *, secret: str = SECRET, path: str = PATH, body: str = BODY,
             method: str = "POST") -> dict[str, str]:  # fmt: skip
    return {
        "x-base44-timestamp": str(timestamp),
        "x-base44-signature": sign(secret, str(timestamp), method, path, body.encode()),
        "x-base44-delivery-id": "d-1",
    }


def _by_hand(timestamp: int) -> str:
    """The contract spelled out, independent of the package: hex HMAC-SHA256 of ts.POST.path.body."""
    message = f"{timestamp}.POST.{PATH}.{BODY}".encode()
    return hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


def _without(name: str) -> dict[str, str]:
    headers = _headers()
    del headers[name]
    return headers


# (name, secret, headers, path, body, now, valid)
CASES: list[tuple[str, Any, dict[str, str], str, str, int, bool]] = [
    ("valid", SECRET, _headers(), PATH, BODY, NOW, True),
    ("valid, signed by hand",
     SECRET, {"x-base44-timestamp": str(NOW), "x-base44-signature": _by_hand(NOW)}, PATH, BODY, NOW, True),
    ("header names in any case",
     SECRET, {k.upper(): v for k, v in _headers().items()}, PATH, BODY, NOW, True),
    ("upper-case hex",
     SECRET, {**_headers(), "x-base44-signature": _by_hand(NOW).upper()}, PATH, BODY, NOW, True),
    ("no delivery id is still authentic", SECRET, _without("x-base44-delivery-id"), PATH, BODY, NOW, True),
    ("the previous secret during a rotation", ["new-secret", SECRET], _headers(), PATH, BODY, NOW, True),
    ("at the edge of the window", SECRET, _headers(NOW - MAX_CLOCK_SKEW_MS), PATH, BODY, NOW, True),
    ("tampered body", SECRET, _headers(), PATH, BODY.replace("SUCCEEDED", "FAILED"), NOW, False),
    ("one byte more in the body", SECRET, _headers(), PATH, BODY + "\n", NOW, False),
    ("wrong path", SECRET, _headers(), "/hooks/other", BODY, NOW, False),
    ("signed for another path", SECRET, _headers(path="/v1/hooks/export"), PATH, BODY, NOW, False),
    ("signed as GET", SECRET, _headers(method="GET"), PATH, BODY, NOW, False),
    ("wrong secret", SECRET, _headers(secret="other"), PATH, BODY, NOW, False),
    ("stale timestamp", SECRET, _headers(NOW - MAX_CLOCK_SKEW_MS - 1), PATH, BODY, NOW, False),
    ("future timestamp", SECRET, _headers(NOW + MAX_CLOCK_SKEW_MS + 1), PATH, BODY, NOW, False),
    ("missing timestamp", SECRET, _without("x-base44-timestamp"), PATH, BODY, NOW, False),
    ("missing signature", SECRET, _without("x-base44-signature"), PATH, BODY, NOW, False),
    ("no headers at all", SECRET, {}, PATH, BODY, NOW, False),
    ("timestamp in seconds, not ms", SECRET, _headers(NOW // 1000), PATH, BODY, NOW, False),
    ("timestamp not a number", SECRET, {**_headers(), "x-base44-timestamp": "12.5"}, PATH, BODY, NOW, False),
    ("signature not hex", SECRET, {**_headers(), "x-base44-signature": "z" * 64}, PATH, BODY, NOW, False),
    ("signature too short", SECRET, {**_headers(), "x-base44-signature": _by_hand(NOW)[:63]}, PATH, BODY, NOW,
     False),
    ("empty signature", SECRET, {**_headers(), "x-base44-signature": ""}, PATH, BODY, NOW, False),
]  # fmt: skip
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_python_verify_webhook(case: tuple[str, Any, dict[str, str], str, str, int, bool]) -> None:
    name, secret, headers, path, body, now, valid = case
    assert verify_webhook(secret, headers, path, body.encode(), now_ms=now) is valid, name
    # a str body is its UTF-8 bytes, and a case-insensitive mapping (requests, Flask, ...) reads the same
    assert verify_webhook(secret, CaseInsensitiveDict(headers), path, body, now_ms=now) is valid, name


def test_check_webhook_says_why() -> None:
    reasons = {}
    for name, secret, headers, path, body, now, valid in CASES:
        if valid:
            assert check_webhook(secret, headers, path, body, now_ms=now).timestamp_ms == int(
                headers.get("x-base44-timestamp") or headers["X-BASE44-TIMESTAMP"]
            )
            continue
        with pytest.raises(SignatureError) as refused:
            check_webhook(secret, headers, path, body, now_ms=now)
        reasons[name] = refused.value.reason
    assert reasons["tampered body"] == reasons["wrong path"] == "mismatch"
    assert reasons["stale timestamp"] == reasons["future timestamp"] == "out_of_window"
    assert reasons["missing signature"] == reasons["empty signature"] == "missing"
    assert reasons["signature not hex"] == "bad_signature"
    assert reasons["timestamp not a number"] == "bad_timestamp"


def test_default_clock_is_now() -> None:
    now = int(time.time() * 1000)
    assert verify_webhook(SECRET, _headers(now), PATH, BODY)
    assert not verify_webhook(SECRET, _headers(now - MAX_CLOCK_SKEW_MS - 60_000), PATH, BODY)


@pytest.mark.parametrize(
    "path", ["https://app.example/hooks/export", "/hooks/export?token=1", "hooks/export"]
)
def test_a_url_or_query_instead_of_a_path_is_a_caller_error(path: str) -> None:
    with pytest.raises(ValueError, match="path") as raised:
        verify_webhook(SECRET, _headers(), path, BODY, now_ms=NOW)
    assert not isinstance(raised.value, SignatureError)


# ------------------------------------------------------------------------------------------ Node, Deno


def test_node_and_deno_verify_webhook_agree(runtime: Runtime) -> None:
    for name, secret, headers, path, body, now, valid in CASES:
        reply = runtime.call(
            "verifyWebhook", secret=secret, headers=headers, path=path, rawBody=body, nowMs=now
        )
        assert reply.get("async") is False, (name, reply)
        assert reply["result"] is valid, (name, reply)
    # bytes bodies and a fetch Headers object (Deno.serve's req.headers)
    for form in ("uint8array", "buffer", "arraybuffer"):
        reply = runtime.call(
            "verifyWebhook",
            secret=SECRET,
            headers={"$headers": _headers()},
            path=PATH,
            rawBody=as_bytes(BODY.encode(), form),
            nowMs=NOW,
        )
        assert reply["result"] is True, (form, reply)
    reply = runtime.call(
        "verifyWebhook",
        secret=SECRET,
        headers={"$headers": _headers()},
        path=PATH,
        rawBody=BODY + " ",
        nowMs=NOW,
    )
    assert reply["result"] is False
    reply = runtime.call("verifyWebhook", secret=SECRET, headers=_headers(), path=PATH + "?a=1", rawBody=BODY)
    assert reply["error"]["name"] == "TypeError" and "path" in reply["error"]["message"]


# ------------------------------------------------------------------------------------------ CLI


def _cli(
    *args: str, body: str = BODY, env: dict[str, str] | None = None, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body.encode())
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "EXPORT_WEBHOOK_SECRET": SECRET}
    return subprocess.run(
        [str(CLI), "verify-webhook", "--path", PATH, "--body", str(body_file), *args],
        capture_output=True, text=True, timeout=60, check=False, env={**environment, **(env or {})},
    )  # fmt: skip


def _header_args(headers: dict[str, str]) -> list[str]:
    return [arg for name, value in headers.items() for arg in ("--header", f"{name}: {value}")]


def test_cli_verify_webhook_exit_status(tmp_path: Path) -> None:
    fresh = _headers(int(time.time() * 1000))
    run = _cli(*_header_args(fresh), tmp_path=tmp_path)
    assert (run.returncode, run.stderr.strip()) == (0, "valid"), run.stderr

    run = _cli(*_header_args(fresh), body=BODY + " ", tmp_path=tmp_path)
    assert run.returncode == 1 and "invalid: the signature does not match" in run.stderr, run.stderr

    run = _cli(*_header_args(_headers(NOW)), tmp_path=tmp_path)  # signed long ago
    assert run.returncode == 1 and "5 minutes" in run.stderr, run.stderr

    run = _cli(*_header_args(fresh), env={"EXPORT_WEBHOOK_SECRET": "other"}, tmp_path=tmp_path)
    assert run.returncode == 1, run.stderr

    run = _cli(tmp_path=tmp_path)
    assert run.returncode == 1 and "are required" in run.stderr, run.stderr


def test_cli_verify_webhook_usage_errors_exit_2(tmp_path: Path) -> None:
    fresh = _header_args(_headers(int(time.time() * 1000)))
    run = _cli(*fresh, "--header", "no-colon", tmp_path=tmp_path)
    assert run.returncode == 2 and "NAME:VALUE" in run.stderr, run.stderr
    run = _cli(*fresh, env={"EXPORT_WEBHOOK_SECRET": ""}, tmp_path=tmp_path)
    assert run.returncode == 2 and "EXPORT_WEBHOOK_SECRET is not set" in run.stderr, run.stderr
    run = subprocess.run(
        [str(CLI), "verify-webhook", "--path", "https://app.example/hooks", "--body", "-", *fresh],
        input=BODY, capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": os.environ.get("PATH", ""), "EXPORT_WEBHOOK_SECRET": SECRET},
    )  # fmt: skip
    assert run.returncode == 2 and "path must be" in run.stderr, run.stderr
