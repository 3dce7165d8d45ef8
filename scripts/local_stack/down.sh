#!/usr/bin/env bash
# `make dev-down`: stop LocalStack (with DynamoDB Local and every Lambda process) and forget the
# local deployment. LocalStack keeps no state across restarts, so the Terraform state goes too.
source "$(dirname "$0")/lib.sh"

stop_group() {  # stop_group <pgid> <what>: TERM, wait up to 15 s, then KILL
  local pgid="$1" what="$2"
  kill -0 -- "-${pgid}" 2>/dev/null || return 0
  log "stopping ${what} (process group ${pgid})"
  kill -TERM -- "-${pgid}" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 -- "-${pgid}" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -KILL -- "-${pgid}" 2>/dev/null || true
}

if [ "$(ls_mode)" = docker ]; then
  log "stopping the LocalStack container"
  compose down -v || true
else
  if pid="$(ls_pid)"; then
    stop_group "${pid}" "LocalStack"
  else
    log "LocalStack (host mode) is not running"
  fi
fi
# Lambda environments run in process groups of their own; LocalStack stops them on a clean
# shutdown and they exit when LocalStack dies, but a pid file left behind means one may remain.
for pidfile in "${LS_LAMBDA_LOGS}"/*.pid; do
  [ -f "${pidfile}" ] || continue
  stop_group "$(cat "${pidfile}")" "Lambda environment $(basename "${pidfile}" .pid)"
  rm -f "${pidfile}"
done
rm -f "${LS_PIDFILE}" "${LS_MODE_FILE}" "${LS_DEPLOYED_FILE}"
rm -f "${TF_DIR}"/terraform.tfstate "${TF_DIR}"/terraform.tfstate.* "${TF_DIR}"/.terraform.tfstate.lock.info
# LocalStack's runtime files (unzipped functions, DynamoDB Local's data, ...); installs are kept.
rm -rf "${LS_FS_ROOT}/tmp" "${LS_LAMBDA_LOGS}"
log "stopped"
