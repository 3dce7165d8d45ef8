"""`make rotate-secret` and `make revoke-previous-secret`: rotate a signing secret with a grace window.

    python -m scripts.secret_rotation rotate SECRET_ARN [--name signing|webhook] [--grace-seconds N]
    python -m scripts.secret_rotation revoke-previous SECRET_ARN [--name signing|webhook]

``rotate`` writes a new random value (Secrets Manager's GetRandomPassword: 64 letters and digits) as a new
version; Secrets Manager makes it ``AWSCURRENT`` and the old current ``AWSPREVIOUS``. The API accepts the
previous signing secret until ``previous_secret_grace_seconds`` after the new version was created, so
clients have that long to move; the webhook function signs with the new webhook secret from its next cache
refresh (receivers may accept both meanwhile: ``verify_webhook`` takes a list). ``revoke-previous`` removes
the ``AWSPREVIOUS`` stage: the API refuses the old signing secret from the next request on (after a leak).
Neither prints a secret's value; read it with ``get-secret-value`` (``make dev-env`` locally).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

SECRET_LENGTH = 64
"""The length Terraform's generated values have (the module's signing_secret_length default)."""


def rotate(client: SecretsManagerClient, secret_id: str) -> str:
    """A new random value as ``AWSCURRENT`` (the old one becomes ``AWSPREVIOUS``); returns its version id."""
    value = client.get_random_password(
        PasswordLength=SECRET_LENGTH, ExcludePunctuation=True, IncludeSpace=False
    )["RandomPassword"]
    return client.put_secret_value(
        SecretId=secret_id, SecretString=value, ClientRequestToken=str(uuid.uuid4())
    )["VersionId"]


def previous_version(client: SecretsManagerClient, secret_id: str) -> str | None:
    stages = client.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
    return next((version for version, names in stages.items() if "AWSPREVIOUS" in names), None)


def revoke_previous(client: SecretsManagerClient, secret_id: str) -> str | None:
    """Removes the ``AWSPREVIOUS`` stage (the version stays, unlabelled); returns the version it left."""
    version = previous_version(client, secret_id)
    if version is not None:
        client.update_secret_version_stage(
            SecretId=secret_id, VersionStage="AWSPREVIOUS", RemoveFromVersionId=version
        )
    return version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts.secret_rotation", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["rotate", "revoke-previous"])
    parser.add_argument("secret_id", metavar="SECRET_ARN")
    parser.add_argument("--name", choices=["signing", "webhook"], default="signing")
    parser.add_argument("--grace-seconds", type=int, default=None, help="the deployment's grace, to print")
    args = parser.parse_args(argv)
    client = boto3.client("secretsmanager")
    variable = "EXPORT_SIGNING_SECRET" if args.name == "signing" else "EXPORT_WEBHOOK_SECRET"
    if args.action == "rotate":
        version = rotate(client, args.secret_id)
        grace = (
            f"{args.grace_seconds} s" if args.grace_seconds is not None else "previous_secret_grace_seconds"
        )
        print(f"rotated the {args.name} secret: new version {version} is AWSCURRENT")
        if args.name == "signing":
            print(
                f"the old value stays valid for {grace} after now (AWSPREVIOUS).\n"
                f"Next: give Base44 the new value ({variable}: "
                f"get-secret-value --secret-id {args.secret_id}),\n"
                "      then `make revoke-previous-secret` to end the grace early."
            )
        else:
            print(
                "the callbacks function signs with it from its next cache refresh (secret_cache_seconds);\n"
                f"Next: give the webhook receivers the new value ({variable}); "
                "let them accept both meanwhile."
            )
    else:
        revoked = revoke_previous(client, args.secret_id)
        if revoked is None:
            print(f"the {args.name} secret has no previous version: nothing to revoke")
        else:
            print(f"revoked the previous {args.name} secret (version {revoked} is no longer AWSPREVIOUS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
