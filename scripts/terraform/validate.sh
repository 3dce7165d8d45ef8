#!/usr/bin/env bash
# `terraform fmt -check` over terraform/, then `init -backend=false` + `validate` of every root and
# the module, offline through the provider mirror (scripts/terraform/cli-config.sh). Quiet on
# success. Each check gets its own TF_DATA_DIR under .tools/, so the roots' own .terraform
# directories (a live `tflocal` deployment) are left alone, and the committed lock files are only
# read, never rewritten.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/terraform/cli-config.sh
source scripts/terraform/cli-config.sh

if ! command -v terraform >/dev/null 2>&1; then
  echo "error: terraform is not installed (https://developer.hashicorp.com/terraform/install)" >&2
  exit 1
fi

# tflocal's generated localstack_providers_override.tf (present while a local deploy runs) is not ours.
mapfile -t tf_files < <(find terraform -name '*.tf' -not -path '*/.terraform/*' \
  -not -name 'localstack_providers_override.tf' | sort)
if ! terraform fmt -check -diff "${tf_files[@]}" >/tmp/tf-fmt.$$ 2>&1; then
  cat /tmp/tf-fmt.$$ >&2
  rm -f /tmp/tf-fmt.$$
  echo "error: terraform files are not formatted; run: terraform fmt -recursive terraform/" >&2
  exit 1
fi
rm -f /tmp/tf-fmt.$$

status=0
for dir in terraform/envs/local terraform/envs/prod terraform/modules/export_service; do
  data_dir="${PWD}/.tools/terraform/validate/${dir//\//_}"
  lockfile_mode=readonly
  [ -f "${dir}/.terraform.lock.hcl" ] || lockfile_mode=""
  if ! out="$(cd "${dir}" && TF_DATA_DIR="${data_dir}" terraform init -backend=false -input=false -no-color \
    ${lockfile_mode:+-lockfile=${lockfile_mode}} 2>&1)"; then
    echo "${out}" >&2
    echo "error: terraform init failed in ${dir}" >&2
    status=1
    continue
  fi
  if ! out="$(cd "${dir}" && TF_DATA_DIR="${data_dir}" terraform validate -no-color 2>&1)"; then
    echo "${out}" >&2
    echo "error: terraform validate failed in ${dir}" >&2
    status=1
  fi
done
# The module has no lock file of its own: drop the one its init wrote.
rm -f terraform/modules/export_service/.terraform.lock.hcl
exit "${status}"
