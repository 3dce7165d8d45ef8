"""The teardown steps of `make rehearse-prod` (scripts/rehearse_prod.sh) that Terraform cannot take itself.

terraform/envs/prod refuses to lose data by accident: the jobs table has deletion protection, the buckets
are not force-destroyed, and the signing secret has a 30-day recovery window. Tearing such a deployment
down takes the same steps on AWS as on LocalStack:

    python -m scripts.rehearse_prod unprotect OUTPUTS.json        # before `terraform destroy`
    python -m scripts.rehearse_prod purge NAME_PREFIX STATE_BUCKET  # after it
    python -m scripts.rehearse_prod clear-secrets NAME_PREFIX       # before an apply

``unprotect`` turns the table's deletion protection off and empties both buckets (OUTPUTS.json is
`terraform output -json` of the root). ``clear-secrets`` deletes, without recovery, the secrets under
``NAME_PREFIX/`` that wait out their recovery window: LocalStack, like AWS, refuses to create a secret of
that name meanwhile, so an earlier rehearsal's destroy (finished or interrupted) would fail the next apply.
``purge`` does that and removes the state bucket, every version included. Every step skips what is already
gone, so each is safe after a partial apply. Endpoint and credentials come from the environment
(AWS_ENDPOINT_URL, set by scripts/local_stack/lib.sh).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from scripts.terraform.outputs import flat_outputs

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef


def _outputs(path: str) -> dict[str, Any]:
    """`terraform output -json` as name → value (`flat_outputs`); empty when the apply never got that far."""
    file = Path(path)
    if not file.is_file() or not file.read_text().strip():
        return {}
    return flat_outputs(json.loads(file.read_text()))


def _missing(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in {"ResourceNotFoundException", "NoSuchBucket", "404", "NotFound"}


def _empty_bucket(name: str) -> int:
    """Deletes every object version and delete marker of a bucket; returns how many."""
    s3 = boto3.client("s3")
    deleted = 0
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            keys: list[ObjectIdentifierTypeDef] = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            if keys:
                s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
    except ClientError as error:
        if not _missing(error):
            raise
    return deleted


def unprotect(outputs_file: str) -> None:
    outputs = _outputs(outputs_file)
    table = outputs.get("jobs_table_name")
    if table:
        try:
            boto3.client("dynamodb").update_table(TableName=table, DeletionProtectionEnabled=False)
            print(f"  {table}: deletion protection off")
        except ClientError as error:
            if not _missing(error):
                raise
    for key in ("assets_bucket_name", "exports_bucket_name"):
        if outputs.get(key):
            print(f"  {outputs[key]}: {_empty_bucket(outputs[key])} objects deleted")


def clear_secrets(name_prefix: str) -> None:
    secrets = boto3.client("secretsmanager")
    for page in secrets.get_paginator("list_secrets").paginate(
        IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [f"{name_prefix}/"]}]
    ):
        for secret in page["SecretList"]:
            if secret.get("DeletedDate") and secret["Name"].startswith(f"{name_prefix}/"):
                secrets.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
                print(f"  {secret['Name']}: scheduled for deletion, now deleted without recovery")


def purge(name_prefix: str, state_bucket: str) -> None:
    clear_secrets(name_prefix)
    deleted = _empty_bucket(state_bucket)
    try:
        boto3.client("s3").delete_bucket(Bucket=state_bucket)
        print(f"  s3://{state_bucket}: {deleted} state versions and the bucket deleted")
    except ClientError as error:
        if not _missing(error):
            raise


def main(argv: list[str]) -> int:
    match argv:
        case ["unprotect", outputs_file]:
            unprotect(outputs_file)
        case ["purge", name_prefix, state_bucket]:
            purge(name_prefix, state_bucket)
        case ["clear-secrets", name_prefix]:
            clear_secrets(name_prefix)
        case _:
            print(__doc__, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
