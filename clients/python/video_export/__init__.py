"""Python client of the video-export API: ``ExportClient``, ``verify_webhook``, and the signing rule.

    from video_export import ExportClient, job_failure, verify_webhook

The names are loaded on first use, so ``import video_export.signing`` needs nothing but the standard
library (the service itself ships that module without ``requests``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from video_export.client import ApiError, ExportClient, ExportError, JobNotSucceededError, job_failure
    from video_export.signing import SignatureError, sign, signed_headers
    from video_export.webhooks import check_webhook, verify_webhook

__version__ = "0.1.0"

_EXPORTS = {
    "ApiError": "video_export.client",
    "ExportClient": "video_export.client",
    "ExportError": "video_export.client",
    "JobNotSucceededError": "video_export.client",
    "job_failure": "video_export.client",
    "SignatureError": "video_export.signing",
    "sign": "video_export.signing",
    "signed_headers": "video_export.signing",
    "check_webhook": "video_export.webhooks",
    "verify_webhook": "video_export.webhooks",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "ApiError",
    "ExportClient",
    "ExportError",
    "JobNotSucceededError",
    "SignatureError",
    "__version__",
    "check_webhook",
    "job_failure",
    "sign",
    "signed_headers",
    "verify_webhook",
]
