#!/usr/bin/env bash
# `make dev-env`: shell lines for local clients and the end-to-end tests, e.g. `eval "$(make -s dev-env)"`:
#   EXPORT_API_URL         base URL of the API (append /health, /export, ...)
#   EXPORT_SIGNING_SECRET  the HMAC secret that signs requests to the API, from LocalStack's Secrets Manager
#   EXPORT_WEBHOOK_SECRET  the HMAC secret the service signs its completion webhooks with (verify_webhook)
#   AWS_ENDPOINT_URL       LocalStack, plus the region and the dummy credentials LocalStack accepts
source "$(dirname "$0")/lib.sh"

ls_healthy || die "LocalStack does not answer on ${LS_ENDPOINT} (run make dev-up)"
! tf_state_is_stale || die "the Terraform state predates the running LocalStack (run make dev-up)"
api_url="$(tf_output api_url)"
secret_arn="$(tf_output export_signing_secret_arn)"
webhook_secret_arn="$(tf_output export_webhook_secret_arn)"
[ -n "${api_url}" ] && [ -n "${secret_arn}" ] && [ -n "${webhook_secret_arn}" ] || die "terraform/envs/local is not deployed (run make dev-up)"

"${PROJECT_PY}" - "${api_url}" "${secret_arn}" "${webhook_secret_arn}" <<'PY'
"""Reads the secret with boto3 and prints POSIX-quoted `export` lines (values may hold any character)."""
import os
import shlex
import sys

import boto3

api_url, secret_arn, webhook_secret_arn = sys.argv[1:4]
endpoint = os.environ["AWS_ENDPOINT_URL"]
region = os.environ["AWS_DEFAULT_REGION"]
secrets = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=region)
secret = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
webhook_secret = secrets.get_secret_value(SecretId=webhook_secret_arn)["SecretString"]
values = {
    "EXPORT_API_URL": api_url.rstrip("/"),
    "EXPORT_SIGNING_SECRET": secret,
    "EXPORT_WEBHOOK_SECRET": webhook_secret,
    "AWS_ENDPOINT_URL": endpoint,
    "AWS_DEFAULT_REGION": region,
    "AWS_REGION": region,
    "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
    "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
}
for name, value in values.items():
    print(f"export {name}={shlex.quote(value)}")
PY
