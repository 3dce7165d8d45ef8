#!/usr/bin/env bash
# Installs the Node client's dev tools from clients/node/package-lock.json into clients/node/node_modules:
# the Deno runtime (npm package `deno`, pinned), on which the tests run the client as Base44 does.
# Re-installs only when the lock file changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../../clients/node"
stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [ -f "${stamp}" ] && [ -x node_modules/.bin/deno ]; then exit 0; fi
echo "==> installing the Node client's dev tools (Deno) into clients/node/node_modules"
# --ignore-scripts: deno's postinstall only links the platform binary, which its launcher also does on first run
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
node_modules/.bin/deno --version >/dev/null
rm -f node_modules/.installed-*
touch "${stamp}"
