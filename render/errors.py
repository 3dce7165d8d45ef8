"""Render failures, each with a stable `code` the worker stores as the job's error.

`message` is safe to show a client (no local paths, no ffmpeg output); `stderr_tail` is for logs.
"""

from __future__ import annotations


class RenderError(Exception):
    code = "RENDER_FAILED"
    # True when another attempt may well succeed (the render was stopped, not wrong): the worker retries
    transient = False

    def __init__(self, message: str, *, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.stderr_tail = stderr_tail

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class AssetMissingError(RenderError):
    code = "ASSET_MISSING"


class InvalidMediaError(RenderError):
    code = "INVALID_MEDIA"


class InvalidCaptionsError(RenderError):
    """A captions file (SRT, WebVTT) that is malformed, empty or too large; `line` is 1-based (0: the
    file as a whole). The API refuses it at `POST /export` (400); the worker when it changed since."""

    code = "INVALID_CAPTIONS"

    def __init__(self, message: str, *, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


class StorageExceededError(RenderError):
    """A task would need more ephemeral storage (its sources, its output) than its worker has: checked
    before anything is fetched, so the render never fills the disk and dies half-way."""

    code = "STORAGE_EXCEEDED"


class RenderTimeoutError(RenderError):
    code = "RENDER_TIMEOUT"


class RenderFailedError(RenderError):
    code = "RENDER_FAILED"


class RenderResourcesError(RenderError):
    """ffmpeg was killed by a signal (the kernel's out-of-memory killer sends SIGKILL) or ran out of memory.

    Nothing is wrong with the job itself, so it is retried; it fails with this code only when every
    attempt ran out of resources.
    """

    code = "RENDER_RESOURCES_EXHAUSTED"
    transient = True

    def __init__(self, message: str = "the render ran out of resources", *, stderr_tail: str = "") -> None:
        super().__init__(message, stderr_tail=stderr_tail)
