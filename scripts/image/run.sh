#!/usr/bin/env bash
# Runs a command in the worker image (IMAGE_REF, default the one `make image` builds) as its user, with
# its environment, on its read-only root:
#   scripts/image/run.sh [--env NAME=VALUE]... [--tmp DIR] [--bind SRC:DST[:ro]]... -- CMD...
# e.g. scripts/image/run.sh -- python3 -m render REQUEST.json --assets-dir DIR --output OUT.mp4
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ref="${IMAGE_REF:-${WORKER_IMAGE_REF}}"
engine="$(image_engine)"
engine_has_image "${engine}" "${ref}" || { echo "error: no image ${ref}: run make image" >&2; exit 1; }
image_run "${engine}" "${ref}" "$@"
