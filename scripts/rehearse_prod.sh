#!/usr/bin/env bash
# `make rehearse-prod`: terraform/envs/prod applied to the local stack, one signed export through it, then
# destroyed. Only the provider endpoints, the state backend's endpoint and bucket, and what only AWS has
# differ from a real `make deploy ENV=prod`; each setting the rehearsal overrides is in
# terraform/envs/prod/rehearsal.tfvars with its reason. The provider reaches LocalStack through tflocal's
# override file; the S3 backend, configured exactly as deploy.sh does (-backend-config bucket/key/region),
# through AWS_ENDPOINT_URL, which its AWS SDK reads (tflocal's own backend override is not written with
# -chdir: it looks for *.tf files in the working directory).
#
#   1. LocalStack is started if it is not running (LOCALSTACK_PORT as for make dev-up; an existing
#      terraform/envs/local deployment on it is left alone: the prod root has its own name_prefix);
#   2. the state bucket is made as terraform/README.md's "Prod bootstrap" says (versioning, public access
#      block), and the root is initialised with its S3 backend (use_lockfile) on it, as scripts/deploy.sh does;
#   3. terraform apply with rehearsal.tfvars; the worker runs localhost/video-export-worker:dev (no ECR here);
#   4. tests/rehearsal/test_prod_rehearsal.py: the prod settings as deployed, then presign, PUT, POST /export
#      with a callbackUrl, the webhook received and verified, the download (the Python client);
#   5. the teardown a real prod needs, since it refuses to lose data by accident: the jobs table's deletion
#      protection off, both buckets emptied, terraform destroy, the secret (30-day recovery window) purged,
#      then the state bucket removed.
#
# Settings: LOCALSTACK_PORT (default 4566), REHEARSE_KEEP=1 (leave the deployment up; a later run applies
# over it and destroys it), PYTEST_ARGS.
source "$(dirname "$0")/local_stack/lib.sh"
cd "${REPO_ROOT}"

PROD_DIR="terraform/envs/prod"
VARS_FILE="${REPO_ROOT}/${PROD_DIR}/rehearsal.tfvars"
WORK_DIR="${LS_DIR}/rehearse-prod"
OUTPUTS="${WORK_DIR}/outputs.json"
STATE_BUCKET="video-export-rehearsal-tfstate"
STATE_KEY="video-export/prod/terraform.tfstate"
NAME_PREFIX="video-export-prod"  # the prod root's default name_prefix, which the rehearsal keeps
AWS=("${REPO_ROOT}/.venv/bin/aws" --endpoint-url "${LS_ENDPOINT}")
started=${SECONDS}
step() { log "[$((SECONDS - started)) s] $*"; }

# The root's own .terraform (a real prod init with the real backend) is left alone.
export TF_DATA_DIR="${WORK_DIR}/terraform"
mkdir -p "${WORK_DIR}"
rm -f "${OUTPUTS}" "${WORK_DIR}"/*.log

step "LocalStack on ${LS_ENDPOINT}"
DEV_UP_SKIP_DEPLOY=1 "${REPO_ROOT}/scripts/local_stack/up.sh"
# One rehearsal at a time per checkout (taken after up.sh, so a LocalStack started there does not hold it).
exec 8>"${WORK_DIR}/lock"
flock 8
# tflocal refuses to run beside an override file an interrupted run left; nothing else writes one here.
rm -f "${PROD_DIR}/localstack_providers_override.tf"

step "building the API zip"
"${PROJECT_PY}" scripts/build_lambdas.py >/dev/null

# shellcheck source=terraform/cli-config.sh
source scripts/terraform/cli-config.sh
colour=(); [ -t 1 ] || colour=(-no-color)
tfl() { tflocal_cmd -chdir="${PROD_DIR}" "$@"; }
tf_vars=(-var "region=${AWS_REGION}" -var-file "${VARS_FILE}")

step "state bucket s3://${STATE_BUCKET} (terraform/README.md, Prod bootstrap)"
if ! "${AWS[@]}" s3api head-bucket --bucket "${STATE_BUCKET}" >/dev/null 2>&1; then
  "${AWS[@]}" s3api create-bucket --bucket "${STATE_BUCKET}" >/dev/null
fi
"${AWS[@]}" s3api put-bucket-versioning --bucket "${STATE_BUCKET}" --versioning-configuration Status=Enabled
"${AWS[@]}" s3api put-public-access-block --bucket "${STATE_BUCKET}" --public-access-block-configuration \
  BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true

step "terraform init ${PROD_DIR} (S3 backend, use_lockfile, on LocalStack)"
if ! tfl init -input=false -reconfigure -lockfile=readonly "${colour[@]}" \
  -backend-config="bucket=${STATE_BUCKET}" -backend-config="key=${STATE_KEY}" \
  -backend-config="region=${AWS_REGION}" >"${WORK_DIR}/init.log" 2>&1; then
  cat "${WORK_DIR}/init.log" >&2
  die "terraform init of ${PROD_DIR} failed"
fi

teardown() {
  local status=$?
  trap - EXIT
  if [ "${REHEARSE_KEEP:-0}" = 1 ]; then
    log "REHEARSE_KEEP=1: the rehearsal deployment stays (state s3://${STATE_BUCKET}/${STATE_KEY})"
    exit "${status}"
  fi
  step "teardown: deletion protection off, buckets emptied (what a real prod needs before destroy)"
  # After a failed apply the outputs file is missing: read what the partial state has.
  [ -s "${OUTPUTS}" ] || tfl output -json >"${OUTPUTS}" 2>>"${WORK_DIR}/teardown.log" || true
  "${PROJECT_PY}" -m scripts.rehearse_prod unprotect "${OUTPUTS}" || status=1
  # LocalStack answers a reset RedriveAllowPolicy with "" where AWS drops the attribute, so the provider
  # waits for ever on deleting aws_sqs_queue_redrive_allow_policy: forget them, their queues' deletion
  # takes them along.
  mapfile -t forget < <(tfl state list 2>>"${WORK_DIR}/teardown.log" | grep -E '\.aws_sqs_queue_redrive_allow_policy\.' || true)
  [ "${#forget[@]}" = 0 ] || tfl state rm "${forget[@]}" >>"${WORK_DIR}/teardown.log" 2>&1 || status=1
  step "terraform destroy"
  if ! tfl destroy -auto-approve -input=false -lock-timeout=120s "${colour[@]}" "${tf_vars[@]}" \
    >"${WORK_DIR}/destroy.log" 2>&1; then
    tail -n 40 "${WORK_DIR}/destroy.log" >&2
    log "terraform destroy failed (log: ${WORK_DIR}/destroy.log)"
    exit 1
  fi
  step "teardown: the secret purged (30-day recovery window), the state bucket removed"
  "${PROJECT_PY}" -m scripts.rehearse_prod purge "${NAME_PREFIX}" "${STATE_BUCKET}" || status=1
  step "rehearsal $([ "${status}" = 0 ] && echo passed || echo FAILED) in $((SECONDS - started)) s"
  exit "${status}"
}
trap teardown EXIT

step "terraform apply ${PROD_DIR} with rehearsal.tfvars"
"${PROJECT_PY}" -m scripts.rehearse_prod clear-secrets "${NAME_PREFIX}"
if ! tfl apply -auto-approve -input=false -lock-timeout=120s "${colour[@]}" "${tf_vars[@]}" \
  >"${WORK_DIR}/apply.log" 2>&1; then
  tail -n 60 "${WORK_DIR}/apply.log" >&2
  die "terraform apply of ${PROD_DIR} failed (log: ${WORK_DIR}/apply.log)"
fi
grep -E '^Apply complete' "${WORK_DIR}/apply.log" >&2 || true
# (tflocal prints a deprecation notice on stderr each time)
tfl output -json >"${OUTPUTS}" 2>>"${WORK_DIR}/apply.log"
tfl state list >"${WORK_DIR}/resources.txt" 2>>"${WORK_DIR}/apply.log"

step "one signed export through the rehearsed deployment"
REHEARSAL_OUTPUTS="${OUTPUTS}" REHEARSAL_RESOURCES="${WORK_DIR}/resources.txt" \
  "${PROJECT_PY}" -m pytest tests/rehearsal -p no:cacheprovider -s ${PYTEST_ARGS:-}
