"""What ffmpeg and ffprobe may read and see while they parse untrusted uploads, defined once.

* ``ALLOWED_DEMUXERS``: the containers of the media types ``POST /export/presign`` accepts
  (``export_api.media``) and nothing else. A file whose content is another format (an HLS or DASH
  playlist that would fetch URLs, a concat script naming other files, one of ffmpeg's many rarely used
  demuxers) is refused when it is opened (``-format_whitelist``), which the probe reports as
  ``INVALID_MEDIA``. Every input that reads an upload passes ``DEMUXER_ALLOW_LIST``; inputs the renderer
  writes itself (lavfi sources, the fan-out join's concat list of its own chunks) do not.
* ``tool_environment``: the environment of every ffmpeg and ffprobe process: the few variables a decoder,
  fontconfig (libass) and TLS need, never the Lambda's AWS credentials or configuration. ``https``/``http``
  input keeps working: TLS trust comes from the system store (or ``SSL_CERT_FILE``/``SSL_CERT_DIR``, kept).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

ALLOWED_DEMUXERS: Final = (
    "mov",  # mp4, m4v, m4a, mov, 3gp (ffmpeg's "mov,mp4,m4a,3gp,3g2,mj2")
    "matroska",  # mkv, webm ("matroska,webm")
    "avi",
    "ogg",  # ogv, ogg, oga, opus
    "mpeg",  # mpg, mpeg (program stream)
    "mpegts",
    "mp3",
    "aac",  # ADTS
    "wav",
    "flac",
    "image2",  # a still image opened by its extension
    "png_pipe",
    "jpeg_pipe",
    "webp_pipe",
    "gif",
    "gif_pipe",
)
"""Demuxers (ffmpeg's names) an uploaded file may be opened with."""

DEMUXER_ALLOW_LIST: Final = ",".join(ALLOWED_DEMUXERS)
"""``ALLOWED_DEMUXERS`` as the value of ffmpeg's and ffprobe's ``-format_whitelist`` option."""

KEPT_VARIABLES: Final = frozenset(
    {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TZ",
        "LD_LIBRARY_PATH",
        "FONTCONFIG_FILE",
        "FONTCONFIG_PATH",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_DIRS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    }
)
"""The only variables ffmpeg and ffprobe inherit: the search path, locale and time zone, the scratch and
cache directories, fontconfig's (text drawn by libass) and TLS trust (https input)."""


def tool_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of an ffmpeg or ffprobe process: ``KEPT_VARIABLES`` of ``environ`` (default the
    process's), nothing else: no ``AWS_*`` credentials, no Lambda or application settings."""
    source = os.environ if environ is None else environ
    return {name: value for name, value in source.items() if name in KEPT_VARIABLES}
