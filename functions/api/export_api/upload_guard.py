"""The upload guard: removes an uploaded asset larger than ``MAX_UPLOAD_BYTES`` as soon as it lands.

A presigned PUT without the optional ``size`` binds no length (the original client never sends one), so
S3 accepts up to 5 GB. The assets bucket notifies this handler of every object created under ``assets/``;
one over the limit is deleted at once, so the storage is not kept, and ``POST /export`` refuses an asset
that is over the limit or gone (400). The size is read again before the delete, so a PUT URL used again
with a smaller file in the meantime keeps that file.

It runs from the API zip with its own handler (``export_api.upload_guard.lambda_handler``).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from export_common import aws
from export_common.keys import ASSET_KEY_PREFIX
from export_common.limits import is_missing_object
from export_common.settings import ServiceSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger()


def remove_oversized(event: dict[str, Any], s3: S3Client, *, bucket: str, max_upload_bytes: int) -> list[str]:
    """Deletes every object of the notification larger than ``max_upload_bytes``; returns their keys."""
    removed = []
    for record in event.get("Records") or []:
        details = record.get("s3") or {}
        if (details.get("bucket") or {}).get("name") != bucket:
            continue
        key = unquote_plus(str((details.get("object") or {}).get("key", "")))
        size = int((details.get("object") or {}).get("size") or 0)
        if not key.startswith(ASSET_KEY_PREFIX) or size <= max_upload_bytes:
            continue
        try:
            size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except ClientError as error:
            if is_missing_object(error):
                continue
            raise
        if size <= max_upload_bytes:
            continue
        s3.delete_object(Bucket=bucket, Key=key)
        logger.warning(
            "removed an upload over the limit",
            extra={"key": key, "size_bytes": size, "max_upload_bytes": max_upload_bytes},
        )
        removed.append(key)
    return removed


@cache
def _deps() -> tuple[ServiceSettings, S3Client]:
    settings = ServiceSettings.from_env()
    return settings, aws.AwsClients(endpoint_url=settings.aws_endpoint_url).s3()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, s3 = _deps()
    removed = remove_oversized(
        event, s3, bucket=settings.assets_bucket_name, max_upload_bytes=settings.max_upload_bytes
    )
    return {"removed": removed}
