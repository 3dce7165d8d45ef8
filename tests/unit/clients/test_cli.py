"""clients/node/cli.mjs: `sign` for curl, `export` (the end-to-end harness) against the moto-backed API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from export_common.jobs import JobError, JobOutput
from export_common.signing import sign
from export_common.table import JobRepository
from tests.unit.api.api_stack import SECRET, Stack
from tests.unit.clients.api_server import ApiServer
from tests.unit.clients.runtimes import CLIENT_DIR, runtime_env, wait_until

CLI = CLIENT_DIR / "cli.mjs"
TIMELINE = {
    "editorData": [
        {
            "id": "r",
            "actions": [{"id": "a", "start": 0, "end": 1, "effectId": "video", "data": {"src": "clip.mp4"}}],
        }
    ]
}


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["node", str(CLI), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=runtime_env(**env),
    )


def _job_file(tmp_path: Path, **extra: object) -> Path:
    media = tmp_path / "media"
    media.mkdir()
    (media / "clip.mp4").write_bytes(b"clip bytes")
    job = tmp_path / "job.json"
    assets = [{"src": "clip.mp4", "path": "media/clip.mp4", "contentType": "video/mp4", "ext": ".mp4"}]
    job.write_text(json.dumps({"timeline": TIMELINE, "assets": assets, **extra}))
    return job


def _started_job(
    stack: Stack, api: ApiServer, cli: subprocess.Popen[str]
) -> tuple[str, list[dict[str, str]]]:
    wait_until(lambda: any(s.method == "GET" for s in api.api_calls()) or cli.poll() is not None, "a poll")
    assert cli.poll() is None, cli.communicate()
    job_id = next(s for s in api.api_calls() if s.method == "GET").path.rsplit("/", 1)[-1]
    stored = JobRepository(stack.table).get(job_id)
    assert stored is not None
    return job_id, stored.request_body()["assets"]


def test_sign_prints_curl_header_arguments(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes('{"text": "Café\\r\\n ✓"}\n'.encode())
    env = runtime_env(EXPORT_SIGNING_SECRET="s3cret")
    command = ["node", str(CLI), "sign", "post", "/export", str(body)]
    out = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=True, env=env
    ).stdout.splitlines()
    assert out[0::2] == ["-H", "-H"]
    headers = dict(line.split(": ", 1) for line in out[1::2])
    timestamp = headers["x-base44-timestamp"]
    assert headers["x-base44-signature"] == sign("s3cret", timestamp, "POST", "/export", body.read_bytes())


def test_export_uploads_waits_and_downloads(stack: Stack, api: ApiServer, tmp_path: Path) -> None:
    job = _job_file(tmp_path)
    out = tmp_path / "out.mp4"
    running = _cli(
        "export", str(job), str(out), env={"EXPORT_API_URL": api.url, "EXPORT_SIGNING_SECRET": SECRET}
    )
    job_id, assets = _started_job(stack, api, running)
    assert [a["src"] for a in assets] == ["clip.mp4"]
    assert stack.s3.get_object(Bucket="assets-bucket", Key=assets[0]["s3Key"])["Body"].read() == b"clip bytes"

    repo = JobRepository(stack.table)
    claimed = repo.claim(job_id, lease_seconds=60)
    assert claimed is not None
    stack.s3.put_object(Bucket="exports-bucket", Key=f"exports/{job_id}.mp4", Body=b"the render")
    output = JobOutput(
        key=f"exports/{job_id}.mp4",
        duration_seconds=1,
        size_bytes=10,
        width=160,
        height=90,
        render_seconds=0.1,
    )
    assert repo.mark_succeeded(job_id, claimed.attempt, output)
    stdout, stderr = running.communicate(timeout=60)

    assert running.returncode == 0, stdout + stderr
    final = json.loads(stdout)
    assert (final["jobId"], final["status"]) == (job_id, "SUCCEEDED")
    assert out.read_bytes() == b"the render"
    assert f"job {job_id} QUEUED" in stderr and f"job {job_id} SUCCEEDED" in stderr


def test_export_of_a_failed_job_exits_1_with_the_job(stack: Stack, api: ApiServer, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    env = {"EXPORT_API_URL": api.url, "EXPORT_SIGNING_SECRET": SECRET}
    running = _cli("export", str(_job_file(tmp_path)), str(out), env=env)
    job_id, _ = _started_job(stack, api, running)
    assert JobRepository(stack.table).mark_failed(
        job_id, JobError(code="INVALID_MEDIA", message="not a video")
    )
    stdout, stderr = running.communicate(timeout=60)
    assert running.returncode == 1, stdout + stderr
    assert json.loads(stdout)["status"] == "FAILED"
    assert not out.exists()


def test_export_usage_errors_exit_2(api: ApiServer, tmp_path: Path) -> None:
    env = {"EXPORT_API_URL": api.url, "EXPORT_SIGNING_SECRET": SECRET}
    job = _job_file(tmp_path, output={"width": 320})
    cases = [
        (["export", str(job), str(tmp_path / "o.mp4")], "unexpected keys output"),
        (["export", str(job)], "export needs JOB.json OUT.mp4"),
        (["frobnicate"], "unknown command frobnicate"),
    ]
    for args, message in cases:
        run = _cli(*args, env=env)
        stdout, stderr = run.communicate(timeout=60)
        assert run.returncode == 2 and message in stderr and "usage:" in stderr, (args, stdout, stderr)
    assert api.seen == [], "nothing is sent on a usage error"
