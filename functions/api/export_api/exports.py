"""Starting an export and reporting on it: assets checked, idempotency honoured, job written before queued."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from export_api.models import CancelExportResponse, CreateExportResponse, JobStatusResponse
from export_common.callbacks import (
    CallbackNotifier,
    CallbackPolicy,
    CallbackUrlError,
    outcome_fields,
    public_callback_view,
)
from export_common.ending import end_job
from export_common.errors import ErrorCode, ServiceError
from export_common.jobs import Cancellation, Job, JobError, JobStatus, job_message_body
from export_common.limits import DEFAULT_MAX_UPLOAD_BYTES, is_missing_object
from export_common.table import IdempotencyRecord, IdempotencyStore, JobRepository
from render.captions import CaptionsError, parse_captions, read_limit
from render.editor_formats.react_timeline_editor import captions_files
from render.model import ExportRequest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

logger = Logger(child=True)

MAX_IDEMPOTENCY_KEY_LENGTH = 255
# a cancel re-reads the job this often when a concurrent transition refused its write (a claim, a release)
CANCEL_TRIES = 4
UNKNOWN_JOB_MESSAGE = "No export job with this id."
_UUID_CHARS = frozenset("0123456789abcdef-")


def canonical_request(request: ExportRequest) -> tuple[str, str]:
    """The validated body as canonical JSON (stored on the job) and its sha256 (the idempotency check)."""
    text = json.dumps(
        request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return text, hashlib.sha256(text.encode()).hexdigest()


def is_job_id(value: str) -> bool:
    """Job ids are lower-case canonical UUIDs; anything else is unknown without a table read."""
    if len(value) != 36 or not set(value) <= _UUID_CHARS:
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def check_assets_exist(request: ExportRequest, s3: S3Client, *, bucket: str, max_upload_bytes: int) -> None:
    """Every listed s3Key must have been uploaded, and be at most ``max_upload_bytes``; reports each
    missing (400 ``ASSET_MISSING``) or over-limit (400 ``ASSET_TOO_LARGE``) one with its field path."""

    def size_of(key: str) -> int | None:
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code"))
            if is_missing_object(error):
                return None
            if code in ("403", "AccessDenied"):
                # Without s3:ListBucket S3 answers 403 for a missing key.
                logger.warning("HeadObject denied; treating as missing", extra={"key": key})
                return None
            raise
        return int(head.get("ContentLength", 0))

    keys = [asset.s3Key for asset in request.assets]
    if not keys:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(keys))) as pool:
        sizes = list(pool.map(size_of, keys))
    missing = [
        {"path": f"assets[{i}].s3Key", "message": f"no uploaded file at {key!r}"}
        for i, (key, size) in enumerate(zip(keys, sizes, strict=True))
        if size is None
    ]
    if missing:
        raise ServiceError(
            ErrorCode.ASSET_MISSING,
            "Some assets have not been uploaded (presign, then PUT each file before POST /export; "
            f"a file over {max_upload_bytes} bytes is removed as it lands).",
            details=missing,
        )
    too_large = [
        {"path": f"assets[{i}].s3Key", "message": f"{size} bytes, over the {max_upload_bytes}-byte limit"}
        for i, size in enumerate(sizes)
        if size is not None and size > max_upload_bytes
    ]
    if too_large:
        raise ServiceError(
            ErrorCode.ASSET_TOO_LARGE,
            f"Some assets are larger than the upload limit of {max_upload_bytes} bytes (maxUploadBytes).",
            details=too_large,
        )


def _read_captions(s3: S3Client, bucket: str, key: str) -> bytes:
    """The first `read_limit()` bytes of an uploaded captions file (a ranged GET: a file too large to be
    captions costs no more than the limit)."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{read_limit() - 1}")
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) == "InvalidRange":
            return b""  # S3 answers a range of an empty object with 416
        if is_missing_object(error):
            raise ServiceError(
                ErrorCode.ASSET_MISSING,
                "Some assets have not been uploaded (presign, then PUT each file before POST /export).",
            ) from None
        raise
    return answer["Body"].read(read_limit())


def check_captions(request: ExportRequest, s3: S3Client, *, bucket: str) -> None:
    """Every captions file the timeline reads must be valid SRT or WebVTT: a 400 INVALID_CAPTIONS naming
    the action's field and the file's line, not a job that fails later. Each file is read once."""
    files = captions_files(request.timeline)
    if not files:
        return
    keys = {asset.src: asset.s3Key for asset in request.assets}
    verdicts: dict[str, CaptionsError | None] = {}
    problems = []
    for row, action, src in files:
        key = keys[src]
        if key not in verdicts:
            try:
                parse_captions(_read_captions(s3, bucket, key))
                verdicts[key] = None
            except CaptionsError as refused:
                verdicts[key] = refused
        verdict = verdicts[key]
        if verdict is not None:
            problems.append(
                {
                    "path": f"timeline.editorData[{row}].actions[{action}].data.src",
                    "message": f"captions file {src!r}: {verdict}",  # "line N: ..." when it has one
                }
            )
    if problems:
        raise ServiceError(
            ErrorCode.INVALID_CAPTIONS,
            "Some captions files are not valid SRT or WebVTT: "
            + "; ".join(str(problem["message"]) for problem in problems),
            details=problems,
        )


@dataclass
class ExportService:
    jobs: JobRepository
    idempotency: IdempotencyStore
    s3: S3Client
    sqs: SQSClient
    assets_bucket: str
    exports_bucket: str
    queue_url: str
    download_expiry_seconds: int
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    clock: Callable[[], float] = time.time
    callback_policy: CallbackPolicy = field(default_factory=CallbackPolicy)
    callbacks: CallbackNotifier | None = None  # None: this deployment sends no webhooks

    def _check_callback_url(self, url: str | None) -> None:
        """A readable 400 for a callback URL the settings refuse (scheme, host, credentials, address)."""
        if url is None:
            return
        if self.callbacks is None:
            reason = "this deployment does not send webhooks"
        else:
            try:
                self.callback_policy.check_url(url)
            except CallbackUrlError as refused:
                reason = str(refused)
            else:
                return
        raise ServiceError(
            ErrorCode.INVALID_CALLBACK_URL,
            f"The callbackUrl is not accepted: {reason}.",
            details=[{"path": "callbackUrl", "message": reason}],
        )

    def check(self, request: ExportRequest) -> None:
        """What a valid body must also pass before it may render: its callback URL, its uploads, its
        captions files (`POST /export` and `POST /export/quote` alike)."""
        self._check_callback_url(request.callbackUrl)
        check_assets_exist(
            request, self.s3, bucket=self.assets_bucket, max_upload_bytes=self.max_upload_bytes
        )
        check_captions(request, self.s3, bucket=self.assets_bucket)

    def create(self, request: ExportRequest, idempotency_key: str | None) -> CreateExportResponse:
        request_json, request_hash = canonical_request(request)
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
            raise ServiceError(
                ErrorCode.VALIDATION_ERROR,
                f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters.",
                details=[{"path": "headers.Idempotency-Key", "message": "length out of range"}],
            )
        self.check(request)
        job_id = str(uuid.uuid4())
        if idempotency_key is not None:
            existing = self.idempotency.reserve(idempotency_key, job_id, request_hash)
            if existing is not None:
                return self._existing(existing, request_hash)
        try:
            self.jobs.create(job_id, request_json, request_hash, callback_url=request.callbackUrl)
        except Exception:
            if idempotency_key is not None:
                self.idempotency.release(idempotency_key, job_id)
            raise
        try:
            if request.callbackUrl is not None and self.callbacks is not None:
                # before the job can run: whatever happens to it, this message sees that it ends
                self.callbacks.watch(job_id)
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=job_message_body(job_id))
        except (ClientError, BotoCoreError) as error:
            logger.error("job queue send failed", extra={"jobId": job_id, "error": type(error).__name__})
            end_job(
                self.jobs,
                job_id,
                JobError(code=ErrorCode.QUEUE_UNAVAILABLE.value, message="The job could not be queued."),
                attempt=None,
                callbacks=self.callbacks,
            )
            if idempotency_key is not None:
                self.idempotency.release(idempotency_key, job_id)
            raise ServiceError(
                ErrorCode.QUEUE_UNAVAILABLE, "The export could not be queued; try again later."
            ) from None
        logger.info("export queued", extra={"jobId": job_id})
        return CreateExportResponse(jobId=job_id, status=JobStatus.QUEUED)

    def _existing(self, record: IdempotencyRecord, request_hash: str) -> CreateExportResponse:
        if record.request_hash != request_hash:
            raise ServiceError(
                ErrorCode.IDEMPOTENCY_CONFLICT,
                "This Idempotency-Key was already used with a different request body.",
            )
        job = self.jobs.get(record.job_id)
        if job is None:
            raise ServiceError(
                ErrorCode.IDEMPOTENCY_CONFLICT,
                "A request with this Idempotency-Key is still being processed; retry shortly.",
            )
        return CreateExportResponse(jobId=job.job_id, status=job.status)

    def status(self, job_id: str) -> JobStatusResponse:
        return self._status_body(self._job(job_id))

    def _job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id) if is_job_id(job_id) else None
        if job is None:
            raise ServiceError(ErrorCode.NOT_FOUND, UNKNOWN_JOB_MESSAGE)
        return job

    def cancel(self, job_id: str) -> tuple[bool, CancelExportResponse]:
        """``DELETE /export/{jobId}``: (whether this call changed the job, what it is now).

        QUEUED ends CANCELLED here (the worker drops its message); RUNNING becomes CANCELLING (its worker
        stops within one heartbeat and ends it CANCELLED); CANCELLING and CANCELLED are reported as they
        are. A job that SUCCEEDED or FAILED first, also while this call ran, is a 409 naming that state.
        """
        job = self._job(job_id)
        for _ in range(CANCEL_TRIES):
            if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
                raise ServiceError(
                    ErrorCode.JOB_ALREADY_ENDED,
                    f"The export already ended {job.status.value}; there is nothing to cancel.",
                    details=[{"path": "status", "message": job.status.value}],
                )
            if job.status in (JobStatus.CANCELLING, JobStatus.CANCELLED):
                return False, CancelExportResponse(jobId=job_id, status=job.status)
            if job.status is JobStatus.QUEUED:
                cancelled = Cancellation(from_status=JobStatus.QUEUED)
                if end_job(self.jobs, job_id, cancelled, attempt=None, callbacks=self.callbacks):
                    logger.info("export cancelled while queued", extra={"jobId": job_id})
                    return True, CancelExportResponse(jobId=job_id, status=JobStatus.CANCELLED)
            elif self.jobs.request_cancel(job_id):
                logger.info("export cancelling", extra={"jobId": job_id})
                return True, CancelExportResponse(jobId=job_id, status=JobStatus.CANCELLING)
            job = self._job(job_id)  # a claim, release or end came first: decide on what it is now
        raise ServiceError(ErrorCode.DEPENDENCY_UNAVAILABLE, "The job keeps changing; retry the cancel.")

    def _status_body(self, job: Job) -> JobStatusResponse:
        body: dict[str, Any] = {
            "jobId": job.job_id,
            "status": job.status,
            "createdAt": job.created_at,
            "updatedAt": job.updated_at,
        }
        if job.status is JobStatus.RUNNING:
            body["progress"] = min(max(float(job.progress or 0.0), 0.0), 1.0)
        body |= outcome_fields(
            job,
            self.s3,
            exports_bucket=self.exports_bucket,
            download_expiry_seconds=self.download_expiry_seconds,
            now=self.clock(),
        )
        if job.callback is not None:
            body["callback"] = public_callback_view(job.callback)
        return JobStatusResponse.model_validate(body)
