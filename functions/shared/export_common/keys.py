"""The S3 key layout, in one place: every key the service reads or writes is made here.

* ``assets/<uuid><ext>`` (assets bucket): a client's upload (``POST /export/presign``);
* ``exports/<jobId>.mp4`` (or ``.m4a``, ``output.format``) and ``exports/<jobId>.jpg`` (its
  ``output.poster``) (exports bucket): a finished export;
* ``work/<jobId>/<i>.mp4``, ``work/<jobId>/audio.m4a`` and ``work/<jobId>/poster.jpg`` (exports
  bucket, a short lifecycle rule): a fanned-out job's chunks, audio track and poster.

The Terraform module grants and expires the same prefixes (``local.assets_prefix`` and its siblings);
``tests/unit/test_build_lambdas.py`` ties the two. Keys are deterministic where a retry must replace its
own file instead of adding another.
"""

from __future__ import annotations

import uuid
from typing import Final

# the request model validates asset keys against this prefix, so the render library states it
from render.limits import ASSET_KEY_PREFIX

__all__ = [
    "ASSET_KEY_PREFIX",
    "DEFAULT_WORK_EXPIRATION_DAYS",
    "HEALTH_PROBE_KEY",
    "OUTPUT_KEY_PREFIX",
    "WORK_KEY_PREFIX",
    "audio_key",
    "chunk_key",
    "chunk_sound_key",
    "content_type_of",
    "job_prefixes",
    "new_asset_key",
    "output_key",
    "poster_key",
    "work_poster_key",
]

OUTPUT_KEY_PREFIX: Final = "exports/"
WORK_KEY_PREFIX: Final = "work/"
"""The parts of fanned-out jobs (chunks and their sound), in the exports bucket (a short lifecycle rule)."""
DEFAULT_WORK_EXPIRATION_DAYS: Final = 1
HEALTH_PROBE_KEY: Final = f"{ASSET_KEY_PREFIX}health-probe"
"""Read (never written) by ``GET /health`` to see that the assets bucket answers."""


def new_asset_key(ext: str) -> str:
    """A fresh upload key: ``ext`` is ``""`` or a dot and a media extension."""
    return f"{ASSET_KEY_PREFIX}{uuid.uuid4()}{ext}"


# What each key's extension is served as (the upload's ContentType and the presigned GET's).
CONTENT_TYPES: Final = {".mp4": "video/mp4", ".m4a": "audio/mp4", ".aac": "audio/aac", ".jpg": "image/jpeg"}


def output_key(job_id: str, extension: str = "mp4") -> str:
    """Deterministic output key: a retried render replaces the file instead of adding another.
    ``extension``: the export's ``output.format`` (``mp4``, ``m4a``)."""
    return f"{OUTPUT_KEY_PREFIX}{job_id}.{extension}"


def poster_key(job_id: str) -> str:
    """The export's poster JPEG (``output.poster``), beside the export."""
    return f"{OUTPUT_KEY_PREFIX}{job_id}.jpg"


def work_poster_key(job_id: str) -> str:
    """A fanned-out job's poster, written by the chunk that holds its frame; the join copies it out."""
    return f"{WORK_KEY_PREFIX}{job_id}/poster.jpg"


def content_type_of(key: str) -> str:
    """The content type of a key the service writes, by its extension."""
    return CONTENT_TYPES.get(key[key.rfind(".") :], "application/octet-stream")


def chunk_key(job_id: str, index: int) -> str:
    """Deterministic: a retried chunk replaces its own file."""
    return f"{WORK_KEY_PREFIX}{job_id}/{index}.mp4"


def chunk_sound_key(job_id: str, index: int) -> str:
    """A chunk's sound (ADTS), beside its video: the join splices them."""
    return f"{WORK_KEY_PREFIX}{job_id}/{index}.aac"


def audio_key(job_id: str) -> str:
    """The whole timeline's audio of a job split by an earlier version (its audio task's output)."""
    return f"{WORK_KEY_PREFIX}{job_id}/audio.m4a"


def job_prefixes(job_id: str) -> tuple[str, str]:
    """Where everything a job writes in the exports bucket lives: ``exports/<jobId>`` (its export and any
    file beside it) and ``work/<jobId>/`` (a fanned-out job's parts); a cancel deletes both."""
    return f"{OUTPUT_KEY_PREFIX}{job_id}", f"{WORK_KEY_PREFIX}{job_id}/"
