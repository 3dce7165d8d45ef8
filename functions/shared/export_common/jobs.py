"""Export jobs: their states, their record in the jobs table, and every state transition.

Each transition is one conditional DynamoDB update, so that concurrent or repeated deliveries of the
same job can never move it backwards or overwrite a newer state. The table layout is described in
``docs/architecture.md``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from export_common.limits import DEFAULT_JOB_TTL_DAYS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

JOB_KEY_PREFIX = "job#"
OUTPUT_KEY_PREFIX = "exports/"


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class JobError(BaseModel):
    """Why a job failed, in words a client may show."""

    code: str
    message: str


class JobOutput(BaseModel):
    """Where the rendered file is and what it is."""

    model_config = ConfigDict(populate_by_name=True)

    key: str
    duration_seconds: float = Field(alias="durationSeconds")
    size_bytes: int = Field(alias="sizeBytes")
    width: int
    height: int
    render_seconds: float = Field(alias="renderSeconds")


class Job(BaseModel):
    """One export job as stored in the jobs table."""

    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="jobId")
    status: JobStatus
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    expires_at: int = Field(alias="expiresAt")
    request: str
    request_hash: str = Field(alias="requestHash")
    attempt: int = 0
    lease_until: int | None = Field(default=None, alias="leaseUntil")
    progress: float | None = None
    error: JobError | None = None
    # the transient failure that ended the previous attempt (set on release; the job is retried)
    last_error: JobError | None = Field(default=None, alias="lastError")
    output: JobOutput | None = None
    # fan-out (export_common.fanout): the chunk count, how many tasks the split sent (chunks + audio),
    # the names of those finished, and how often the join was claimed
    chunks: int | None = None
    fanout_tasks: int | None = Field(default=None, alias="fanoutTasks")
    done_tasks: frozenset[str] | None = Field(default=None, alias="doneTasks")
    join_claims: int | None = Field(default=None, alias="joinClaims")

    def lease_is_live(self, now: float) -> bool:
        """True while a RUNNING attempt holds the job (its heartbeat keeps extending the lease)."""
        return self.status is JobStatus.RUNNING and (self.lease_until or 0) >= int(now)

    def request_body(self) -> dict[str, Any]:
        """The validated ``POST /export`` body this job was created from."""
        body: dict[str, Any] = json.loads(self.request)
        return body


class JobMessage(BaseModel):
    """The body of a job-queue message."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    job_id: str = Field(alias="jobId", min_length=1, max_length=64)


def job_message_body(job_id: str) -> str:
    return JobMessage(job_id=job_id).model_dump_json(by_alias=True)


def output_key(job_id: str) -> str:
    """Deterministic output key: a retried render replaces the file instead of adding another."""
    return f"{OUTPUT_KEY_PREFIX}{job_id}.mp4"


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _to_dynamo(value: Any) -> Any:
    """DynamoDB's resource API wants Decimal, not float."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def is_condition_failure(error: ClientError) -> bool:
    """True when a DynamoDB write was refused by its condition (not a service failure)."""
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def put_unless_live(table: Table, item: dict[str, Any], *, now: int) -> bool:
    """Writes an expiring item (``pk``, ``expiresAt``) unless a live one has its key; False if one has.

    TTL deletion lags by up to days, so an item whose ``expiresAt`` has passed counts as absent.
    Used for the idempotency keys and the replay guard that share the jobs table.
    """
    try:
        table.put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now",
            ExpressionAttributeValues={":now": now},
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


class JobRepository:
    """Reads and conditionally updates job records. Only this class touches the jobs table for jobs."""

    def __init__(self, table: Table, *, ttl_days: int = DEFAULT_JOB_TTL_DAYS):
        self._table = table
        self._ttl_seconds = ttl_days * 86400

    @property
    def table(self) -> Table:
        """The jobs table, for the fan-out's writes (``export_common.fanout.FanoutRepository``)."""
        return self._table

    @property
    def ttl_seconds(self) -> int:
        return self._ttl_seconds

    # ----------------------------------------------------------------- reads
    def get(self, job_id: str) -> Job | None:
        item = self._table.get_item(Key={"pk": JOB_KEY_PREFIX + job_id}, ConsistentRead=True).get("Item")
        return Job.model_validate(item) if item else None

    # ----------------------------------------------------------------- writes
    def create(self, job_id: str, request_json: str, request_hash: str) -> Job:
        """Records a new QUEUED job; fails if the id exists (ids are random UUIDs, so it never should)."""
        now = utc_now_iso()
        job = Job(
            job_id=job_id,
            status=JobStatus.QUEUED,
            created_at=now,
            updated_at=now,
            expires_at=int(time.time()) + self._ttl_seconds,
            request=request_json,
            request_hash=request_hash,
        )
        item = job.model_dump(by_alias=True, exclude_none=True, mode="json")
        self._table.put_item(
            Item={"pk": JOB_KEY_PREFIX + job_id, **_to_dynamo(item)},
            ConditionExpression="attribute_not_exists(pk)",
        )
        return job

    def claim(
        self,
        job_id: str,
        *,
        lease_seconds: int,
        now: float | None = None,
        max_attempts: int | None = None,
    ) -> Job | None:
        """QUEUED → RUNNING, or takes over a RUNNING job whose lease expired; None if not claimable.

        Every claim starts a new attempt (``attempt`` + 1). With ``max_attempts``, a job that has had
        that many attempts is not claimable any more (``fail_abandoned`` then ends it).
        """
        now_s = int(now if now is not None else time.time())
        condition = "attribute_exists(pk) AND (#s = :queued OR (#s = :running AND leaseUntil < :now_s))"
        values: dict[str, Any] = {
            ":running": JobStatus.RUNNING.value,
            ":queued": JobStatus.QUEUED.value,
            ":zero": 0,
            ":one": 1,
            ":lease": now_s + lease_seconds,
            ":now": utc_now_iso(),
            ":now_s": now_s,
        }
        if max_attempts is not None:
            condition += " AND (attribute_not_exists(attempt) OR attempt < :max_attempts)"
            values[":max_attempts"] = max_attempts
        try:
            result = self._table.update_item(
                Key={"pk": JOB_KEY_PREFIX + job_id},
                UpdateExpression=(
                    "SET #s = :running, attempt = if_not_exists(attempt, :zero) + :one, "
                    "leaseUntil = :lease, progress = :zero, updatedAt = :now"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return Job.model_validate(result["Attributes"])

    def report_progress(self, job_id: str, attempt: int, progress: float) -> bool:
        """Stores progress of the current attempt; False when the attempt no longer owns the job."""
        return self.update_owned(
            job_id,
            attempt,
            "SET progress = :p, updatedAt = :now",
            {":p": Decimal(str(round(min(max(progress, 0.0), 1.0), 3)))},
        )

    def extend_lease(
        self, job_id: str, attempt: int, lease_seconds: int, *, now: float | None = None
    ) -> bool:
        """The heartbeat: the lease of this attempt runs until now + ``lease_seconds``; False if not owned."""
        now_s = int(now if now is not None else time.time())
        return self.update_owned(
            job_id,
            attempt,
            "SET leaseUntil = :lease, updatedAt = :now",
            {":lease": now_s + lease_seconds},
        )

    def mark_succeeded(self, job_id: str, attempt: int, output: JobOutput) -> bool:
        """RUNNING (this attempt) → SUCCEEDED with the output metadata."""
        return self.update_owned(
            job_id,
            attempt,
            "SET #s = :done, progress = :one, #o = :output, updatedAt = :now REMOVE leaseUntil",
            {
                ":done": JobStatus.SUCCEEDED.value,
                ":one": 1,
                ":output": _to_dynamo(output.model_dump(by_alias=True)),
            },
            names={"#o": "output"},
        )

    def release(self, job_id: str, attempt: int, *, last_error: JobError | None = None) -> bool:
        """RUNNING (this attempt) → QUEUED, so a later delivery starts afresh (as the next attempt).

        ``last_error`` records why this attempt gave up (a transient failure), for logs and clients.
        """
        if last_error is None:
            return self.update_owned(
                job_id,
                attempt,
                "SET #s = :queued, updatedAt = :now REMOVE leaseUntil, progress",
                {":queued": JobStatus.QUEUED.value},
            )
        return self.update_owned(
            job_id,
            attempt,
            "SET #s = :queued, lastError = :last, updatedAt = :now REMOVE leaseUntil, progress",
            {":queued": JobStatus.QUEUED.value, ":last": last_error.model_dump()},
        )

    def fail_abandoned(self, job_id: str, error: JobError, *, attempt: int, now: float | None = None) -> bool:
        """Ends a job nobody holds: QUEUED, or RUNNING with an expired lease, still at ``attempt``.

        For a job out of attempts, and for the DLQ consumer. The attempt condition makes a claim that
        happened since the caller read the job win: that new attempt then owns the job's end.
        """
        now_s = int(now if now is not None else time.time())
        try:
            self._table.update_item(
                Key={"pk": JOB_KEY_PREFIX + job_id},
                UpdateExpression="SET #s = :failed, #e = :error, updatedAt = :now REMOVE leaseUntil",
                ConditionExpression=(
                    "attribute_exists(pk) AND (#s = :queued OR (#s = :running AND leaseUntil < :now_s)) "
                    "AND (attempt = :attempt OR (attribute_not_exists(attempt) AND :attempt = :zero))"
                ),
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues={
                    ":failed": JobStatus.FAILED.value,
                    ":queued": JobStatus.QUEUED.value,
                    ":running": JobStatus.RUNNING.value,
                    ":error": error.model_dump(),
                    ":now": utc_now_iso(),
                    ":now_s": now_s,
                    ":attempt": attempt,
                    ":zero": 0,
                },
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def mark_failed(self, job_id: str, error: JobError, *, attempt: int | None = None) -> bool:
        """Any unfinished state (or only this attempt's, when given) → FAILED with a readable reason."""
        condition = "attribute_exists(pk) AND (#s = :queued OR #s = :running)"
        values: dict[str, Any] = {
            ":failed": JobStatus.FAILED.value,
            ":queued": JobStatus.QUEUED.value,
            ":running": JobStatus.RUNNING.value,
            ":error": error.model_dump(),
            ":now": utc_now_iso(),
        }
        if attempt is not None:
            condition = "attribute_exists(pk) AND #s = :running AND attempt = :attempt"
            values.pop(":queued")
            values[":attempt"] = attempt
        try:
            self._table.update_item(
                Key={"pk": JOB_KEY_PREFIX + job_id},
                UpdateExpression="SET #s = :failed, #e = :error, updatedAt = :now REMOVE leaseUntil",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def update_owned(
        self,
        job_id: str,
        attempt: int,
        update: str,
        values: dict[str, Any],
        *,
        names: dict[str, str] | None = None,
        extra_condition: str = "",
    ) -> bool:
        """An update that applies only while this attempt still owns the RUNNING job (and, when given,
        ``extra_condition`` holds); ``:now`` is bound to the current time."""
        condition = "#s = :running AND attempt = :attempt"
        if extra_condition:
            condition += f" AND {extra_condition}"
        try:
            self._table.update_item(
                Key={"pk": JOB_KEY_PREFIX + job_id},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status", **(names or {})},
                ExpressionAttributeValues={
                    ":running": JobStatus.RUNNING.value,
                    ":attempt": attempt,
                    ":now": utc_now_iso(),
                    **values,
                },
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True
