#!/usr/bin/env bash
# Prints the path of a Python interpreter of the wanted minor version (e.g. `3.13`, as .python-version says).
# Looks on PATH first (a working python3.X) (python3.13), then in pyenv's versions; fails loudly when none exists.
set -euo pipefail
want="${1:?usage: find_python.sh 3.13}"
# `python3.X --version` rather than `command -v`: a pyenv shim exists even where it cannot run.
if "python${want}" --version >/dev/null 2>&1; then
  "python${want}" -c 'import sys; print(sys.executable)'; exit 0
fi
root="$(pyenv root 2>/dev/null || echo "${HOME}/.pyenv")"
for candidate in $(ls -d "${root}/versions/${want}".* 2>/dev/null | sort -V -r); do
  if [ -x "${candidate}/bin/python" ]; then echo "${candidate}/bin/python"; exit 0; fi
done
echo "error: no Python ${want} found (looked for python${want} on PATH and in ${root}/versions)" >&2
exit 1
