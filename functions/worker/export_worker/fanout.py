"""The fan-out flow: split a long job into task messages, render one task, join the set once.

Built on the attempt core (``export_worker.attempt``), beside the single-pass flow, which it never
imports. The split is what a job delivery does instead of a render when the engine's ``plan`` cuts the
output in more than one window (``export_worker.process`` decides): it records the chunk count on the
job (``FanoutRepository.start``) and sends one task message per chunk, all under the job's attempt; a
chunk renders its frames and the sound under them. A task is claimed with a lease of its own and beats
like a job (a dead task worker's message comes back after one lease and renders again, into the same
deterministic key). The task's heartbeat also keeps the job's lease alive, so a duplicate job message
finds the job busy instead of splitting it again. A finished task adds its name to ``doneTasks``
(refused if there already: duplicates and redeliveries count once); the delivery whose add completes the
set, or a redelivery that finds it complete, claims the join with a lease, so one joiner runs at a time
and a dead joiner is replaced. A task that fails for good fails the job with its own error code, through
``end_job`` like every final state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from botocore.exceptions import ClientError

from export_common.errors import ErrorCode
from export_common.jobs import Job, JobError, JobOutput, JobStatus
from export_common.keys import (
    audio_key,
    chunk_key,
    chunk_sound_key,
    output_key,
    poster_key,
    work_poster_key,
)
from export_common.limits import is_missing_object
from export_common.messages import TaskKind, TaskMessage
from export_common.table import FanoutRepository, TaskClaim
from export_worker.attempt import (
    RENDER_TIMEOUT_MESSAGE,
    TRANSIENT_RETRY_MESSAGE,
    Delivery,
    Outcome,
    RecordResult,
    UsageMeter,
    WorkerDeps,
    asset_refs,
    check_owned,
    claim,
    fail_exhausted,
    fail_job,
    finish_cancel,
    heartbeat_of,
    invalid_job,
    lease_repo,
    log_render_error,
    lost_or_cancelled,
    not_claimed,
    progress_callback,
    release,
    request_of,
    retry,
    shorten_visibility,
    succeed,
    upload_result,
)
from export_worker.budget import MIN_USEFUL_RENDER_SECONDS
from export_worker.engine import FanoutLimits, RenderOutcome, RenderRun
from export_worker.failures import JobFailedError, LeaseLostError, RetryLaterError
from export_worker.heartbeat import Heartbeat
from export_worker.progress import ProgressReporter
from export_worker.redelivery import backoff_seconds, clamp_visibility
from export_worker.sources import Reads, open_sources
from export_worker.storage import upload_output
from export_worker.workdir import job_work_dir
from render.chunking import ChunkWindow
from render.errors import RenderError, RenderTimeoutError
from render.model import ExportRequest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

# A chunk's progress reaches the table at most this often (20 chunks at once would otherwise write
# ten times a second); the job's progress is the sum over the chunks.
CHUNK_PROGRESS_INTERVAL_SECONDS = 5.0
CHUNK_PROGRESS_STEP = 0.1
SEND_BATCH = 10  # SQS's SendMessageBatch limit


def plan(request: ExportRequest, deps: WorkerDeps) -> tuple[ChunkWindow, ...]:
    """The chunks of this job under the deployment's settings; fewer than two: render in one pass."""
    settings = deps.settings
    limits = FanoutLimits(
        threshold_seconds=settings.fanout_threshold_seconds,
        max_chunks=settings.fanout_max_chunks,
        min_chunk_seconds=settings.fanout_min_chunk_seconds,
    )
    return deps.engine.plan(request, limits)


def task_window(task: TaskMessage) -> ChunkWindow | None:
    """The output frames a chunk task renders; None for an earlier version's audio task."""
    if task.index is None or task.start_frame is None or task.end_frame is None:
        return None
    return ChunkWindow(index=task.index, start_frame=task.start_frame, end_frame=task.end_frame)


def has_audio_task(job: Job) -> bool:
    """A job split by an earlier version: an audio task renders the whole timeline's sound, and its
    chunks only their frames."""
    return job.fanout_tasks is not None and job.chunks is not None and job.fanout_tasks > job.chunks


def task_bodies(job_id: str, attempt: int, windows: Sequence[ChunkWindow], *, sent_at_ms: int) -> list[str]:
    """The split's messages: one per chunk."""
    chunks = [
        TaskMessage(
            job_id=job_id,
            attempt=attempt,
            task=TaskKind.CHUNK,
            index=w.index,
            start_frame=w.start_frame,
            end_frame=w.end_frame,
            sent_at_ms=sent_at_ms,
        )
        for w in windows
    ]
    return [m.model_dump_json(by_alias=True, exclude_none=True) for m in chunks]


# --------------------------------------------------------------------------------------------- split
def split(job_id: str, windows: Sequence[ChunkWindow], deps: WorkerDeps) -> RecordResult:
    """A long export: this delivery claims the job and only splits it; the chunks render elsewhere."""
    claimed = claim(job_id, deps)
    if claimed is None:
        return not_claimed(job_id, deps)
    try:
        return split_job(claimed, windows, deps)
    except Exception as error:
        logger.exception("split failed; the job is released", extra={"attempt": claimed.attempt})
        last_error = JobError(code=ErrorCode.INTERNAL_ERROR.value, message=TRANSIENT_RETRY_MESSAGE)
        release(job_id, claimed.attempt, deps, last_error=last_error)
        reason = f"split failed: {type(error).__name__}"
        raise retry(job_id, claimed.attempt, reason, backoff_seconds(claimed.attempt)) from error


def split_job(job: Job, windows: Sequence[ChunkWindow], deps: WorkerDeps) -> RecordResult:
    """Records the split on the claimed job and queues its tasks; the job stays RUNNING under this attempt."""
    settings = deps.settings
    if settings.job_queue_url is None or deps.sqs is None:
        raise RuntimeError("the worker cannot fan out: JOB_QUEUE_URL (or its SQS client) is missing")
    total_frames = sum(w.end_frame - w.start_frame for w in windows)
    fan = FanoutRepository(deps.repo)
    if not fan.start(job.job_id, job.attempt, chunks=len(windows), total_frames=total_frames):
        logger.warning("job no longer owned by this attempt; not split")
        return lost_or_cancelled(job.job_id, job.attempt, deps)
    bodies = task_bodies(job.job_id, job.attempt, windows, sent_at_ms=deps.now_ms())
    for start in range(0, len(bodies), SEND_BATCH):
        batch = bodies[start : start + SEND_BATCH]
        sent = deps.sqs.send_message_batch(
            QueueUrl=settings.job_queue_url,
            Entries=[{"Id": str(start + i), "MessageBody": body} for i, body in enumerate(batch)],
        )
        if sent.get("Failed"):
            # the job is released and split again by its next attempt; this attempt's tasks are refused
            raise RuntimeError(f"{len(sent['Failed'])} task messages could not be sent")
    logger.info(
        "job split",
        extra={"attempt": job.attempt, "chunks": len(windows), "total_frames": total_frames},
    )
    return RecordResult(
        Outcome.SPLIT, job_id=job.job_id, attempt=job.attempt, reason=f"{len(windows)} chunks"
    )


# --------------------------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class _ChunkProgress:
    """A ``ProgressSink`` that stores one chunk's rendered frames (the job's progress is their sum)."""

    fan: FanoutRepository
    index: int
    frames: int

    def report_progress(self, job_id: str, attempt: int, progress: float) -> bool:
        return self.fan.report_chunk_frames(job_id, attempt, self.index, round(progress * self.frames))


def process_task(task: TaskMessage, delivery: Delivery, deps: WorkerDeps) -> RecordResult:
    job_id = task.job_id
    job = deps.repo.get(job_id)
    if job is not None and job.status is JobStatus.CANCELLING:
        # cancelled: no further task starts; the first one delivered finishes the cancel
        return finish_cancel(job, deps, attempt=task.attempt)
    if job is None or job.status.is_final:
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="job finished or unknown")
    if job.attempt != task.attempt:
        # the job was released and split again (or never split by this attempt): not this task's job
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="task of a superseded attempt")
    if task.task is TaskKind.AUDIO and not has_audio_task(job):
        # only a split of an earlier version has an audio task; counted, it would complete the set early
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="the split has no audio task")
    if task.name in (job.done_tasks or ()):
        if job.fanout_tasks is not None and len(job.done_tasks or ()) >= job.fanout_tasks:
            return _join(job, delivery, deps)  # the joiner may have died: its redelivery joins
        logger.info("task already done; duplicate acknowledged", extra={"task": task.name})
        return RecordResult(Outcome.SKIPPED, job_id=job_id, reason="task already done")
    request = request_of(job, deps)
    if request is None:
        return invalid_job(job_id)
    render_timeout = min(
        deps.settings.render_timeout_seconds,
        delivery.remaining_seconds() - deps.settings.upload_margin_seconds,
    )
    if render_timeout < MIN_USEFUL_RENDER_SECONDS:
        raise RetryLaterError("not enough time left in this invocation", retry_after_seconds=0)

    fan = FanoutRepository(deps.repo)
    claim = fan.claim_task(
        job_id,
        task.attempt,
        task.name,
        lease_seconds=deps.settings.job_lease_seconds,
        now=deps.clock(),
        max_attempts=deps.settings.max_attempts,
        sent_at_ms=task.sent_at_ms,
    )
    if claim is None:
        return _task_not_claimed(job, task, fan, deps)
    logger.info(
        "task claimed",
        extra={
            "task": task.name,
            "claims": claim.claims,
            "queue_to_start_ms": claim.started_at_ms - claim.queued_at_ms,
        },
    )
    return _run_task(
        job, task, claim, request=request, render_timeout=render_timeout, delivery=delivery, deps=deps
    )


def _task_not_claimed(job: Job, task: TaskMessage, fan: FanoutRepository, deps: WorkerDeps) -> RecordResult:
    state = fan.task_state(job.job_id, task.attempt, task.name)
    now = deps.clock()
    if state is not None and state.lease_is_live(now):
        # another delivery renders this task and beats: look again when its lease would have run out
        raise RetryLaterError("task busy", retry_after_seconds=clamp_visibility(state.lease_until - now + 1))
    if state is not None and state.claims >= deps.settings.max_attempts:
        # the task's last claim died: the job ends now, like a job out of attempts
        return fail_exhausted(job.job_id, job.attempt, state.claims, deps)
    raise RetryLaterError("task changed meanwhile", retry_after_seconds=0)


def _task_heartbeat(
    job_id: str, task: TaskMessage, claim: TaskClaim, delivery: Delivery, deps: WorkerDeps
) -> Heartbeat:
    repo = lease_repo(deps)
    lease_fan = FanoutRepository(repo)
    lease = deps.settings.job_lease_seconds

    def extend_lease() -> bool:
        now = deps.clock()
        # the task's own lease, then the job's: a job failed by another task stops this render too
        return lease_fan.extend_task_lease(
            job_id, task.attempt, task.name, claim.claims, lease, now=now
        ) and repo.extend_lease(job_id, task.attempt, lease, now=now)

    return heartbeat_of(extend_lease, delivery, deps)


def _run_task(
    job: Job,
    task: TaskMessage,
    claim: TaskClaim,
    *,
    request: ExportRequest,
    render_timeout: float,
    delivery: Delivery,
    deps: WorkerDeps,
) -> RecordResult:
    job_id, attempt = job.job_id, task.attempt
    fan = FanoutRepository(deps.repo)
    last_claim = claim.claims >= deps.settings.max_attempts
    shorten_visibility(delivery, deps)
    heartbeat = _task_heartbeat(job_id, task, claim, delivery, deps)
    try:
        with job_work_dir(deps.settings.work_dir) as work, heartbeat:
            reads = _render_task(
                task,
                sound=not has_audio_task(job),
                request=request,
                render_timeout=render_timeout,
                work=work,
                deps=deps,
                lost=heartbeat.lost,
            )
    except LeaseLostError:
        logger.warning("task no longer owned by this delivery; work abandoned", extra={"task": task.name})
        return lost_or_cancelled(job_id, attempt, deps)
    except RenderTimeoutError as error:
        log_render_error(error)
        return fail_job(job_id, attempt, error.code, RENDER_TIMEOUT_MESSAGE, deps)
    except RenderError as error:
        log_render_error(error)
        if error.transient and not last_claim:
            _retry_task(fan, job_id, task, claim, f"transient render failure: {error.code}")
        return fail_job(job_id, attempt, error.code, error.message, deps)
    except JobFailedError as error:
        logger.warning(
            "task failed", extra={"code": error.code, "detail": error.log_detail, "task": task.name}
        )
        return fail_job(job_id, attempt, error.code, error.message, deps)
    except Exception as error:
        logger.exception("task failed", extra={"task": task.name, "claims": claim.claims})
        if last_claim:
            return fail_exhausted(job_id, attempt, claim.claims, deps)
        _retry_task(fan, job_id, task, claim, f"error: {type(error).__name__}", cause=error)
    try:
        fan.record_task_reads(
            job_id,
            attempt,
            task.name,
            claim.claims,
            bytes_read=reads.bytes_read,
            bytes_needed=reads.bytes_needed,
        )
    except Exception:
        logger.warning("the task's read counter was not stored", exc_info=True)
    finished = fan.finish_task(job_id, attempt, task.name)
    if finished is None:  # cancelled (its upload is deleted now) or taken over
        return lost_or_cancelled(job_id, attempt, deps)
    logger.info(
        "task done",
        extra={
            "task": task.name,
            "counted": finished.counted,
            "done": finished.done,
            "total": finished.total,
        },
    )
    if finished.complete:
        current = deps.repo.get(job_id)
        if current is not None and not current.status.is_final:
            return _join(current, delivery, deps)
    return RecordResult(Outcome.TASK_DONE, job_id=job_id, attempt=attempt, reason=task.name)


def _retry_task(
    fan: FanoutRepository,
    job_id: str,
    task: TaskMessage,
    claim: TaskClaim,
    reason: str,
    *,
    cause: BaseException | None = None,
) -> NoReturn:
    """Ends this claim's lease so the task's message, handed back with a backoff, claims it afresh."""
    try:
        fan.release_task(job_id, task.attempt, task.name, claim.claims)
    except Exception:
        logger.warning("task release failed; its lease will expire instead", exc_info=True)
    raise retry(job_id, task.attempt, reason, backoff_seconds(claim.claims)) from cause


def _render_task(
    task: TaskMessage,
    *,
    sound: bool,
    request: ExportRequest,
    render_timeout: float,
    work: Path,
    deps: WorkerDeps,
    lost: threading.Event,
) -> Reads:
    """Renders and uploads one task (a chunk: with its `sound`, unless an audio task renders it); returns
    what it read of its sources (its own counter)."""
    settings = deps.settings
    engine = deps.engine
    window = task_window(task)
    assets_dir = work / "in"
    with UsageMeter(task.job_id, deps) as meter:
        refs = asset_refs(request, engine.task_asset_keys(request, window))
        fps = request.to_composition().fps
        # sound (AAC) is small beside the headroom kept anyway
        output_seconds = window.frames / fps if window is not None else 0.0
        sources = open_sources(deps.s3, settings, refs, assets_dir, output_seconds=output_seconds)
        reporter: ProgressReporter | None = None
        if window is not None:
            fan = FanoutRepository(deps.repo)
            reporter = ProgressReporter(
                _ChunkProgress(fan, window.index, window.end_frame - window.start_frame),
                task.job_id,
                task.attempt,
                min_interval_seconds=CHUNK_PROGRESS_INTERVAL_SECONDS,
                min_step=CHUNK_PROGRESS_STEP,
            )
        check_owned(lost)
        run = RenderRun(
            timeout_seconds=render_timeout,
            scratch_dir=work,
            on_progress=progress_callback(lost, reporter),
            read_spans=sources.read_spans,
        )
        with meter.rendering():
            if window is not None:
                output, key = work / f"{window.index}.mp4", chunk_key(task.job_id, window.index)
                rendered = engine.render_chunk(request, assets_dir, window, output, run, sound=sound)
            else:
                output, key = work / "audio.m4a", audio_key(task.job_id)
                rendered = engine.render_audio(request, assets_dir, output, run)
        check_owned(lost, reporter)
        size = upload_output(deps.s3, output, settings.exports_bucket_name, key)
        if rendered.audio_path is not None and window is not None:
            size += upload_output(
                deps.s3,
                rendered.audio_path,
                settings.exports_bucket_name,
                chunk_sound_key(task.job_id, window.index),
            )
        if rendered.poster_path is not None:
            # the chunk that holds the poster's frame drew it; the join copies it beside the export
            upload_output(
                deps.s3, rendered.poster_path, settings.exports_bucket_name, work_poster_key(task.job_id)
            )
    logger.info(
        "task rendered",
        extra={
            "task": task.name,
            "key": key,
            "bytes": size,
            "render_seconds": round(rendered.render_seconds, 3),
            "bytes_read": sources.reads.bytes_read,
            "bytes_needed": sources.reads.bytes_needed,
        },
    )
    return sources.reads


# --------------------------------------------------------------------------------------------- join
def _join(job: Job, delivery: Delivery, deps: WorkerDeps) -> RecordResult:
    """Claims the join (one joiner at a time), joins the chunks and their sound, and ends the job."""
    job_id, attempt = job.job_id, job.attempt
    settings = deps.settings
    fan = FanoutRepository(deps.repo)
    join_claim = fan.claim_join(job_id, attempt, lease_seconds=settings.job_lease_seconds, now=deps.clock())
    if join_claim is None:
        current = deps.repo.get(job_id)
        if current is not None and current.status is JobStatus.CANCELLING:
            return finish_cancel(current, deps, attempt=attempt)
        logger.info("join held by another delivery, or the job moved on; acknowledged")
        return RecordResult(Outcome.SKIPPED, job_id=job_id, attempt=attempt, reason="join not claimed")
    logger.info("join claimed", extra={"join_claims": join_claim})
    lease_fan = FanoutRepository(lease_repo(deps))

    def extend_lease() -> bool:
        return lease_fan.extend_join_lease(
            job_id, attempt, join_claim, settings.job_lease_seconds, now=deps.clock()
        )

    shorten_visibility(delivery, deps)
    heartbeat = heartbeat_of(extend_lease, delivery, deps)
    request = request_of(job, deps)
    if request is None:
        return invalid_job(job_id)
    chunks = job.chunks or 0
    try:
        with job_work_dir(settings.work_dir) as work, heartbeat:
            output, joined = _join_and_upload(
                job_id,
                chunks,
                lost=heartbeat.lost,
                audio_task=has_audio_task(job),
                request=request,
                work=work,
                delivery=delivery,
                deps=deps,
            )
            check_owned(heartbeat.lost)
    except LeaseLostError:
        return lost_or_cancelled(job_id, attempt, deps)
    except RenderError as error:
        log_render_error(error)
        if error.transient and join_claim < settings.max_attempts:
            _retry_join(job_id, attempt, join_claim, f"join failed: {error.code}", cause=error)
        return fail_job(job_id, attempt, error.code, error.message, deps)
    except Exception as error:
        logger.exception("join failed", extra={"join_claims": join_claim})
        if join_claim >= settings.max_attempts:
            return fail_exhausted(job_id, attempt, join_claim, deps)
        _retry_join(job_id, attempt, join_claim, f"join failed: {type(error).__name__}", cause=error)
    return succeed(job_id, attempt, output, joined, deps, chunks=chunks)


def _retry_join(job_id: str, attempt: int, join_claim: int, reason: str, *, cause: BaseException) -> NoReturn:
    """The message comes back after a backoff; its delivery claims the join again once this lease ends."""
    raise retry(job_id, attempt, reason, backoff_seconds(join_claim)) from cause


def _download(s3: S3Client, bucket: str, key: str, target: Path) -> Path:
    try:
        s3.download_file(bucket, key, str(target))
    except ClientError as error:
        if is_missing_object(error):  # a finished task's file is gone (expired): a bug or a very old job
            raise JobFailedError(ErrorCode.INTERNAL_ERROR.value, "a part of the export was lost") from error
        raise
    return target


def _join_and_upload(
    job_id: str,
    chunks: int,
    *,
    lost: threading.Event,
    audio_task: bool,
    request: ExportRequest,
    work: Path,
    delivery: Delivery,
    deps: WorkerDeps,
) -> tuple[JobOutput, RenderOutcome]:
    """Downloads the parts, joins them and uploads the export; a cancel (the join's lease refused) stops
    the join's ffmpeg at its next progress report."""
    settings = deps.settings
    bucket = settings.exports_bucket_name
    with UsageMeter(job_id, deps) as meter:
        paths = [_download(deps.s3, bucket, chunk_key(job_id, i), work / f"{i}.mp4") for i in range(chunks)]
        audio: Path | list[Path] = (
            _download(deps.s3, bucket, audio_key(job_id), work / "audio.m4a")
            if audio_task
            else [
                _download(deps.s3, bucket, chunk_sound_key(job_id, i), work / f"{i}.aac")
                for i in range(chunks)
            ]
        )
        output_path = work / "out.mp4"
        check_owned(lost)
        run = RenderRun(
            timeout_seconds=max(1.0, delivery.remaining_seconds() - settings.upload_margin_seconds),
            scratch_dir=work,
            on_progress=progress_callback(lost, None),
        )
        composition = request.to_composition()
        with meter.rendering():
            joined = deps.engine.join(
                paths, audio, output_path, fps=composition.fps, duration=composition.duration, run=run
            )
        poster = None
        if request.output.poster is not None:
            poster = poster_key(job_id)
            _copy_poster(deps.s3, bucket, work_poster_key(job_id), poster)
        return upload_result(output_path, output_key(job_id), joined, deps, poster_key=poster)


def _copy_poster(s3: S3Client, bucket: str, source: str, target: str) -> None:
    """The poster a chunk wrote under ``work/``, copied beside the export (S3 to S3, nothing decoded)."""
    try:
        s3.copy_object(
            Bucket=bucket,
            Key=target,
            CopySource={"Bucket": bucket, "Key": source},
            ContentType="image/jpeg",
            MetadataDirective="REPLACE",
        )
    except ClientError as error:
        if is_missing_object(error):  # the chunk that holds the frame wrote none: a bug, not a retry
            raise JobFailedError(ErrorCode.INTERNAL_ERROR.value, "the poster frame was lost") from error
        raise
