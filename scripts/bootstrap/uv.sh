#!/usr/bin/env bash
# Prints the path of uv at the version uv.lock pins (uv locks itself as a dev tool), installing it into
# .tools/uv on first use. The lock, not this script, says which version.
set -euo pipefail
cd "$(dirname "$0")/../.."
version="$(awk '/^name = "uv"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' uv.lock)"
[ -n "${version}" ] || { echo "error: uv.lock pins no uv (add it to the dev group and run make lock)" >&2; exit 1; }
tool=".tools/uv-${version}"
if [ ! -x "${tool}/bin/uv" ]; then
  python="$(scripts/bootstrap/find_python.sh "$(cat .python-version)")"
  echo "==> installing uv ${version} into ${tool}" >&2
  "${python}" -m venv "${tool}" >&2
  "${tool}/bin/python" -m pip install --quiet --disable-pip-version-check "uv==${version}" >&2
fi
echo "${PWD}/${tool}/bin/uv"
