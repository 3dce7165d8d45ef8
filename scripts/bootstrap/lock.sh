#!/usr/bin/env bash
# Re-locks uv.lock from the pyproject files, then exports what each Lambda artefact bundles (the `api`
# and `worker` groups) to functions/<name>/requirements.txt, with hashes, for the zip build and the image.
# tests/unit/test_lock.py fails when these files and the lock disagree.
set -euo pipefail
cd "$(dirname "$0")/../.."
uv="$(scripts/bootstrap/uv.sh)"
"${uv}" lock
for artefact in api worker; do
  {
    echo "# The \`${artefact}\` group of pyproject.toml at uv.lock's versions, written by \`make lock\`: do not edit."
    "${uv}" export --frozen --quiet --no-header --only-group "${artefact}" --no-emit-project
  } >"functions/${artefact}/requirements.txt"
done
