"""`make rehearse-prod` (scripts/rehearse_prod.sh, which applies terraform/envs/prod to LocalStack first and
destroys it after): the prod settings as deployed, then one signed export through the deployment with the
Python client: presign, PUT of the media, POST /export with a callbackUrl, the completion webhook received and
verified with ``verify_webhook``, the download from the webhook's URL.

Not part of ``make e2e`` (it needs the rehearsal's deployment, not the local root's): the script passes
the root's ``terraform output -json`` in REHEARSAL_OUTPUTS and its ``terraform state list`` in
REHEARSAL_RESOURCES.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from export_common.callbacks import callback_path
from scripts.terraform.outputs import flat_outputs
from tests.e2e import media
from tests.e2e.conftest import one_clip_request
from tests.e2e.stack import Stack
from tests.webhook_receiver import receiving
from video_export import ExportClient, verify_webhook

LOCALSTACK_ACCOUNT = "000000000000"
WORKER_IMAGE = "localhost/video-export-worker:dev"  # terraform/envs/prod/rehearsal.tfvars
# a loaded two-core machine renders and polls slowly; a bound, not an expectation
WEBHOOK_TIMEOUT = 300


def _env_file(name: str) -> Path:
    value = os.environ.get(name)
    if not value or not Path(value).is_file():
        pytest.fail(f"{name} is not set: run `make rehearse-prod` (scripts/rehearse_prod.sh), not pytest")
    return Path(value)


@pytest.fixture(scope="module")
def stack() -> Stack:
    outputs = flat_outputs(json.loads(_env_file("REHEARSAL_OUTPUTS").read_text()))
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    # prod's api_url is the AWS invoke URL; on LocalStack the same API answers on its execute-api path
    api_url = f"{endpoint}/_aws/execute-api/{outputs['rest_api_id']}/{outputs['api_stage_name']}"
    deployed = Stack(api_url=api_url, secret="", endpoint_url=endpoint, outputs=outputs)
    secrets = deployed.client("secretsmanager")
    deployed.secret = secrets.get_secret_value(SecretId=outputs["export_signing_secret_arn"])["SecretString"]
    webhook_arn = outputs["export_webhook_secret_arn"]
    deployed.webhook_secret = secrets.get_secret_value(SecretId=webhook_arn)["SecretString"]
    return deployed


def test_the_prod_root_is_deployed_with_its_own_settings(stack: Stack) -> None:
    outputs = stack.outputs
    resources = _env_file("REHEARSAL_RESOURCES").read_text().split()
    # worker_image_uri given: no ECR resources; everything else of the root is there
    assert not [r for r in resources if r.startswith("aws_ecr_")], resources
    assert "worker_repository_url" not in outputs  # null: `terraform output -json` leaves it out
    assert outputs["worker_image_uri"] == WORKER_IMAGE
    for bucket in ("assets_bucket_name", "exports_bucket_name"):
        assert outputs[bucket].endswith(f"-{LOCALSTACK_ACCOUNT}"), outputs[bucket]

    table = stack.client("dynamodb").describe_table(TableName=outputs["jobs_table_name"])["Table"]
    assert table["DeletionProtectionEnabled"] is True
    backups = stack.client("dynamodb").describe_continuous_backups(TableName=outputs["jobs_table_name"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"

    lambdas = stack.client("lambda")
    worker = lambdas.get_function(FunctionName=outputs["worker_function_name"])
    config = worker["Configuration"]
    assert (config["PackageType"], worker["Code"]["ImageUri"]) == ("Image", WORKER_IMAGE)
    assert (config["Timeout"], config["MemorySize"], config["EphemeralStorage"]["Size"]) == (900, 3008, 10240)
    assert config["TracingConfig"]["Mode"] == "Active"
    assert lambdas.get_function_concurrency(FunctionName=outputs["worker_function_name"]).get(
        "ReservedConcurrentExecutions"
    ) == 10  # fmt: skip
    api_env = lambdas.get_function_configuration(FunctionName=outputs["api_function_name"])["Environment"]
    assert api_env["Variables"]["LOG_LEVEL"] == "INFO"

    api_logs = f"/aws/lambda/{outputs['api_function_name']}"
    groups = stack.client("logs").describe_log_groups(logGroupNamePrefix=api_logs)
    assert {g.get("retentionInDays") for g in groups["logGroups"]} == {90}

    health = ExportClient(stack.api_url, stack.secret).health()
    assert health["status"] == "ok" and health.get("version") == "dev", health


def test_one_signed_export_with_its_webhook(stack: Stack, tmp_path: Path) -> None:
    client = ExportClient(stack.api_url, stack.secret)
    clip = media.solid_clip_with_tone(tmp_path / "red.mp4", "red", 440, seconds=1.0)
    started = time.monotonic()

    # presign + PUT of the media
    (asset,) = client.upload_files({"red.mp4": clip})
    with receiving([200]) as receiver:
        # POST /export with a callbackUrl
        request: dict[str, Any] = one_clip_request("red.mp4", asset["s3Key"])
        job = client.export(request | {"callbackUrl": receiver.url})
        assert job["status"] == "QUEUED", job
        deliveries = receiver.wait_for(1, WEBHOOK_TIMEOUT)
    assert deliveries, f"no webhook within {WEBHOOK_TIMEOUT} s; job: {client.get_status(str(job['jobId']))}"
    webhook_seconds = time.monotonic() - started

    # the webhook, verified as a receiver must
    delivery = deliveries[0]
    assert verify_webhook(stack.webhook_secret, delivery.headers, callback_path(receiver.url), delivery.body)
    payload = json.loads(delivery.body)
    assert (payload["jobId"], payload["status"]) == (job["jobId"], "SUCCEEDED"), payload

    # the download, from the URL the webhook carried
    out = client.download(payload, tmp_path / "out.mp4")
    probed = media.probe(out)
    video = next(s for s in probed["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 160, 90)
    assert abs(float(probed["format"]["duration"]) - 1.0) < 0.2
    assert media.pixel(out, 0.5, 80, 45)[0] > 200  # red

    final = client.get_status(str(job["jobId"]))
    assert final["callback"]["state"] == "DELIVERED" and final["callback"]["attempts"] == 1, final["callback"]
    print(
        f"\nrehearsal export: presign + PUT + POST /export → webhook in {webhook_seconds:.1f} s,"
        f" {out.stat().st_size} bytes downloaded"
    )
