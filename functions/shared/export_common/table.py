"""The jobs table: its keys, and every read and conditional write of it, in one place.

One DynamoDB table (string hash key ``pk``, TTL attribute ``expiresAt``) holds four kinds of item, told
apart by the prefix of their key (``docs/architecture.md``): jobs, ``Idempotency-Key`` reservations, seen
signatures (the replay guard) and the key the health check reads, which never exists. The API and the
worker import their table access from here; nothing else builds a key or a condition.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from export_common.jobs import CallbackRecord, CallbackState, Job, JobError, JobOutput, JobStatus, utc_now_iso
from export_common.limits import DEFAULT_JOB_TTL_DAYS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

logger = logging.getLogger(__name__)

JOB_KEY_PREFIX = "job#"
IDEMPOTENCY_KEY_PREFIX = "idem#"
SIGNATURE_KEY_PREFIX = "sig#"
# the lease item of one task of a fanned-out job: task#<jobId>#<attempt>#<task> (FanoutRepository)
TASK_KEY_PREFIX = "task#"
HEALTH_PROBE_KEY = "health#probe"
"""Read by ``GET /health`` to see that the table answers; never written."""

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
REPLAY_WINDOW_SECONDS = 600
"""A signature is remembered for 10 minutes: longer than the +-5 minute window in which it verifies."""


def job_key(job_id: str) -> dict[str, str]:
    return {"pk": JOB_KEY_PREFIX + job_id}


def idempotency_pk(key: str) -> str:
    """The client's key is hashed: it may be long and is the client's, not ours, to show."""
    return IDEMPOTENCY_KEY_PREFIX + hashlib.sha256(key.encode()).hexdigest()


def to_dynamo(value: Any) -> Any:
    """DynamoDB's resource API wants Decimal, not float."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def is_condition_failure(error: ClientError) -> bool:
    """True when a DynamoDB write was refused by its condition (not a service failure)."""
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def update_if(table: Table, **update: Any) -> bool:
    """One conditional ``UpdateItem``; False when its condition refused it (not a service failure)."""
    try:
        table.update_item(**update)
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


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
        """The jobs table, for the fan-out's writes (``FanoutRepository``)."""
        return self._table

    @property
    def ttl_seconds(self) -> int:
        return self._ttl_seconds

    # ----------------------------------------------------------------- reads
    def get(self, job_id: str) -> Job | None:
        item = self._table.get_item(Key=job_key(job_id), ConsistentRead=True).get("Item")
        return Job.model_validate(item) if item else None

    # ----------------------------------------------------------------- writes
    def create(
        self, job_id: str, request_json: str, request_hash: str, *, callback_url: str | None = None
    ) -> Job:
        """Records a new QUEUED job; fails if the id exists (ids are random UUIDs, so it never should).

        With ``callback_url`` the job carries a PENDING webhook whose delivery id (the receivers'
        deduplication key) is fixed now, once for all its attempts.
        """
        now = utc_now_iso()
        job = Job(
            job_id=job_id,
            status=JobStatus.QUEUED,
            created_at=now,
            updated_at=now,
            expires_at=int(time.time()) + self._ttl_seconds,
            request=request_json,
            request_hash=request_hash,
            callback_url=callback_url,
            callback=CallbackRecord(delivery_id=str(uuid.uuid4())) if callback_url else None,
        )
        item = job.model_dump(by_alias=True, exclude_none=True, mode="json")
        self._table.put_item(
            Item={**job_key(job_id), **to_dynamo(item)},
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
                Key=job_key(job_id),
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
                ":output": to_dynamo(output.model_dump(by_alias=True, exclude_none=True)),
            },
            names={"#o": "output"},
        )

    def add_usage(self, job_id: str, *, render_seconds: float, gb_seconds: float) -> None:
        """Adds one task's render seconds and GB-seconds to the job's usage counters, whatever its state
        (a task that ran costs what it cost; ``Job.usage`` reads them)."""
        update_if(
            self._table,
            Key=job_key(job_id),
            UpdateExpression="ADD usageRenderSeconds :r, usageGbSeconds :g, usageTasks :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={
                ":r": to_dynamo(round(render_seconds, 3)),
                ":g": to_dynamo(round(gb_seconds, 3)),
                ":one": 1,
            },
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
                Key=job_key(job_id),
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
                Key=job_key(job_id),
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

    def request_cancel(self, job_id: str) -> bool:
        """RUNNING (any attempt) → CANCELLING; False when the job is not RUNNING any more.

        Not terminal: every write of the running attempt (heartbeat, progress, final state) is conditioned
        on RUNNING, so the attempt's next heartbeat is refused and it stops, cleans up and ends the job
        CANCELLED (``mark_cancelled``). A job nobody holds any more is ended so by its message's next
        delivery. ``leaseUntil`` is kept: it says whether a worker may still be writing.
        """
        return update_if(
            self._table,
            Key=job_key(job_id),
            UpdateExpression="SET #s = :cancelling, updatedAt = :now",
            ConditionExpression="attribute_exists(pk) AND #s = :running",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":cancelling": JobStatus.CANCELLING.value,
                ":running": JobStatus.RUNNING.value,
                ":now": utc_now_iso(),
            },
        )

    def mark_cancelled(self, job_id: str, *, from_status: JobStatus) -> bool:
        """QUEUED or CANCELLING (exactly ``from_status``) → CANCELLED, terminal; False when refused.

        Conditioned on the state its caller saw, so a claim (QUEUED → RUNNING) or a success racing the
        cancel wins or loses as a whole: the job ends in exactly one final state. Through ``end_job`` only.
        """
        if from_status not in (JobStatus.QUEUED, JobStatus.CANCELLING):
            raise ValueError(f"a job is cancelled from QUEUED or CANCELLING, not {from_status.value}")
        return update_if(
            self._table,
            Key=job_key(job_id),
            UpdateExpression="SET #s = :cancelled, updatedAt = :now REMOVE leaseUntil, progress",
            ConditionExpression="attribute_exists(pk) AND #s = :from",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":cancelled": JobStatus.CANCELLED.value,
                ":from": from_status.value,
                ":now": utc_now_iso(),
            },
        )

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
        owned = self.update_owned_item(
            job_id, attempt, update, values, names=names, extra_condition=extra_condition, returning="NONE"
        )
        return owned is not None

    def update_owned_item(
        self,
        job_id: str,
        attempt: int,
        update: str,
        values: dict[str, Any],
        *,
        names: dict[str, str] | None = None,
        extra_condition: str = "",
        returning: Literal["NONE", "ALL_NEW", "UPDATED_NEW"] = "ALL_NEW",
    ) -> dict[str, Any] | None:
        """`update_owned` that returns the item's attributes as ``returning`` asks (DynamoDB's
        ``ReturnValues``); None when the attempt no longer owns the job or the condition refused it."""
        condition = "#s = :running AND attempt = :attempt"
        if extra_condition:
            condition += f" AND {extra_condition}"
        try:
            result = self._table.update_item(
                Key=job_key(job_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status", **(names or {})},
                ExpressionAttributeValues={
                    ":running": JobStatus.RUNNING.value,
                    ":attempt": attempt,
                    ":now": utc_now_iso(),
                    **values,
                },
                ReturnValues=returning,
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return dict(result.get("Attributes", {}))


@dataclass(frozen=True)
class IdempotencyRecord:
    job_id: str
    request_hash: str


class IdempotencyStore:
    """``Idempotency-Key`` reservations in the jobs table (hashed key, request hash, job id, TTL)."""

    def __init__(self, table: Table, *, clock: Callable[[], float] = time.time):
        self._table = table
        self._clock = clock

    def reserve(self, key: str, job_id: str, request_hash: str) -> IdempotencyRecord | None:
        """Claims the key for ``job_id``; returns the existing record instead when the key is taken."""
        now = int(self._clock())
        record = {
            "pk": idempotency_pk(key),
            "jobId": job_id,
            "requestHash": request_hash,
            "expiresAt": now + IDEMPOTENCY_TTL_SECONDS,
        }
        if put_unless_live(self._table, record, now=now):
            return None
        item = self._table.get_item(Key={"pk": idempotency_pk(key)}, ConsistentRead=True).get("Item")
        if item is None:  # expired and deleted between the two calls: try once more
            return self.reserve(key, job_id, request_hash)
        return IdempotencyRecord(job_id=str(item["jobId"]), request_hash=str(item["requestHash"]))

    def release(self, key: str, job_id: str) -> None:
        """Frees the key after a failed start so that a retry with the same key can succeed."""
        try:
            self._table.delete_item(
                Key={"pk": idempotency_pk(key)},
                ConditionExpression="jobId = :job",
                ExpressionAttributeValues={":job": job_id},
            )
        except ClientError:
            logger.warning("could not release idempotency key", exc_info=True)


class SignatureStore:
    """The replay guard's memory: each accepted signature, kept for ``REPLAY_WINDOW_SECONDS``."""

    def __init__(self, table: Table, *, clock: Callable[[], float] = time.time):
        self._table = table
        self._clock = clock

    def remember(self, signature: str) -> bool:
        """Records a first use of ``signature``; False when it was already used within the window."""
        now = int(self._clock())
        item = {"pk": SIGNATURE_KEY_PREFIX + signature, "expiresAt": now + REPLAY_WINDOW_SECONDS}
        return put_unless_live(self._table, item, now=now)


def probe(table: Table) -> None:
    """One read of a key that never exists: raises when the table does not answer."""
    table.get_item(Key={"pk": HEALTH_PROBE_KEY})


@dataclass
class CallbackStore:
    """The conditional updates of a job's ``callback`` map; only this class writes it after creation."""

    table: Table
    clock: Callable[[], float] = field(default=time.time)

    def claim(self, job_id: str, attempt: int, *, lease_seconds: int) -> bool:
        """Starts attempt ``attempt``: only after attempt - 1 ended unsuccessfully, or when the same
        attempt's holder died (its lease ran out). False: another message owns it, or it is done."""
        now = int(self.clock())
        return update_if(
            self.table,
            Key=job_key(job_id),
            UpdateExpression=(
                "SET callback.#st = :delivering, callback.attempts = :n, callback.leaseUntil = :lease, "
                "updatedAt = :now REMOVE callback.nextAttemptAt"
            ),
            ConditionExpression=(
                "attribute_exists(callback) AND NOT callback.#st IN (:delivered, :failed) AND "
                "(callback.attempts = :prev OR "
                "(callback.attempts = :n AND callback.#st = :delivering "
                "AND callback.leaseUntil < :now_s))"
            ),
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues={
                ":delivering": CallbackState.DELIVERING.value,
                ":delivered": CallbackState.DELIVERED.value,
                ":failed": CallbackState.FAILED.value,
                ":n": attempt,
                ":prev": attempt - 1,
                ":lease": now + lease_seconds,
                ":now_s": now,
                ":now": utc_now_iso(),
            },
        )

    def finish(
        self,
        job_id: str,
        attempt: int,
        state: CallbackState,
        *,
        last_status: int | None,
        last_error: str | None,
        next_attempt_at: int | None = None,
    ) -> bool:
        """Records how attempt ``attempt`` ended, only while it is still the current one."""
        sets = ["callback.#st = :state", "updatedAt = :now"]
        removes = ["callback.leaseUntil"]
        values: dict[str, Any] = {
            ":state": state.value,
            ":n": attempt,
            ":delivering": CallbackState.DELIVERING.value,
            ":now": utc_now_iso(),
        }
        for name, value in (
            ("lastStatus", last_status),
            ("lastError", last_error),
            ("nextAttemptAt", next_attempt_at),
        ):
            if value is None:
                removes.append(f"callback.{name}")
            else:
                sets.append(f"callback.{name} = :{name}")
                values[f":{name}"] = value
        return update_if(
            self.table,
            Key=job_key(job_id),
            UpdateExpression=f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
            ConditionExpression="callback.attempts = :n AND callback.#st = :delivering",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues=values,
        )


# ------------------------------------------------------------------------------------- fan-out
@dataclass(frozen=True)
class TaskClaim:
    """A claim of one task: its ``claims`` count identifies it (a later claim supersedes it)."""

    claims: int
    queued_at_ms: int
    started_at_ms: int


@dataclass(frozen=True)
class TaskState:
    claims: int
    lease_until: int

    def lease_is_live(self, now: float) -> bool:
        return self.lease_until >= int(now)


@dataclass(frozen=True)
class Finished:
    """What a finished task's add to ``doneTasks`` found: whether it counted, and the set's size."""

    counted: bool
    done: int
    total: int

    @property
    def complete(self) -> bool:
        return self.done >= self.total


class FanoutRepository:
    """The fan-out's writes to the jobs table: the split, task leases, chunk progress, the join claim."""

    def __init__(self, jobs: JobRepository):
        self._jobs = jobs
        self._table = jobs.table
        self._ttl_seconds = jobs.ttl_seconds

    # ------------------------------------------------------------------ job item
    def start(self, job_id: str, attempt: int, *, chunks: int, total_frames: int) -> bool:
        """Records the split on the job of this attempt; clears what an earlier attempt's split left."""
        return self._jobs.update_owned(
            job_id,
            attempt,
            "SET chunks = :n, fanoutTasks = :tasks, totalFrames = :frames, chunkFrames = :zeros, "
            "updatedAt = :now REMOVE doneTasks, joinLeaseUntil",
            {
                ":n": chunks,
                ":tasks": chunks,
                ":frames": total_frames,
                ":zeros": {str(i): 0 for i in range(chunks)},
            },
        )

    def report_chunk_frames(self, job_id: str, attempt: int, index: int, frames: int) -> bool:
        """Stores one chunk's rendered frames, then the job's progress over all chunks (never lowered).

        False when the attempt no longer owns the job. Two writes: DynamoDB cannot sum a map.
        """
        item = self._jobs.update_owned_item(
            job_id,
            attempt,
            "SET chunkFrames.#i = :f, updatedAt = :now",
            {":f": frames},
            names={"#i": str(index)},
        )
        if item is None:
            return False
        total = int(item.get("totalFrames", 0)) or 1
        rendered = sum(int(v) for v in dict(item.get("chunkFrames", {})).values())
        # below 1: the job is complete only when the join wrote its final state
        progress = Decimal(str(round(min(rendered / total, 0.99), 3)))
        self._jobs.update_owned(
            job_id,
            attempt,
            "SET progress = :p, updatedAt = :now",
            {":p": progress},
            extra_condition="(attribute_not_exists(progress) OR progress < :p)",
        )
        return True

    def finish_task(self, job_id: str, attempt: int, name: str) -> Finished | None:
        """Adds ``name`` to ``doneTasks`` unless it is there; None when the attempt no longer owns the job."""
        item = self._jobs.update_owned_item(
            job_id,
            attempt,
            "ADD doneTasks :name SET updatedAt = :now",
            {":name": {name}, ":one": name},
            extra_condition="NOT contains(doneTasks, :one)",
        )
        if item is not None:
            return Finished(True, len(item.get("doneTasks", ())), int(item["fanoutTasks"]))
        current = self._job_item(job_id)
        if (
            current is None
            or current.get("status") != JobStatus.RUNNING.value
            or current.get("attempt") != attempt
        ):
            return None
        return Finished(False, len(current.get("doneTasks", ())), int(current["fanoutTasks"]))

    def claim_join(self, job_id: str, attempt: int, *, lease_seconds: int, now: float) -> int | None:
        """Claims the join once every task is done, unless a live joiner holds it; returns its number."""
        now_s = int(now)
        claimed = self._jobs.update_owned_item(
            job_id,
            attempt,
            "SET joinLeaseUntil = :lease, leaseUntil = :lease, updatedAt = :now ADD joinClaims :one",
            {":lease": now_s + lease_seconds, ":one": 1, ":now_s": now_s},
            extra_condition=(
                "attribute_exists(doneTasks) AND size(doneTasks) = fanoutTasks "
                "AND (attribute_not_exists(joinLeaseUntil) OR joinLeaseUntil < :now_s)"
            ),
            returning="UPDATED_NEW",
        )
        return None if claimed is None else int(claimed["joinClaims"])

    def extend_join_lease(
        self, job_id: str, attempt: int, join_claim: int, lease_seconds: int, *, now: float
    ) -> bool:
        """The joiner's heartbeat (the job's lease too); False when another joiner took over."""
        lease = int(now) + lease_seconds
        return self._jobs.update_owned(
            job_id,
            attempt,
            "SET joinLeaseUntil = :lease, leaseUntil = :lease, updatedAt = :now",
            {":lease": lease, ":claim": join_claim},
            extra_condition="joinClaims = :claim",
        )

    # ------------------------------------------------------------------ task items
    def claim_task(
        self,
        job_id: str,
        attempt: int,
        name: str,
        *,
        lease_seconds: int,
        now: float,
        max_attempts: int,
        sent_at_ms: int,
    ) -> TaskClaim | None:
        """A new claim of a task: never claimed, or its lease ran out and it has claims left."""
        now_s = int(now)
        try:
            result = self._table.update_item(
                Key={"pk": self._task_pk(job_id, attempt, name)},
                UpdateExpression=(
                    "SET leaseUntil = :lease, expiresAt = :expires, "
                    "queuedAt = if_not_exists(queuedAt, :sent), "
                    "startedAt = if_not_exists(startedAt, :started) ADD claims :one"
                ),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (leaseUntil < :now_s AND claims < :max_attempts)"
                ),
                ExpressionAttributeValues={
                    ":lease": now_s + lease_seconds,
                    ":expires": now_s + self._ttl_seconds,
                    ":sent": sent_at_ms,
                    ":started": int(now * 1000),
                    ":one": 1,
                    ":now_s": now_s,
                    ":max_attempts": max_attempts,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        item: dict[str, Any] = dict(result["Attributes"])
        return TaskClaim(int(item["claims"]), int(item["queuedAt"]), int(item["startedAt"]))

    def task_state(self, job_id: str, attempt: int, name: str) -> TaskState | None:
        item = self._table.get_item(
            Key={"pk": self._task_pk(job_id, attempt, name)}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        state: dict[str, Any] = dict(item)
        return TaskState(int(state.get("claims", 0)), int(state.get("leaseUntil", 0)))

    def extend_task_lease(
        self, job_id: str, attempt: int, name: str, claims: int, lease_seconds: int, *, now: float
    ) -> bool:
        """A task's heartbeat; False when a later claim of the task superseded this one."""
        return self._update_task(
            job_id,
            attempt,
            name,
            claims,
            update="SET leaseUntil = :lease",
            values={":lease": int(now) + lease_seconds},
        )

    def record_task_reads(
        self, job_id: str, attempt: int, name: str, claims: int, *, bytes_read: int, bytes_needed: int
    ) -> bool:
        """Stores what the task read of its sources (``bytesRead``) beside what its spans show
        (``bytesNeeded``): the ratio says how well ranged reads worked."""
        return self._update_task(
            job_id,
            attempt,
            name,
            claims,
            update="SET bytesRead = :read, bytesNeeded = :needed",
            values={":read": bytes_read, ":needed": bytes_needed},
        )

    def release_task(self, job_id: str, attempt: int, name: str, claims: int) -> bool:
        """Ends this claim's lease now, so the task's next delivery claims it at once."""
        return self._update_task(
            job_id, attempt, name, claims, update="SET leaseUntil = :zero", values={":zero": 0}
        )

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _task_pk(job_id: str, attempt: int, name: str) -> str:
        return f"{TASK_KEY_PREFIX}{job_id}#{attempt}#{name}"

    def _job_item(self, job_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key=job_key(job_id), ConsistentRead=True).get("Item")
        return dict(item) if item else None

    def _update_task(
        self, job_id: str, attempt: int, name: str, claims: int, *, update: str, values: dict[str, Any]
    ) -> bool:
        return update_if(
            self._table,
            Key={"pk": self._task_pk(job_id, attempt, name)},
            UpdateExpression=update,
            ConditionExpression="claims = :claims",
            ExpressionAttributeValues={":claims": claims, **values},
        )
