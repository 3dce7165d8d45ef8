"""Container-image functions run from this repository's code: the image URI names an entry of a JSON map.

The map (`LOCAL_LAMBDA_IMAGE_HANDLERS`, written by `scripts/local_stack/install.sh`) looks like
`{"video-export-worker": {"pythonpath": ["<repo>/functions/worker", ...], "handler": "pkg.mod.func"}}`;
keys may be a full image URI, `repo:tag` or just the repository name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ImageMapError(Exception):
    """The image function cannot be mapped to local code."""


class ImageHandler:
    """Where the code of a container-image function lives in this repository."""

    def __init__(self, pythonpath: list[str], handler: str | None, workdir: str | None = None) -> None:
        self.pythonpath = pythonpath
        self.handler = handler
        self.workdir = workdir


def image_key_candidates(image_uri: str) -> list[str]:
    """Keys tried in the image map, most specific first: full URI, `repo:tag`, `repo`."""
    without_digest = image_uri.split("@", 1)[0]
    last = without_digest.rsplit("/", 1)[-1]
    repo = last.split(":", 1)[0]
    return [image_uri, without_digest, last, repo]


def resolve_image_handler(
    image_uri: str, command: list[str] | None, mapping_file: str | None
) -> ImageHandler:
    """Maps an image function to local code; the function's ImageConfig command wins over the map."""
    if not mapping_file or not Path(mapping_file).is_file():
        raise ImageMapError(
            f"Image function {image_uri!r}: no image map (set LOCAL_LAMBDA_IMAGE_HANDLERS to a JSON file)"
        )
    mapping: dict[str, dict[str, Any]] = json.loads(Path(mapping_file).read_text())
    for key in image_key_candidates(image_uri):
        if key in mapping:
            entry = mapping[key]
            handler = command[0] if command else entry.get("handler")
            return ImageHandler(list(entry.get("pythonpath", [])), handler, entry.get("workdir"))
    raise ImageMapError(
        f"Image function {image_uri!r} is not in {mapping_file}"
        f" (keys tried: {image_key_candidates(image_uri)})"
    )
