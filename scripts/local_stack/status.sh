#!/usr/bin/env bash
# `make dev-status`: what runs locally (LocalStack, its services, Lambda processes) and what is deployed.
source "$(dirname "$0")/lib.sh"

mode="$(ls_mode)"
echo "mode:        ${mode}"
if [ "${mode}" = host ]; then
  if pid="$(ls_pid)"; then echo "LocalStack:  running, pid ${pid} (log ${LS_LOG#"${REPO_ROOT}/"})"
  else echo "LocalStack:  not running (host mode)"; fi
else
  compose ps 2>/dev/null || echo "LocalStack:  docker compose not available"
fi
if ! ls_healthy; then
  echo "health:      ${LS_ENDPOINT} does not answer"
  exit 0
fi
curl -fsS "${LS_ENDPOINT}/_localstack/health" | "${PROJECT_PY}" -c '
import json, sys
health = json.load(sys.stdin)
print("health:      ok, LocalStack", health.get("version", "?"))
active = sorted(name for name, state in health.get("services", {}).items() if state == "running")
print("services:    " + (", ".join(active) or "none started yet (LocalStack starts them on first use)"))
'
echo "lambdas:"
found=0
for pidfile in "${LS_LAMBDA_LOGS}"/*.pid; do
  [ -f "${pidfile}" ] || continue
  pid="$(cat "${pidfile}")"
  kill -0 "${pid}" 2>/dev/null || continue
  found=1
  printf '  %-60s pid %-7s %s\n' "$(basename "${pidfile}" .pid)" "${pid}" "$(ps -o rss= -p "${pid}" | awk '{printf "%d MB", $1/1024}')"
done
[ "${found}" = 1 ] || echo "  (no execution environment runs; they start on the first invoke)"
echo "deployment (terraform/envs/local):"
if [ -f "${TF_DIR}/terraform.tfstate" ] && ! tf_state_is_stale; then
  terraform -chdir="${TF_DIR}" output 2>/dev/null | sed 's/^/  /' || echo "  (no outputs)"
else
  echo "  not deployed to the running LocalStack (make dev-up)"
fi
