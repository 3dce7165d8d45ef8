"""Service-wide defaults, AWS limits and units shared by the API, the worker and the callbacks, defined once.

The Terraform module states several of them too (defaults of `max_upload_bytes`, `job_ttl_days`,
`max_attempts`, `max_receive_count`; the SQS and presign bounds of its validations): the unit test
`tests/unit/test_build_lambdas.py::test_terraform_defaults_and_prefixes_agree_with_the_code` reads
`terraform/modules/export_service/variables.tf` and compares.
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import ClientError

MIB: Final = 1024 * 1024
GIB: Final = 1024 * MIB

DEFAULT_MAX_UPLOAD_BYTES: Final = 2 * GIB
"""The size limit of one uploaded asset (MAX_UPLOAD_BYTES)."""
DEFAULT_WORKER_MEMORY_MB: Final = 3008
"""The worker Lambda's memory (WORKER_MEMORY_MB, Terraform's worker_memory_size; a unit test ties them)."""
DEFAULT_JOB_TTL_DAYS: Final = 30
"""Job records expire this many days after their last change (JOB_TTL_DAYS)."""

DEFAULT_PREVIOUS_SECRET_GRACE_SECONDS: Final = 24 * 3600
"""After a rotation, the previous signing secret is accepted this long (PREVIOUS_SECRET_GRACE_SECONDS)."""

DEFAULT_MAX_ATTEMPTS: Final = 3
"""Attempts (claims) of one job before it ends FAILED (MAX_ATTEMPTS)."""
MAX_ATTEMPTS_LIMIT: Final = 100
DEFAULT_MAX_RECEIVE_COUNT: Final = 50
"""The job queue's redrive maxReceiveCount: a safety net far above the attempts (MAX_RECEIVE_COUNT)."""

DEFAULT_JOB_HEARTBEAT_SECONDS: Final = 60
"""How often a running attempt extends its lease (JOB_HEARTBEAT_SECONDS). It is also how soon a running
render sees a cancel (DELETE /export/{jobId}): its next heartbeat is refused and it stops."""
DEFAULT_JOB_LEASE_SECONDS: Final = 2 * DEFAULT_JOB_HEARTBEAT_SECONDS
"""How long a lease and a message's visibility run past the last heartbeat (JOB_LEASE_SECONDS)."""

SQS_MAX_DELAY_SECONDS: Final = 900
"""SQS's longest message delay (DelaySeconds): 15 minutes."""
SQS_MAX_VISIBILITY_SECONDS: Final = 43_200
"""SQS's longest visibility timeout: 12 hours."""
PRESIGN_MAX_EXPIRY_SECONDS: Final = 7 * 86_400
"""The longest lifetime of a SigV4 presigned URL: 7 days."""

S3_MISSING_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound"})
"""What S3 answers, depending on the call, for a key that does not exist."""


def is_missing_object(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in S3_MISSING_CODES
