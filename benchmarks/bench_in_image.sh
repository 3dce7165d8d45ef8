#!/usr/bin/env bash
# `make bench` inside the worker image: benchmarks/bench_render.py run by the image's python3 on the image's
# ffmpeg (render from the image's /var/task), as its user on its read-only root, with a host directory as
# its /tmp (the bench's sources and outputs take more than a tmpfs should). Arguments go to the bench.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
chmod 1777 "${tmp}"
scripts/image/run.sh --env PYTHONPATH=/var/task --tmp "${tmp}" --bind "${PWD}/benchmarks:/tmp/benchmarks:ro" \
  -- python3 /tmp/benchmarks/bench_render.py "$@"
