"""Completion webhooks through the local stack: a receiver on 127.0.0.1 checks each delivery with the
Python client's ``verify_webhook``; a failing receiver is retried on the local schedule (2 s, 4 s, ...)
until it answers; a forged delivery is refused by the same check; a non-public callbackUrl is a 400."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import requests

from export_common.callbacks import callback_path
from tests.e2e.conftest import one_clip_request, presign_and_upload
from tests.e2e.stack import TIMINGS, Stack
from tests.unit.clients.runtimes import Runtime, as_bytes
from tests.webhook_receiver import Received, receiving
from video_export.signing import (
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    verify_signature,
)
from video_export.webhooks import verify_webhook


def check_request_signature(secret: str, headers: dict[str, str], path: str, body: bytes) -> bool:
    """Whether the headers would pass the API's request check (POST ``path`` signed with ``secret``)."""
    try:
        verify_signature(
            (secret,),
            timestamp=headers.get(TIMESTAMP_HEADER),
            signature=headers.get(SIGNATURE_HEADER),
            method="POST",
            paths=(path,),
            raw_body=body,
            now_ms=int(headers[TIMESTAMP_HEADER]),
        )
    except SignatureError:
        return False
    return True


# a loaded two-core machine renders, polls and retries slowly; the waits are bounds, not expectations
WEBHOOK_TIMEOUT = 300


def _start(stack: Stack, request: dict[str, Any], callback_url: str) -> str:
    response = stack.post_json("/export", request | {"callbackUrl": callback_url})
    assert response.status_code == 202, response.text
    return str(response.json()["jobId"])


def _callback_state(stack: Stack, job_id: str, *, until: str, timeout: float = 60) -> dict[str, Any]:
    """GET /export/{jobId} until its callback reaches ``until``; returns that callback object."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = stack.request("GET", f"/export/{job_id}").json()
        if last.get("callback", {}).get("state") == until:
            return dict(last["callback"])
        time.sleep(0.5)
    raise AssertionError(f"callback of {job_id} never reached {until}: {last.get('callback')}")


def _verified(stack: Stack, delivery: Received, url: str) -> dict[str, Any]:
    assert verify_webhook(stack.webhook_secret, delivery.headers, callback_path(url), delivery.body), (
        delivery.headers
    )
    payload: dict[str, Any] = json.loads(delivery.body)
    return payload


def test_a_succeeded_job_is_posted_signed_to_its_callback(stack: Stack, uploaded: dict[str, str]) -> None:
    with receiving([200]) as receiver:
        started = time.monotonic()
        job_id = _start(stack, one_clip_request("red.mp4", uploaded["red.mp4"]), receiver.url)
        deliveries = receiver.wait_for(1, WEBHOOK_TIMEOUT)
        assert deliveries, "no webhook arrived"
        TIMINGS["POST /export → webhook received (1 s clip)"] = f"{time.monotonic() - started:.1f} s"

        payload = _verified(stack, deliveries[0], receiver.url)
        assert deliveries[0].path == "/hooks/export"
        assert payload["jobId"] == job_id and payload["status"] == "SUCCEEDED"
        assert payload["output"]["width"] == 160 and payload["output"]["durationSeconds"] > 0
        assert payload["usage"]["tasks"] == 1 and payload["usage"]["renderSeconds"] > 0
        assert payload["usage"] == stack.request("GET", f"/export/{job_id}").json()["usage"]
        download = requests.get(payload["downloadUrl"], timeout=60)
        assert download.status_code == 200 and download.content[4:8] == b"ftyp"

        callback = _callback_state(stack, job_id, until="DELIVERED")
        assert (callback["attempts"], callback["lastStatus"]) == (1, 200)
        time.sleep(1)
        assert len(receiver.received) == 1  # the safety message did not deliver it again


def test_a_failing_receiver_is_retried_until_it_answers(stack: Stack, tmp_path: Path) -> None:
    # Given a job that fails quickly (its clip is not media) and a receiver that fails twice
    fake = tmp_path / "noise.mp4"
    fake.write_bytes(os.urandom(4096))
    keys = presign_and_upload(stack, {"noise.mp4": fake})
    with receiving([500, 503, 204]) as receiver:
        job_id = _start(stack, one_clip_request("noise.mp4", keys["noise.mp4"]), receiver.url)

        deliveries = receiver.wait_for(3, WEBHOOK_TIMEOUT)

    # Then three signed attempts arrived, one delivery id, with growing gaps (local schedule 2 s, 4 s)
    assert len(deliveries) == 3, [d.headers for d in deliveries]
    payloads = [_verified(stack, d, receiver.url) for d in deliveries]
    assert {p["jobId"] for p in payloads} == {job_id}
    assert payloads[0] == {
        "jobId": job_id,
        "status": "FAILED",
        "error": payloads[0]["error"],
        "errorCode": "INVALID_MEDIA",
        "usage": payloads[0]["usage"],
    }
    assert payloads[0]["usage"]["tasks"] == 1  # what the failed render spent, as every ended job reports
    assert len({d.headers[DELIVERY_ID_HEADER] for d in deliveries}) == 1
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(deliveries)]
    TIMINGS["webhook retry gaps (schedule 2 s, 4 s)"] = ", ".join(f"{g:.1f} s" for g in gaps)
    assert gaps[0] >= 1.5 and gaps[1] >= 3.5, gaps
    callback = _callback_state(stack, job_id, until="DELIVERED")
    assert (callback["attempts"], callback["lastStatus"]) == (3, 204)


def test_a_forged_delivery_is_refused_by_verify_webhook(
    stack: Stack, uploaded: dict[str, str], tmp_path: Path
) -> None:
    with receiving([200]) as receiver:
        _start(stack, one_clip_request("blue.mp4", uploaded["blue.mp4"]), receiver.url)
        deliveries = receiver.wait_for(1, WEBHOOK_TIMEOUT)
    assert deliveries, "no webhook arrived"
    real = deliveries[0]
    path = callback_path(receiver.url)
    assert verify_webhook(stack.webhook_secret, real.headers, path, real.body)

    # the webhook secret is not the request-signing secret, and a webhook is no request signature: the
    # same bytes do not verify under the API's secret, and the API refuses them as a request to that path
    assert stack.webhook_secret != stack.secret
    assert not verify_webhook(stack.secret, real.headers, path, real.body)
    assert not check_request_signature(stack.secret, real.headers, path, real.body)

    # an edited body, a signature by another secret, another path, a stale timestamp: all refused
    edited = real.body.replace(b'"SUCCEEDED"', b'"FAILED"')
    assert edited != real.body
    assert not verify_webhook(stack.webhook_secret, real.headers, path, edited)
    timestamp = real.headers[TIMESTAMP_HEADER]
    forged = dict(real.headers) | {
        SIGNATURE_HEADER: sign("not-the-secret", timestamp, "POST", path, real.body)
    }
    assert not verify_webhook(stack.webhook_secret, forged, path, real.body)
    assert not verify_webhook(stack.webhook_secret, real.headers, "/hooks/other", real.body)
    assert not verify_webhook(
        stack.webhook_secret, real.headers, path, real.body, now_ms=int(timestamp) + 6 * 60_000
    )

    # and the Node client a Base44 backend function uses judges the real and the edited delivery alike
    node = Runtime("node", tmp_path)
    for body, valid in ((real.body, True), (edited, False)):
        reply = node.call(
            "verifyWebhook",
            secret=stack.webhook_secret,
            headers={"$headers": real.headers},
            path=path,
            rawBody=as_bytes(body),
            nowMs=int(timestamp),
        )
        assert reply["result"] is valid, reply


def test_a_callback_url_to_a_private_address_is_refused(stack: Stack, uploaded: dict[str, str]) -> None:
    request = one_clip_request("red.mp4", uploaded["red.mp4"])
    for url in ("http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]:9/x"):
        response = stack.post_json("/export", request | {"callbackUrl": url})
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["code"] == "INVALID_CALLBACK_URL" and "public" in body["error"], body
