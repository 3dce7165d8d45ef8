#!/usr/bin/env bash
# `make rotate-secret` / `make revoke-previous-secret` (scripts/secret_rotation.py does the work):
#   SECRET=signing|webhook (default signing), ENV=local|prod (default local),
#   SECRET_ARN=... to name the secret instead of reading the root's Terraform outputs.
# ENV=local talks to the LocalStack of `make dev-up`; ENV=prod uses the caller's AWS credentials.
set -euo pipefail
action="${1:?usage: rotate_secret.sh rotate|revoke-previous}"
env_name="${ENV:-local}"
which="${SECRET:-signing}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
py="${repo}/.venv/bin/python"
case "${which}" in signing|webhook) ;; *) echo "error: SECRET must be signing or webhook" >&2; exit 2 ;; esac

if [ "${env_name}" = local ]; then
  source "${repo}/scripts/local_stack/lib.sh"
  ls_healthy || die "LocalStack does not answer on ${LS_ENDPOINT} (run make dev-up)"
fi
outputs="$(terraform -chdir="${repo}/terraform/envs/${env_name}" output -json 2>/dev/null || echo '{}')"
arn="${SECRET_ARN:-$(printf '%s' "${outputs}" | "${py}" "${repo}/scripts/terraform/outputs.py" "export_${which}_secret_arn")}"
[ -n "${arn}" ] || { echo "error: no export_${which}_secret_arn output in terraform/envs/${env_name} (set SECRET_ARN)" >&2; exit 1; }
grace="$(printf '%s' "${outputs}" | "${py}" "${repo}/scripts/terraform/outputs.py" previous_secret_grace_seconds)"
cd "${repo}"
exec "${py}" -m scripts.secret_rotation "${action}" "${arn}" --name "${which}" ${grace:+--grace-seconds "${grace}"}
