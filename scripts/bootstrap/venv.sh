#!/usr/bin/env bash
# Creates .venv (Python 3.12, the Lambda runtime version) with the project, its dev tools and the Python
# client package (clients/python, editable: the service imports its signing rule from it).
# Re-installs only when pyproject.toml or clients/python/pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../.."
stamp=".venv/.installed-$(cat pyproject.toml clients/python/pyproject.toml | sha256sum | cut -c1-16)"
if [ -f "${stamp}" ]; then exit 0; fi
if [ ! -x .venv/bin/python ]; then
  python312="$(scripts/bootstrap/find_python.sh 3.12)"
  echo "==> creating .venv with ${python312}"
  "${python312}" -m venv .venv
fi
echo "==> installing the project into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]" -e ./clients/python
rm -f .venv/.installed-*
touch "${stamp}"
