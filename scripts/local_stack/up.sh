#!/usr/bin/env bash
# `make dev-up`: LocalStack (host mode by default, no Docker) + terraform/envs/local deployed to it.
#   LOCALSTACK_MODE=host    (default) LocalStack from PyPI in .localstack/venv, Lambdas as local processes
#   LOCALSTACK_MODE=docker  the official container from docker-compose.yml (needs a Docker engine)
#   LOCAL_LAMBDA_IMAGES=built (default) the worker runs in its built image; =source: from the repository
#   DEV_UP_SKIP_DEPLOY=1    only start LocalStack
# Idempotent: a running LocalStack is reused and the apply is a no-op when nothing changed.
source "$(dirname "$0")/lib.sh"

MODE="${LOCALSTACK_MODE:-$(ls_mode)}"

# One dev-up at a time (e.g. two `make e2e` runs): the second waits, then finds everything up.
mkdir -p "${LS_DIR}"
exec 9>"${LS_LOCK}"
flock 9

start_host() {
  "${REPO_ROOT}/scripts/local_stack/install.sh"
  if ls_pid >/dev/null; then
    log "LocalStack already runs (pid $(ls_pid))"
  elif ls_healthy; then
    die "something else answers on ${LS_ENDPOINT} (a LocalStack container? then LOCALSTACK_MODE=docker); stop it first"
  else
    # Leftovers of a LocalStack that died hard (its DynamoDB Local JVM) go first.
    if stale="$(ls_group)"; then stop_group "${stale}" "the remains of an earlier LocalStack"; fi
    stop_dynamodb_local
    "${REPO_ROOT}/scripts/local_stack/image_map.sh"
    log "starting LocalStack (host mode) on ${LS_ENDPOINT}; log: ${LS_LOG}"
    mkdir -p "${LS_FS_ROOT}" "${LS_LAMBDA_LOGS}" "${LS_TMP}"
    rm -f "${LS_LAMBDA_LOGS}"/*.pid
    : >"${LS_LOG}"
    # setsid: LocalStack and DynamoDB Local form one process group that dev-down can end as a whole.
    (
      exec 9>&-  # LocalStack must not hold dev-up's lock
      cd "${LS_DIR}"
      export GATEWAY_LISTEN="${LS_HOST}:${LS_PORT}"
      export DNS_DISABLED=1
      # The host may itself be a container: say "host mode" so every directory lands under FILESYSTEM_ROOT.
      export OVERRIDE_IN_DOCKER=0
      export FILESYSTEM_ROOT="${LS_FS_ROOT}"
      export TMPDIR="${LS_TMP}"
      export DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 LOCALSTACK_TELEMETRY_DISABLED=1
      # S3 checks presigned URLs as AWS does (signature, expiry, signed headers such as Content-Type);
      # LocalStack's default skips that. What it still cannot check: scripts/local_stack/README.md.
      export S3_SKIP_SIGNATURE_VALIDATION=0
      export LAMBDA_RUNTIME_EXECUTOR=local-process
      export LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT="${LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT:-60}"
      export LAMBDA_KEEPALIVE_MS="${LAMBDA_KEEPALIVE_MS:-600000}"
      export LOCAL_LAMBDA_PYTHON="${PROJECT_PY}"
      export LOCAL_LAMBDA_IMAGE_HANDLERS="${LS_IMAGE_HANDLERS}"
      export LOCAL_LAMBDA_LOG_DIR="${LS_LAMBDA_LOGS}"
      export LOCAL_LAMBDA_FORK_SERVER="${LOCAL_LAMBDA_FORK_SERVER:-1}"
      # Most environment processes per function version; more invocations queue (empty: two per core).
      export LOCAL_LAMBDA_MAX_ENVIRONMENTS="${LOCAL_LAMBDA_MAX_ENVIRONMENTS:-}"
      # LocalStack's default host names in returned URLs (queue URLs the AWS provider parses).
      unset AWS_ENDPOINT_URL LOCALSTACK_HOST EDGE_PORT S3_HOSTNAME PYTHONPATH VIRTUAL_ENV
      exec setsid nohup "${LS_PYTHON}" -m localstack.runtime.main >>"${LS_LOG}" 2>&1 </dev/null
    ) &
    echo $! >"${LS_PIDFILE}"
    echo host >"${LS_MODE_FILE}"
  fi
}

start_docker() {
  command -v docker >/dev/null && docker info >/dev/null 2>&1 || die "LOCALSTACK_MODE=docker needs a running Docker engine"
  log "starting LocalStack (docker compose)"
  compose up -d
  echo docker >"${LS_MODE_FILE}"
}

wait_healthy() {
  local timeout="${LOCALSTACK_START_TIMEOUT:-120}" started=${SECONDS}
  until ls_healthy; do
    if [ "${MODE}" = host ] && ! ls_pid >/dev/null; then
      tail -n 40 "${LS_LOG}" >&2 || true
      die "LocalStack exited during start-up (log above, full log: ${LS_LOG})"
    fi
    if (( SECONDS - started > timeout )); then
      tail -n 40 "${LS_LOG}" >&2 || true
      die "LocalStack not healthy on ${LS_ENDPOINT} after ${timeout} s (log above, full log: ${LS_LOG})"
    fi
    sleep 0.5
  done
  log "LocalStack healthy after $((SECONDS - started)) s"
}

deploy() {
  [ -d "${TF_DIR}" ] || die "${TF_DIR} does not exist yet"
  local started=${SECONDS}
  if tf_state_is_stale; then
    log "LocalStack restarted since the last deploy: starting from an empty Terraform state"
    rm -f "${TF_DIR}"/terraform.tfstate "${TF_DIR}"/terraform.tfstate.*
  fi
  if [ -f "${REPO_ROOT}/scripts/build_lambdas.py" ]; then
    log "building Lambda artefacts"
    "${PROJECT_PY}" "${REPO_ROOT}/scripts/build_lambdas.py"
  fi
  # shellcheck source=../terraform/cli-config.sh
  source "${REPO_ROOT}/scripts/terraform/cli-config.sh"
  log "deploying ${TF_DIR#"${REPO_ROOT}/"} with tflocal"
  local init_log="${LS_DIR}/terraform-init.log"
  if ! tflocal_cmd -chdir="${TF_DIR}" init -input=false >"${init_log}" 2>&1; then
    cat "${init_log}" >&2
    die "terraform init failed (a leftover ${TF_DIR#"${REPO_ROOT}/"}/localstack_providers_override.tf from an interrupted tflocal run can be deleted)"
  fi
  # -lock-timeout: another apply of the same root (a parallel dev-up, or by hand) finishes first.
  # Plain text where nobody reads colours (CI logs, redirected output).
  local colour=(); [ -t 1 ] || colour=(-no-color)
  tflocal_cmd -chdir="${TF_DIR}" apply -auto-approve -input=false -lock-timeout=600s "${colour[@]}" \
    || die "terraform apply failed; 'already exists' errors mean LocalStack holds resources the state does not know (make dev-down && make dev-up starts clean)"
  log "deployed in $((SECONDS - started)) s"
}

case "${MODE}" in
  host) start_host ;;
  docker) start_docker ;;
  *) die "LOCALSTACK_MODE must be host or docker, not '${MODE}'" ;;
esac
wait_healthy
[ "${DEV_UP_SKIP_DEPLOY:-0}" = 1 ] && exit 0
deploy

api_url="$(tf_output api_url)"
secret_arn="$(tf_output export_signing_secret_arn)"
webhook_secret_arn="$(tf_output export_webhook_secret_arn)"
cat <<MSG

LocalStack:  ${LS_ENDPOINT}  (make dev-status, make dev-logs, make dev-down)
API URL:     ${api_url:-<no api_url output>}
Signing secret (requests) and webhook secret (verify_webhook):
  .venv/bin/awslocal secretsmanager get-secret-value --secret-id '${secret_arn}' --query SecretString --output text
  .venv/bin/awslocal secretsmanager get-secret-value --secret-id '${webhook_secret_arn}' --query SecretString --output text
Client/test environment:
  eval "\$(make -s dev-env)"
MSG
