"""Presigned uploads: one fresh ``assets/<uuid><ext>`` key per asset, as a PUT URL and as a form POST.

The PUT URL binds the content type (it is a signed header; ``headers`` tells the client to send it, also
``application/octet-stream``) and, when the client states the file's ``size``, the Content-Length, so S3
itself refuses an upload cut short. The POST policy enforces the size limit (or the stated size) with
``content-length-range``. The key's extension is chosen by ``export_api.media.key_extension``; it may be
empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from export_api.media import key_extension, media_type_of
from export_api.models import PresignedPost, PresignedUpload, PresignRequest, PresignResponse
from export_common.errors import ErrorCode, ServiceError
from export_common.keys import new_asset_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def presign_uploads(
    request: PresignRequest,
    s3: S3Client,
    *,
    bucket: str,
    expires_in: int,
    max_upload_bytes: int,
) -> PresignResponse:
    too_large = [
        {
            "path": f"assets[{i}].size",
            "message": f"must be at most {max_upload_bytes} bytes (the upload limit)",
        }
        for i, asset in enumerate(request.assets)
        if asset.size is not None and asset.size > max_upload_bytes
    ]
    if too_large:
        message = "; ".join(f"{d['path']}: {d['message']}" for d in too_large)
        raise ServiceError(ErrorCode.VALIDATION_ERROR, message, details=too_large)
    uploads = []
    for asset in request.assets:
        key = new_asset_key(key_extension(media_type_of(asset.contentType), asset.ext))
        params: dict[str, Any] = {"Bucket": bucket, "Key": key, "ContentType": asset.contentType}
        headers = {"Content-Type": asset.contentType}
        if asset.size is not None:
            params["ContentLength"] = asset.size
            headers["Content-Length"] = str(asset.size)
        put_url = s3.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=expires_in, HttpMethod="PUT"
        )
        post = s3.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields={"Content-Type": asset.contentType},
            Conditions=[
                {"Content-Type": asset.contentType},
                ["content-length-range", asset.size or 1, asset.size or max_upload_bytes],
            ],
            ExpiresIn=expires_in,
        )
        uploads.append(
            PresignedUpload(
                src=asset.src,
                s3Key=key,
                uploadUrl=put_url,
                headers=headers,
                post=PresignedPost(url=post["url"], fields={k: str(v) for k, v in post["fields"].items()}),
            )
        )
    return PresignResponse(uploads=uploads, expiresInSeconds=expires_in, maxUploadBytes=max_upload_bytes)
