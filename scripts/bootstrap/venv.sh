#!/usr/bin/env bash
# Creates .venv (Python 3.12, the Lambda runtime version) with the project and its dev tools.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../.."
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ -f "${stamp}" ]; then exit 0; fi
if [ ! -x .venv/bin/python ]; then
  python312="$(scripts/bootstrap/find_python.sh 3.12)"
  echo "==> creating .venv with ${python312}"
  "${python312}" -m venv .venv
fi
echo "==> installing the project into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
rm -f .venv/.installed-*
touch "${stamp}"
