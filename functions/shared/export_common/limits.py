"""Service-wide defaults and units shared by the API and the worker, defined once.

The Terraform module's defaults for the same settings (`max_upload_bytes`, `job_ttl_days`) must agree:
a unit test reads `terraform/modules/export_service/variables.tf` and compares.
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import ClientError

MIB: Final = 1024 * 1024
GIB: Final = 1024 * MIB

DEFAULT_MAX_UPLOAD_BYTES: Final = 2 * GIB
"""The size limit of one uploaded asset (MAX_UPLOAD_BYTES)."""
DEFAULT_JOB_TTL_DAYS: Final = 30
"""Job records expire this many days after their last change (JOB_TTL_DAYS)."""

S3_MISSING_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound"})
"""What S3 answers, depending on the call, for a key that does not exist."""


def is_missing_object(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in S3_MISSING_CODES
