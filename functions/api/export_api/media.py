"""Which uploads the service accepts, and which file extension an upload's key gets.

The table lists the media types browsers really report for the files a timeline uses (``File.type``,
which differs between browsers and systems: ``audio/mp3`` or ``audio/mpeg``, ``audio/x-wav`` or
``audio/wave``...). ``application/octet-stream`` is accepted too, and a missing or empty type means it:
browsers report an empty type for files they do not know. The worker probes every media file with ffprobe
and parses every captions file, so the type only decides the key's extension and the ``Content-Type`` the
upload is bound to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

OCTET_STREAM: Final = "application/octet-stream"

# media type → the extensions that agree with it; the first is the one a key gets when the client sent none
# or one that disagrees with the type.
ALLOWED_MEDIA: Final[Mapping[str, tuple[str, ...]]] = {
    "video/mp4": (".mp4", ".m4v"),
    "video/x-m4v": (".m4v", ".mp4"),
    "video/quicktime": (".mov",),
    "video/webm": (".webm",),
    "video/x-matroska": (".mkv",),
    "video/x-msvideo": (".avi",),
    "video/avi": (".avi",),
    "video/ogg": (".ogv", ".ogg"),
    "video/mpeg": (".mpg", ".mpeg"),
    "video/3gpp": (".3gp",),
    "audio/mpeg": (".mp3",),
    "audio/mp3": (".mp3",),
    "audio/mp4": (".m4a", ".mp4"),
    "audio/x-m4a": (".m4a",),
    "audio/aac": (".aac",),
    "audio/x-aac": (".aac",),
    "audio/wav": (".wav",),
    "audio/x-wav": (".wav",),
    "audio/wave": (".wav",),
    "audio/vnd.wave": (".wav",),
    "audio/ogg": (".ogg", ".oga", ".opus"),
    "audio/opus": (".opus",),
    "audio/webm": (".weba", ".webm"),
    "audio/flac": (".flac",),
    "audio/x-flac": (".flac",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/webp": (".webp",),
    "image/gif": (".gif",),
    # captions files of a captions action (parsed, not probed: render.captions)
    "application/x-subrip": (".srt",),
    "text/vtt": (".vtt",),
    OCTET_STREAM: (),
}

# Extensions a key may carry: those of the media above, nothing a browser would open as a page or program.
MEDIA_EXTENSIONS: Final = frozenset(ext for exts in ALLOWED_MEDIA.values() for ext in exts)

# What may travel as a Content-Type header value: visible ASCII and spaces (no control characters).
_HEADER_VALUE = re.compile(r"[\x20-\x7e]+")


def media_type_of(content_type: str) -> str:
    """``"Audio/MP3; foo=bar"`` → ``"audio/mp3"``: the lower-case type without parameters."""
    return content_type.partition(";")[0].strip().lower()


def is_header_value(value: str) -> bool:
    return _HEADER_VALUE.fullmatch(value) is not None


def normalize_ext(ext: str) -> str:
    """``"MP4"`` and ``".mp4"`` both mean ``".mp4"``."""
    ext = ext.strip().lower()
    return ext if ext.startswith(".") else "." + ext


def key_extension(media_type: str, ext: str | None) -> str:
    """The extension of an upload's key, from its (accepted) media type and the client's ``ext``.

    A known media type decides: the client's ``ext`` is kept when it agrees with the type (``.jpeg`` for
    ``image/jpeg``) and replaced by the type's own when it does not (the file is what its type says;
    ffprobe reads the content, not the name). For ``application/octet-stream`` the client's ``ext`` is
    kept when it is a known media extension, else the key has none. Never raises: an ``ext`` that cannot be
    used is ignored.
    """
    wanted = normalize_ext(ext) if ext and ext.strip() else None
    known = ALLOWED_MEDIA.get(media_type, ())
    if known:
        return wanted if wanted in known else known[0]
    return wanted if wanted in MEDIA_EXTENSIONS else ""
