"""How the end-to-end tests find and talk to the stack that `make dev-up` deployed on LocalStack."""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from boto3.dynamodb.types import TypeDeserializer

from scripts.terraform.outputs import flat_outputs
from video_export.signing import signed_headers

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_ROOT = REPO_ROOT / "terraform" / "envs" / "local"


def _dev_env() -> dict[str, str]:
    """The variables `make dev-env` prints (EXPORT_API_URL, EXPORT_SIGNING_SECRET, AWS_*)."""
    out = subprocess.run(
        [str(REPO_ROOT / "scripts" / "local_stack" / "env.sh")],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    ).stdout
    env: dict[str, str] = {}
    for word in shlex.split(out, comments=True):
        if "=" in word:
            name, value = word.split("=", 1)
            env[name] = value
    return env


def _terraform_outputs() -> dict[str, Any]:
    out = subprocess.run(
        ["terraform", f"-chdir={LOCAL_ROOT}", "output", "-json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return flat_outputs(json.loads(out))


def _route_of(path: str) -> str:
    """Groups latencies by route, not by job id."""
    if path.startswith("/export/") and path not in ("/export/presign", "/export/quote"):
        return "/export/{jobId}"
    return path


@dataclass
class LatencyLog:
    """Latency of every signed API call, for the p50/p95 summary printed at the end of the run."""

    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, route: str, seconds: float) -> None:
        self.samples.setdefault(route, []).append(seconds)

    def summary_lines(self) -> list[str]:
        lines = []
        for route, values in sorted(self.samples.items()):
            ordered = sorted(values)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            lines.append(
                f"{route:<36} n={len(values):<4} p50={statistics.median(values) * 1000:7.1f} ms"
                f"  p95={p95 * 1000:7.1f} ms"
            )
        return lines


LATENCIES = LatencyLog()
TIMINGS: dict[str, str] = {}


@dataclass
class Stack:
    """The deployed local stack: API base URL, the request-signing and webhook secrets, and boto3 clients
    aimed at LocalStack."""

    api_url: str
    secret: str
    endpoint_url: str
    outputs: dict[str, Any]
    webhook_secret: str = ""

    @classmethod
    def discover(cls) -> Stack:
        env = _dev_env()
        for name, value in env.items():
            if name.startswith("AWS_"):
                os.environ[name] = value
        return cls(
            api_url=env["EXPORT_API_URL"].rstrip("/"),
            secret=env["EXPORT_SIGNING_SECRET"],
            webhook_secret=env["EXPORT_WEBHOOK_SECRET"],
            endpoint_url=env["AWS_ENDPOINT_URL"],
            outputs=_terraform_outputs(),
        )

    def client(self, service: Any) -> Any:  # Any: boto3's overloads want a literal name
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name="us-east-1")

    # ------------------------------------------------------------------ HTTP
    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        secret: str | None = None,
        signed_path: str | None = None,
        signed_method: str | None = None,
        signed_body: bytes | None = None,
        now_ms: int | None = None,
        headers: dict[str, str] | None = None,
        sign: bool = True,
        latency_group: str = "",
    ) -> requests.Response:
        """One real HTTP call through API Gateway; the signed_* arguments let a test tamper on purpose."""
        all_headers = {"content-type": "application/json"} if body else {}
        if sign:
            all_headers.update(
                signed_headers(
                    secret if secret is not None else self.secret,
                    signed_method or method,
                    signed_path or path,
                    body if signed_body is None else signed_body,
                    now_ms=now_ms,
                )
            )
        all_headers.update(headers or {})
        started = time.perf_counter()
        response = requests.request(method, self.api_url + path, data=body, headers=all_headers, timeout=60)
        group = f" [{latency_group}]" if latency_group else ""
        LATENCIES.add(f"{method} {_route_of(path)}{group}", time.perf_counter() - started)
        return response

    def post_json(self, path: str, payload: Any, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, body=json.dumps(payload).encode(), **kwargs)

    def job_count(self) -> int:
        """Job records in the table (to prove that a rejected request created none)."""
        table = self.outputs["jobs_table_name"]
        paginator = self.client("dynamodb").get_paginator("scan")
        count = 0
        for page in paginator.paginate(
            TableName=table,
            FilterExpression="begins_with(pk, :job)",
            ExpressionAttributeValues={":job": {"S": "job#"}},
            Select="COUNT",
        ):
            count += page["Count"]
        return count

    def wait_for_final(
        self, job_id: str, *, timeout: float = 300, latency_group: str = "", poll_interval: float = 0.25
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Polls GET /export/{jobId} until SUCCEEDED/FAILED; returns the last status and all seen."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.request("GET", f"/export/{job_id}", latency_group=latency_group)
            assert response.status_code == 200, response.text
            status = response.json()
            seen.append(status)
            if status["status"] in ("SUCCEEDED", "FAILED"):
                return status, seen
            time.sleep(poll_interval)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s; last: {seen[-1:]}")

    def item(self, pk: str) -> dict[str, Any] | None:
        """An item of the jobs table: a job ``job#<id>``, a fan-out task ``task#<id>#<attempt>#<name>``."""
        found = (
            self.client("dynamodb")
            .get_item(TableName=self.outputs["jobs_table_name"], Key={"pk": {"S": pk}}, ConsistentRead=True)
            .get("Item")
        )
        if found is None:
            return None
        deserializer = TypeDeserializer()
        return {name: deserializer.deserialize(value) for name, value in found.items()}

    def task_records(self, job_id: str) -> dict[str, dict[str, Any]]:
        """The lease items of a fanned-out job's tasks (chunks and audio), by task name."""
        job = self.item(f"job#{job_id}") or {}
        chunks, attempt = int(job.get("chunks", 0)), int(job.get("attempt", 0))
        names = [*(f"chunk-{i}" for i in range(chunks)), "audio"] if chunks else []
        records = {name: self.item(f"task#{job_id}#{attempt}#{name}") for name in names}
        return {name: record for name, record in records.items() if record is not None}

    def queue_to_start_seconds(self, job_id: str) -> list[float]:
        """Orchestration overhead of a fanned-out job: per task, its first start after the split sent it."""
        return sorted(
            (int(r["startedAt"]) - int(r["queuedAt"])) / 1000 for r in self.task_records(job_id).values()
        )

    def node_export(
        self, job_file: Path, target: Path, *, timeout: float = 600
    ) -> tuple[dict[str, Any], str]:
        """`clients/node/cli.mjs export`: exportVideo as a Base44 backend function calls it.

        Returns the final job and the progress lines the module's onProgress printed.
        """
        result = subprocess.run(
            ["node", str(REPO_ROOT / "clients" / "node" / "cli.mjs"), "export", str(job_file), str(target)],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "EXPORT_API_URL": self.api_url,
                 "EXPORT_SIGNING_SECRET": self.secret},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )  # fmt: skip
        assert result.returncode in (0, 1), result.stdout + result.stderr
        final: dict[str, Any] = json.loads(result.stdout)
        return final, result.stderr
