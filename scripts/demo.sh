#!/usr/bin/env bash
# `make demo`: the browser demo (examples/browser_demo) against the deployed local stack. Its backend gets
# the API URL and the signing secret from `make dev-env`; the page, on the origin the buckets' CORS rules
# allow (the local root's `demo_url`, port DEMO_PORT), never sees the secret. Ctrl-C stops it.
source "$(dirname "$0")/local_stack/lib.sh"

demo_url="$(tf_output demo_url)"
[ -n "${demo_url}" ] || die "terraform/envs/local is not deployed with the demo's origin (run make dev-up)"
port="${demo_url%/}"; port="${port##*:}"
if [ -n "${DEMO_PORT:-}" ] && [ "${DEMO_PORT}" != "${port}" ]; then
  die "the stack allows the demo on port ${port}, not ${DEMO_PORT} (run: DEMO_PORT=${DEMO_PORT} make dev-up)"
fi
eval "$("${REPO_ROOT}/scripts/local_stack/env.sh")"
log "browser demo on ${demo_url} (API ${EXPORT_API_URL}); Ctrl-C stops it"
DEMO_HOST=127.0.0.1 DEMO_PORT="${port}" exec node "${REPO_ROOT}/examples/browser_demo/server.mjs"
