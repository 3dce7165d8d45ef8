"""Render failures, each with a stable `code` the worker stores as the job's error.

`message` is safe to show a client (no local paths, no ffmpeg output); `stderr_tail` is for logs.
"""

from __future__ import annotations


class RenderError(Exception):
    code = "RENDER_FAILED"

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


class RenderTimeoutError(RenderError):
    code = "RENDER_TIMEOUT"


class RenderFailedError(RenderError):
    code = "RENDER_FAILED"
