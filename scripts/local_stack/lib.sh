# Shared settings of scripts/local_stack/*.sh (sourced, not run).
# Everything LocalStack writes stays under .localstack/ in the repository (gitignored).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LS_DIR="${REPO_ROOT}/.localstack"
LS_VENV="${LS_DIR}/venv"
LS_PYTHON="${LS_VENV}/bin/python"
LS_LOG="${LS_DIR}/localstack.log"
LS_PIDFILE="${LS_DIR}/localstack.pid"
LS_MODE_FILE="${LS_DIR}/mode"
LS_STARTED_FILE="${LS_DIR}/started-at"
LS_LOCK="${LS_DIR}/dev-up.lock"
LS_CACHE="${LS_DIR}/cache"
# Host mode: LocalStack's whole filesystem hierarchy (var/lib/localstack/lib, tmp, ...) lives here.
LS_FS_ROOT="${LS_DIR}/fs"
LS_VAR_LIBS="${LS_FS_ROOT}/var/lib/localstack/lib"
LS_LAMBDA_LOGS="${LS_DIR}/lambda-logs"
# TMPDIR of LocalStack and its functions: unzipped function code (LocalStack's <tmp>/lambda/...) and the
# functions' scratch files stay in the repository and go with `make dev-down`.
LS_TMP="${LS_DIR}/tmp"
LS_IMAGE_HANDLERS="${LS_DIR}/image-handlers.json"

LS_HOST="127.0.0.1"
LS_PORT="${LOCALSTACK_PORT:-4566}"
LS_ENDPOINT="http://${LS_HOST}:${LS_PORT}"
TF_DIR="${REPO_ROOT}/terraform/envs/local"
PROJECT_PY="${REPO_ROOT}/.venv/bin/python"

# LocalStack accepts any credentials (account 000000000000 for "test"). Always the dummy ones: real
# credentials from the caller's shell must never be sent anywhere or printed by `make dev-env`.
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SECURITY_TOKEN
export AWS_DEFAULT_REGION=us-east-1   # terraform/envs/local's region
export AWS_REGION="${AWS_DEFAULT_REGION}"
# awslocal / tflocal target this endpoint.
export AWS_ENDPOINT_URL="${LS_ENDPOINT}"
export EDGE_PORT="${LS_PORT}"
# tflocal: S3 on 127.0.0.1 (path style) rather than s3.localhost.localstack.cloud, which needs DNS.
export S3_HOSTNAME="${LS_HOST}"
# The local root builds `api_url` from the edge URL, so another LOCALSTACK_PORT yields a working URL.
export TF_VAR_localstack_endpoint="${LS_ENDPOINT}"
# `make demo DEMO_PORT=...`: the buckets' CORS rules follow the demo's origin (default: the local root's).
if [ -n "${DEMO_PORT:-}" ]; then export TF_VAR_demo_port="${DEMO_PORT}"; fi

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# True when LocalStack answers its health endpoint.
ls_healthy() { curl -fsS --max-time 2 "${LS_ENDPOINT}/_localstack/health" >/dev/null 2>&1; }

# The pid of the host-mode LocalStack we started, if it still runs.
ls_pid() {
  [ -f "${LS_PIDFILE}" ] || return 1
  local pid; pid="$(cat "${LS_PIDFILE}")"
  kill -0 "${pid}" 2>/dev/null || return 1
  case "$(ps -o stat= -p "${pid}" 2>/dev/null)" in Z*|"") return 1 ;; esac  # killed, not yet reaped
  echo "${pid}"
}

# The process group of the last host-mode LocalStack while any member lives (DynamoDB Local's JVM
# outlives a LocalStack that was killed hard).
ls_group() {
  [ -f "${LS_PIDFILE}" ] || return 1
  local pgid; pgid="$(cat "${LS_PIDFILE}")"
  kill -0 -- "-${pgid}" 2>/dev/null || return 1
  echo "${pgid}"
}

# stop_group <pgid> <what>: TERM, up to 15 s grace, then KILL.
stop_group() {
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

# DynamoDB Local JVMs started from this repository's LocalStack. LocalStack puts them in a session of
# their own, so a hard-killed LocalStack orphans them; they are found by this checkout's jar path.
stop_dynamodb_local() {
  local pids
  pids="$(pgrep -f -- "-javaagent:${LS_VAR_LIBS}/dynamodb-local/" || true)"
  [ -n "${pids}" ] || return 0
  log "stopping DynamoDB Local (pid ${pids//$'\n'/, })"
  # shellcheck disable=SC2086
  kill ${pids} 2>/dev/null || true
}

ls_mode() { cat "${LS_MODE_FILE}" 2>/dev/null || echo host; }

compose() {
  if docker compose version >/dev/null 2>&1; then docker compose -f "${REPO_ROOT}/docker-compose.yml" "$@"
  else docker-compose -f "${REPO_ROOT}/docker-compose.yml" "$@"; fi
}

tflocal_cmd() { "${REPO_ROOT}/.venv/bin/tflocal" "$@"; }

# LocalStack keeps no state across restarts (no PERSISTENCE): a Terraform state written before the
# running LocalStack started describes resources that no longer exist.
tf_state_is_stale() {
  local state="${TF_DIR}/terraform.tfstate" uptime
  [ -f "${state}" ] || return 1
  uptime="$(curl -fsS "${LS_ENDPOINT}/_localstack/info" | "${PROJECT_PY}" -c 'import json,sys; print(int(json.load(sys.stdin)["uptime"]))')"
  (( $(stat -c %Y "${state}") < $(date +%s) - uptime - 1 ))
}

# A terraform output of terraform/envs/local as raw text (empty when missing).
# (`output -json`: `-raw` prints a warning on stdout, exit 0, when the state has no outputs yet.)
tf_output() {
  terraform -chdir="${TF_DIR}" output -json 2>/dev/null \
    | "${PROJECT_PY}" "${REPO_ROOT}/scripts/terraform/outputs.py" "$1" 2>/dev/null \
    || true
}
