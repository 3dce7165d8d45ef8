"""The S3 key layout, in one place: every key the service reads or writes is made here.

* ``assets/<uuid><ext>`` (assets bucket): a client's upload (``POST /export/presign``);
* ``exports/<jobId>.mp4`` (exports bucket): a finished export;
* ``work/<jobId>/<i>.mp4`` and ``work/<jobId>/audio.m4a`` (exports bucket, a short lifecycle rule):
  a fanned-out job's chunks and audio track.

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
    "job_prefixes",
    "new_asset_key",
    "output_key",
]

OUTPUT_KEY_PREFIX: Final = "exports/"
WORK_KEY_PREFIX: Final = "work/"
"""Chunks and the audio track of fanned-out jobs, in the exports bucket (a short lifecycle rule)."""
DEFAULT_WORK_EXPIRATION_DAYS: Final = 1
HEALTH_PROBE_KEY: Final = f"{ASSET_KEY_PREFIX}health-probe"
"""Read (never written) by ``GET /health`` to see that the assets bucket answers."""


def new_asset_key(ext: str) -> str:
    """A fresh upload key: ``ext`` is ``""`` or a dot and a media extension."""
    return f"{ASSET_KEY_PREFIX}{uuid.uuid4()}{ext}"


def output_key(job_id: str) -> str:
    """Deterministic output key: a retried render replaces the file instead of adding another."""
    return f"{OUTPUT_KEY_PREFIX}{job_id}.mp4"


def chunk_key(job_id: str, index: int) -> str:
    """Deterministic: a retried chunk replaces its own file."""
    return f"{WORK_KEY_PREFIX}{job_id}/{index}.mp4"


def audio_key(job_id: str) -> str:
    return f"{WORK_KEY_PREFIX}{job_id}/audio.m4a"


def job_prefixes(job_id: str) -> tuple[str, str]:
    """Where everything a job writes in the exports bucket lives: ``exports/<jobId>`` (its export and any
    file beside it) and ``work/<jobId>/`` (a fanned-out job's parts); a cancel deletes both."""
    return f"{OUTPUT_KEY_PREFIX}{job_id}", f"{WORK_KEY_PREFIX}{job_id}/"
