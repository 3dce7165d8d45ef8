#!/usr/bin/env bash
# `make plan|deploy ENV=<local|prod>`: scripts/deploy.sh <plan|apply> <local|prod>
#
# prod: checks tools and AWS credentials, initialises terraform/envs/prod with its S3 backend,
# builds build/api.zip, and (apply) creates the ECR repository, builds and pushes the worker image
# tagged with the git commit (with docker when its engine answers, else podman: scripts/container_engine.sh),
# then applies the whole root with that tag. `plan` pushes nothing: it
# plans against an image tag that already exists in ECR (WORKER_IMAGE_TAG, else the current
# commit's tag when pushed, else the newest pushed tag).
# local: `make dev-up` does the deployment (LocalStack has no ECR; the worker runs from this repo).
#
# Settings (environment):
#   TF_STATE_BUCKET   S3 bucket of the Terraform state (required for prod; see terraform/README.md)
#   TF_STATE_KEY      state object key            (default: video-export/prod/terraform.tfstate)
#   TF_STATE_REGION   region of the state bucket  (default: the deployment region)
#   AWS_REGION        deployment region           (default: AWS_DEFAULT_REGION, else us-east-1)
#   WORKER_IMAGE_TAG  image tag to deploy/plan    (default: the git commit, see above)
#   AUTO_APPROVE=1    apply without the interactive confirmation (CI)
#   TF_VARS_FILE      an extra -var-file for terraform/envs/prod (e.g. cors_allowed_origins)
#   CONTAINER_ENGINE  docker or podman to force one (default: docker if its engine answers, else podman)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT="${PWD}"

die() { echo "error: $*" >&2; exit 1; }
log() { echo "==> $*"; }

usage() { die "usage: scripts/deploy.sh <plan|apply> <local|prod>"; }
[ $# -eq 2 ] || usage
action="$1"
env_name="$2"
case "${action}" in plan | apply) ;; *) usage ;; esac

if [ "${env_name}" = local ]; then
  if [ "${action}" = apply ]; then
    log "ENV=local is deployed by make dev-up (LocalStack, no Docker); running it"
    exec "${REPO_ROOT}/scripts/local_stack/up.sh"
  fi
  echo "ENV=local has no separate plan: \`make dev-up\` applies terraform/envs/local to LocalStack (idempotent)."
  exit 0
fi
[ "${env_name}" = prod ] || die "ENV must be local or prod, not '${env_name}'"

TF_DIR="terraform/envs/prod"
# tflocal's endpoint override (written while `make rehearse-prod` runs) would send prod to LocalStack.
[ ! -e "${TF_DIR}/localstack_providers_override.tf" ] \
  || die "${TF_DIR}/localstack_providers_override.tf exists (a make rehearse-prod running, or one interrupted): wait for it, or delete the file"
PY="${REPO_ROOT}/.venv/bin/python"
AWS="aws"
command -v aws >/dev/null 2>&1 || AWS="${REPO_ROOT}/.venv/bin/aws"

# ---------------------------------------------------------------- preconditions
command -v terraform >/dev/null 2>&1 || die "terraform is not installed (https://developer.hashicorp.com/terraform/install)"
[ -x "${AWS}" ] || command -v "${AWS}" >/dev/null 2>&1 || die "the AWS CLI is not installed (make venv installs it into .venv)"
[ -x "${PY}" ] || die ".venv is missing: run make venv"

# shellcheck source=scripts/container_engine.sh
source scripts/container_engine.sh
if [ "${action}" = apply ]; then
  choose_container_engine || die "no container engine to build the worker image: ${ENGINE_REASON} (install Docker or podman)"
  engine="${ENGINE}"
  log "container engine: ${engine} (${ENGINE_REASON})"
fi

export AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
export AWS_DEFAULT_REGION="${AWS_REGION}"
if ! identity="$("${AWS}" sts get-caller-identity --cli-connect-timeout 10 --cli-read-timeout 20 --query '[Account,Arn]' --output text 2>&1)"; then
  die "cannot verify AWS credentials (aws sts get-caller-identity: ${identity##*$'\n'}).
       Configure them first, e.g. \`aws sso login --profile <p> && export AWS_PROFILE=<p>\`,
       or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN."
fi
account_id="$(cut -f1 <<<"${identity}")"
log "AWS account ${account_id} ($(cut -f2 <<<"${identity}")), region ${AWS_REGION}"

[ -n "${TF_STATE_BUCKET:-}" ] || die "TF_STATE_BUCKET is not set: the S3 bucket that holds the prod Terraform state (see terraform/README.md, 'Prod bootstrap')"
state_key="${TF_STATE_KEY:-video-export/prod/terraform.tfstate}"
state_region="${TF_STATE_REGION:-${AWS_REGION}}"

# ---------------------------------------------------------------- terraform init
# shellcheck source=scripts/terraform/cli-config.sh
source scripts/terraform/cli-config.sh
tf() { terraform -chdir="${TF_DIR}" "$@"; }
log "terraform init (state s3://${TF_STATE_BUCKET}/${state_key})"
tf init -input=false -reconfigure \
  -backend-config="bucket=${TF_STATE_BUCKET}" \
  -backend-config="key=${state_key}" \
  -backend-config="region=${state_region}" >/dev/null

tf_vars=(-var "region=${AWS_REGION}")
[ -n "${TF_VARS_FILE:-}" ] && tf_vars+=(-var-file "$(cd "$(dirname "${TF_VARS_FILE}")" && pwd)/$(basename "${TF_VARS_FILE}")")

# ---------------------------------------------------------------- artefacts
log "building the API zip"
"${PY}" scripts/build_lambdas.py

commit_tag() {
  local sha
  sha="$(git rev-parse --short=12 HEAD 2>/dev/null)" || die "not a git checkout: set WORKER_IMAGE_TAG"
  if [ -n "$(git status --porcelain -- functions render pyproject.toml 2>/dev/null)" ]; then
    # Tags are immutable: a dirty tree gets a unique tag rather than reusing the commit's.
    echo "${sha}-dirty-$(date -u +%Y%m%d%H%M%S)"
  else
    echo "${sha}"
  fi
}

repo_name() { tf output -raw worker_repository_url 2>/dev/null | sed 's|^[^/]*/||'; }
image_exists() { # <repository name> <tag>
  "${AWS}" ecr describe-images --repository-name "$1" --image-ids "imageTag=$2" >/dev/null 2>&1
}

if [ "${action}" = plan ]; then
  tag="${WORKER_IMAGE_TAG:-}"
  if [ -z "${tag}" ]; then
    repo="$(repo_name || true)"
    [ -n "${repo}" ] || die "the ECR repository does not exist yet: run make deploy ENV=prod once, or set WORKER_IMAGE_TAG"
    candidate="$(git rev-parse --short=12 HEAD 2>/dev/null || true)"
    if [ -n "${candidate}" ] && image_exists "${repo}" "${candidate}"; then
      tag="${candidate}"
    else
      tag="$("${AWS}" ecr describe-images --repository-name "${repo}" --filter tagStatus=TAGGED \
        --query 'sort_by(imageDetails,&imagePushedAt)[-1].imageTags[0]' --output text 2>/dev/null || true)"
      [ -n "${tag}" ] && [ "${tag}" != None ] || die "no worker image in ${repo} yet: run make deploy ENV=prod, or set WORKER_IMAGE_TAG"
      log "the current commit has no pushed image; planning with the newest pushed tag ${tag}"
    fi
  fi
  log "terraform plan (worker image tag ${tag})"
  tf plan -input=false "${tf_vars[@]}" -var "worker_image_tag=${tag}"
  exit 0
fi

# ---------------------------------------------------------------- apply
tag="${WORKER_IMAGE_TAG:-$(commit_tag)}"
approve=()
[ "${AUTO_APPROVE:-0}" = 1 ] && approve=(-auto-approve)

log "creating/updating the worker's ECR repository"
tf apply -input=false -auto-approve "${tf_vars[@]}" -var "worker_image_tag=${tag}" \
  -target=aws_ecr_repository.worker -target=aws_ecr_lifecycle_policy.worker >/dev/null
repo_url="$(tf output -raw worker_repository_url)"
registry="${repo_url%%/*}"

if image_exists "${repo_url#*/}" "${tag}"; then
  log "image ${repo_url}:${tag} already pushed (tags are immutable); not rebuilding"
else
  log "building the worker image ${repo_url}:${tag} with ${engine} (make image's build: scripts/image/build.sh)"
  IMAGE_REF="${repo_url}:${tag}" CONTAINER_ENGINE="${engine}" scripts/image/build.sh
  log "pushing to ${registry} with ${engine}"
  "${AWS}" ecr get-login-password | "${engine}" login --username AWS --password-stdin "${registry}" >/dev/null
  "${engine}" push "${repo_url}:${tag}"
fi

log "terraform apply ${TF_DIR} (worker image tag ${tag})"
tf apply -input=false "${approve[@]}" "${tf_vars[@]}" -var "worker_image_tag=${tag}"
log "API: $(tf output -raw api_url)"
