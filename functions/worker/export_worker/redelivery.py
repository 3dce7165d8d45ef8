"""When a message the worker hands back should be delivered again.

Reporting a batch item as failed leaves the message invisible for the rest of the queue's visibility
timeout, which is at least six worker timeouts (90 minutes in production). That is right for a worker
that died, but far too long for a job the worker released on purpose, so the worker sets the
message's visibility to the delay the reason calls for.
"""

from __future__ import annotations

from export_common.limits import SQS_MAX_VISIBILITY_SECONDS

MAX_VISIBILITY_SECONDS = SQS_MAX_VISIBILITY_SECONDS
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 900


def backoff_seconds(receive_count: int) -> int:
    """Exponential delay after a transient failure: 30 s, 60 s, 120 s, ... at most 15 minutes."""
    exponent = min(max(receive_count, 1) - 1, 16)
    return int(min(BACKOFF_BASE_SECONDS * 2**exponent, BACKOFF_CAP_SECONDS))


def clamp_visibility(seconds: float) -> int:
    return int(min(max(seconds, 0), MAX_VISIBILITY_SECONDS))


def queue_url_from_arn(arn: str) -> str:
    """``arn:aws:sqs:<region>:<account>:<name>`` → the queue URL.

    With an endpoint override (LocalStack) boto3 sends the call to that endpoint and the service reads
    only the account and name from the URL, so the AWS form serves both.
    """
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    _, partition, _, region, account, name = parts
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{suffix}/{account}/{name}"
