"""Presigned uploads: one fresh ``assets/<uuid><ext>`` key per asset, as a PUT URL and as a form POST.

The PUT URL binds the content type (it is a signed header; ``headers`` tells the client to send it, also
``application/octet-stream``); the POST policy also enforces the size limit with ``content-length-range``,
which a PUT URL cannot. The key's extension is chosen by ``export_api.media.key_extension``; it may be empty.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from export_api.media import key_extension, media_type_of
from export_api.models import PresignedPost, PresignedUpload, PresignRequest, PresignResponse

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ASSET_PREFIX = "assets/"


def new_asset_key(ext: str) -> str:
    return f"{ASSET_PREFIX}{uuid.uuid4()}{ext}"


def presign_uploads(
    request: PresignRequest,
    s3: S3Client,
    *,
    bucket: str,
    expires_in: int,
    max_upload_bytes: int,
) -> PresignResponse:
    uploads = []
    for asset in request.assets:
        key = new_asset_key(key_extension(media_type_of(asset.contentType), asset.ext))
        put_url = s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket, "Key": key, "ContentType": asset.contentType},
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
        post = s3.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields={"Content-Type": asset.contentType},
            Conditions=[
                {"Content-Type": asset.contentType},
                ["content-length-range", 1, max_upload_bytes],
            ],
            ExpiresIn=expires_in,
        )
        uploads.append(
            PresignedUpload(
                src=asset.src,
                s3Key=key,
                uploadUrl=put_url,
                headers={"Content-Type": asset.contentType},
                post=PresignedPost(url=post["url"], fields={k: str(v) for k, v in post["fields"].items()}),
            )
        )
    return PresignResponse(uploads=uploads, expiresInSeconds=expires_in, maxUploadBytes=max_upload_bytes)
