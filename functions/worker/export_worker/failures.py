"""Why a record was not finished, as exceptions the batch processor turns into item failures or acks."""

from __future__ import annotations


class JobFailedError(Exception):
    """The job cannot succeed however often it is retried: it ends FAILED with this code and message.

    ``message`` is shown to clients: no local paths, no bucket internals, no ffmpeg output.
    """

    def __init__(self, code: str, message: str, *, log_detail: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.log_detail = log_detail


class RetryLaterError(Exception):
    """Not now, not the job's fault: report the item failed so SQS delivers it again later.

    ``retry_after_seconds``: when the message should come back (None: when its visibility timeout ends).
    """

    def __init__(self, reason: str, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class PoisonMessageError(Exception):
    """The message body is not a job message: it can only end in the DLQ."""


class LeaseLostError(Exception):
    """Another attempt owns the job now (this one's lease ran out): stop working on it, write nothing."""
