#!/usr/bin/env bash
# `make dev-down`: stop LocalStack (with DynamoDB Local and every Lambda process) and forget the
# local deployment. LocalStack keeps no state across restarts, so the Terraform state goes too.
source "$(dirname "$0")/lib.sh"

if [ "$(ls_mode)" = docker ]; then
  log "stopping the LocalStack container"
  compose down -v || true
else
  if pgid="$(ls_group)"; then
    stop_group "${pgid}" "LocalStack"
  else
    log "LocalStack (host mode) is not running"
  fi
  stop_dynamodb_local
fi
# Lambda environments run in process groups of their own; LocalStack stops them on a clean
# shutdown and they exit when LocalStack dies, but a pid file left behind means one may remain.
for pidfile in "${LS_LAMBDA_LOGS}"/*.pid; do
  [ -f "${pidfile}" ] || continue
  stop_group "$(cat "${pidfile}")" "Lambda environment $(basename "${pidfile}" .pid)"
  rm -f "${pidfile}"
done
rm -f "${LS_PIDFILE}" "${LS_MODE_FILE}"
rm -f "${TF_DIR}"/terraform.tfstate "${TF_DIR}"/terraform.tfstate.* "${TF_DIR}"/.terraform.tfstate.lock.info
# LocalStack's runtime files (unzipped functions, DynamoDB Local's data, ...); installs are kept.
rm -rf "${LS_FS_ROOT}/tmp" "${LS_FS_ROOT:?}${LS_TMP}" "${LS_LAMBDA_LOGS}" "${LS_TMP}"
log "stopped"
