#!/usr/bin/env bash
# Creates .venv from uv.lock, with the Python minor version of .python-version (also the Lambda zip
# runtime's and the worker image's): the project (editable), its dev tools and the Python client package (clients/python, editable: the service imports its signing rule
# from it), every package at its locked version. The same lock feeds the Lambda artefacts
# (functions/*/requirements.txt, exported by `make lock`).
# Re-syncs only when uv.lock or a pyproject.toml changed since the last sync.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The worker group too: its runtime interface client (awslambdaric) runs in the executor's unit tests.
groups=(--group worker)
stamp=".venv/.installed-$(cat uv.lock pyproject.toml clients/python/pyproject.toml <(echo "${groups[@]}") | sha256sum | cut -c1-16)"
if [ -f "${stamp}" ]; then exit 0; fi
python="$(scripts/bootstrap/find_python.sh "$(cat .python-version)")"
uv="$(scripts/bootstrap/uv.sh)"
echo "==> syncing .venv with uv.lock"
UV_PYTHON="${python}" "${uv}" sync --frozen --quiet "${groups[@]}"
rm -f .venv/.installed-*
touch "${stamp}"
