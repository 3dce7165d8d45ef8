"""Bounded uploads: the upload guard removes an asset over the limit as it lands, and POST /export refuses
one over the limit (400 ASSET_TOO_LARGE) or removed (400 ASSET_MISSING)."""

from __future__ import annotations

from typing import Any

import boto3

from export_api.upload_guard import remove_oversized

from .api_stack import REGION, Stack, error_code, timeline_request


def _notification(bucket: str, key: str, size: int) -> dict[str, Any]:
    """An S3 ObjectCreated notification as Lambda receives it (the key URL-encoded, as S3 sends it)."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace(" ", "+"), "size": size}},
            }
        ]
    }


def test_post_export_refuses_an_asset_over_the_limit(stack: Stack) -> None:
    limit = stack.settings.max_upload_bytes
    stack.upload("assets/big.mp4", b"\0" * (limit + 1))
    reply = stack.call(
        "POST", "/export", body=timeline_request("big.mp4", keys={"big.mp4": "assets/big.mp4"})
    )
    assert (reply.status, error_code(reply)) == (400, "ASSET_TOO_LARGE")
    assert reply.body["details"] == [
        {"path": "assets[0].s3Key", "message": f"{limit + 1} bytes, over the {limit}-byte limit"}
    ]
    assert stack.messages() == []
    # exactly at the limit is accepted
    stack.upload("assets/big.mp4", b"\0" * limit)
    accepted = stack.call(
        "POST", "/export", body=timeline_request("big.mp4", keys={"big.mp4": "assets/big.mp4"})
    )
    assert accepted.status == 202, accepted.body


def test_the_upload_guard_removes_only_uploads_over_the_limit(stack: Stack) -> None:
    bucket, limit = stack.settings.assets_bucket_name, 100
    s3 = boto3.client("s3", region_name=REGION)
    for key, size in (("assets/over.mp4", limit + 1), ("assets/at.mp4", limit)):
        stack.upload(key, b"\0" * size)
        remove_oversized(_notification(bucket, key, size), s3, bucket=bucket, max_upload_bytes=limit)
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert keys == {"assets/at.mp4"}


def test_the_upload_guard_reads_the_size_again_before_removing(stack: Stack) -> None:
    # Given a notification of a large upload whose key was written again since, with a small file
    bucket = stack.settings.assets_bucket_name
    s3 = boto3.client("s3", region_name=REGION)
    stack.upload("assets/again.mp4", b"\0" * 10)
    removed = remove_oversized(
        _notification(bucket, "assets/again.mp4", 10_000), s3, bucket=bucket, max_upload_bytes=100
    )
    # Then the small file stays; and other buckets, other prefixes and gone keys are left alone
    assert removed == []
    assert (
        remove_oversized(_notification("other", "assets/x.mp4", 10**9), s3, bucket=bucket, max_upload_bytes=1)
        == []
    )
    assert (
        remove_oversized(_notification(bucket, "exports/x.mp4", 10**9), s3, bucket=bucket, max_upload_bytes=1)
        == []
    )
    assert (
        remove_oversized(
            _notification(bucket, "assets/gone.mp4", 10**9), s3, bucket=bucket, max_upload_bytes=1
        )
        == []
    )
    assert s3.head_object(Bucket=bucket, Key="assets/again.mp4")["ContentLength"] == 10
