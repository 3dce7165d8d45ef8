"""S3 transfers of one job: an asset into the work dir (streamed, capped) and the output back out.

Which assets, and which of their bytes, a task reads is ``export_worker.sources``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from export_common.errors import ErrorCode
from export_common.keys import content_type_of
from export_common.limits import GIB, MIB, is_missing_object
from export_worker.failures import JobFailedError
from render.errors import AssetMissingError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 * MIB
MULTIPART_THRESHOLD_BYTES = 64 * MIB


@dataclass(frozen=True)
class AssetRef:
    src: str  # the name the client used: safe to repeat in messages
    s3_key: str


def human_size(size: int) -> str:
    return f"{size / MIB:.0f} MiB" if size < GIB else f"{size / GIB:.1f} GiB"


def too_large(ref: AssetRef, max_bytes: int) -> JobFailedError:
    message = f"asset {ref.src!r} is larger than {human_size(max_bytes)}"
    return JobFailedError(ErrorCode.PAYLOAD_TOO_LARGE.value, message)


def local_path(assets_dir: Path, s3_key: str) -> Path:
    """Where the renderer expects an asset (``assets_dir / s3Key``), refusing keys that escape it."""
    path = (assets_dir / s3_key).resolve()
    if not path.is_relative_to(assets_dir.resolve()):
        raise JobFailedError(ErrorCode.INVALID_JOB.value, "an asset key of this job is not valid")
    return path


@contextmanager
def missing_means_failed(ref: AssetRef) -> Iterator[None]:
    """An absent object fails the job (no retry brings it back); other S3 errors stay transient."""
    try:
        yield
    except ClientError as error:
        if is_missing_object(error):
            raise JobFailedError(AssetMissingError.code, f"asset {ref.src!r} was not uploaded") from error
        raise


def stream_one(s3: S3Client, bucket: str, ref: AssetRef, target: Path, *, max_bytes: int) -> int:
    """Downloads one whole asset to `target`, never more than `max_bytes`; returns the bytes written."""
    with missing_means_failed(ref):
        response = s3.get_object(Bucket=bucket, Key=ref.s3_key)
    if int(response.get("ContentLength", 0)) > max_bytes:
        response["Body"].close()
        raise too_large(ref, max_bytes)
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    body = response["Body"]
    try:
        with target.open("wb") as out:
            for chunk in body.iter_chunks(CHUNK_BYTES):
                written += len(chunk)
                if written > max_bytes:  # the object grew since HEAD: never trust one number
                    raise too_large(ref, max_bytes)
                out.write(chunk)
    finally:
        body.close()
    return written


def upload_output(s3: S3Client, source: Path, bucket: str, key: str) -> int:
    """Uploads the render (multipart above 64 MiB) under its deterministic key, typed by the key's
    extension; returns its size."""
    config = TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD_BYTES,
        multipart_chunksize=MULTIPART_THRESHOLD_BYTES,
        max_concurrency=4,
    )
    s3.upload_file(str(source), bucket, key, ExtraArgs={"ContentType": content_type_of(key)}, Config=config)
    return source.stat().st_size


DELETE_BATCH = 1000  # DeleteObjects' limit


def delete_prefixes(s3: S3Client, bucket: str, prefixes: Iterable[str]) -> int:
    """Deletes every object under ``prefixes``; returns how many. Raises when S3 refused one."""
    keys: list[ObjectIdentifierTypeDef] = []
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend({"Key": item["Key"]} for item in page.get("Contents", []))
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        failed = answer.get("Errors", [])
        if failed:
            raise RuntimeError(f"{len(failed)} objects could not be deleted: {failed[0].get('Code')}")
    return len(keys)
