"""Which uploads the service accepts: media content types and the file extensions that agree with them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

ALLOWED_MEDIA: Final[Mapping[str, frozenset[str]]] = {
    "video/mp4": frozenset({".mp4", ".m4v"}),
    "video/quicktime": frozenset({".mov"}),
    "video/webm": frozenset({".webm"}),
    "audio/mpeg": frozenset({".mp3"}),
    "audio/mp4": frozenset({".m4a"}),
    "audio/aac": frozenset({".aac"}),
    "audio/wav": frozenset({".wav"}),
    "audio/x-wav": frozenset({".wav"}),
    "audio/ogg": frozenset({".ogg"}),
    "image/png": frozenset({".png"}),
    "image/jpeg": frozenset({".jpg", ".jpeg"}),
    "image/webp": frozenset({".webp"}),
    "image/gif": frozenset({".gif"}),
}


def normalize_ext(ext: str) -> str:
    """``"MP4"`` and ``".mp4"`` both mean ``".mp4"``."""
    ext = ext.strip().lower()
    return ext if ext.startswith(".") else "." + ext
