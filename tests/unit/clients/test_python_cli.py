"""The ``video-export`` command, run as a subprocess against the real API handler (moto) over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from export_common.jobs import JobError, JobStatus
from export_common.table import JobRepository
from tests.unit.api.api_stack import SECRET, Stack
from tests.unit.clients.api_server import ApiServer, finish_job
from tests.unit.clients.runtimes import wait_until
from video_export.cli import split_file_option

CLI = Path(sys.executable).parent / "video-export"
TIMELINE = {
    "editorData": [{"actions": [{"start": 0, "end": 1, "effectId": "video", "data": {"src": "clip.mp4"}}]}]
}


def _env(api: ApiServer | None = None, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **extra}
    if api is not None:
        env |= {"EXPORT_API_URL": api.url, "EXPORT_SIGNING_SECRET": SECRET}
    return env


def _start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CLI), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=60, check=False, env=env)


def _media(tmp_path: Path) -> tuple[Path, Path]:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"clip bytes")
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"timeline": TIMELINE}))
    return clip, request


def _polled_job(api: ApiServer, cli: subprocess.Popen[str]) -> str:
    wait_until(lambda: any(s.method == "GET" for s in api.api_calls()) or cli.poll() is not None, "a poll")
    assert cli.poll() is None, cli.communicate()
    return next(s for s in api.api_calls() if s.method == "GET").path.rsplit("/", 1)[-1]


def test_export_uploads_waits_and_downloads(stack: Stack, api: ApiServer, tmp_path: Path) -> None:
    clip, request = _media(tmp_path)
    out = tmp_path / "out.mp4"
    cli = _start(
        "export", "--timeline", str(request), "--file", f"clip.mp4={clip}", "--out", str(out), env=_env(api)
    )
    job_id = _polled_job(api, cli)
    stored = JobRepository(stack.table).get(job_id)
    assert stored is not None
    [asset] = stored.request_body()["assets"]
    assert stack.s3.get_object(Bucket="assets-bucket", Key=asset["s3Key"])["Body"].read() == b"clip bytes"
    finish_job(stack, job_id, b"the render")
    stdout, stderr = cli.communicate(timeout=60)

    assert cli.returncode == 0, stdout + stderr
    final = json.loads(stdout)
    assert (final["jobId"], final["status"]) == (job_id, "SUCCEEDED")
    assert out.read_bytes() == b"the render"
    # progress bars on stderr (not a terminal: one line per step), the upload's, the job's, the download's
    lines = stderr.splitlines()
    assert any(line.startswith("upload [") and line.endswith("100% 10 B/10 B") for line in lines), stderr
    assert any(line.startswith(f"export {job_id[:8]} [") and line.endswith("SUCCEEDED") for line in lines)
    assert any(line.startswith("download [") and "100%" in line for line in lines), stderr
    assert lines[-1] == f"saved {out}"

    # then wait and download on their own
    run = _run("wait", job_id, "--no-progress", env=_env(api))
    assert run.returncode == 0 and json.loads(run.stdout)["status"] == "SUCCEEDED" and run.stderr == ""
    again = tmp_path / "again.mp4"
    run = _run("download", job_id, str(again), "--no-progress", env=_env(api))
    assert run.returncode == 0 and again.read_bytes() == b"the render", run.stderr
    run = _run("status", job_id, env=_env(api))
    assert json.loads(run.stdout)["downloadUrl"]


def test_export_of_a_failed_job_exits_1_with_its_reason(stack: Stack, api: ApiServer, tmp_path: Path) -> None:
    clip, request = _media(tmp_path)
    out = tmp_path / "out.mp4"
    cli = _start(
        "export", "--timeline", str(request), "--file", f"clip.mp4={clip}", "--out", str(out), env=_env(api)
    )
    job_id = _polled_job(api, cli)
    assert JobRepository(stack.table).mark_failed(
        job_id, JobError(code="INVALID_MEDIA", message="not a video")
    )
    stdout, stderr = cli.communicate(timeout=60)
    assert cli.returncode == 1, stdout + stderr
    assert json.loads(stdout)["status"] == "FAILED"
    assert stderr.splitlines()[-1] == "error: export failed: INVALID_MEDIA: not a video"
    assert not out.exists()

    run = _run("wait", job_id, env=_env(api))
    assert run.returncode == 1 and "INVALID_MEDIA: not a video" in run.stderr
    run = _run("download", job_id, str(out), env=_env(api))
    assert run.returncode == 1 and "did not succeed: INVALID_MEDIA: not a video" in run.stderr
    assert not out.exists()


def test_presign_and_upload_print_json(stack: Stack, api: ApiServer, tmp_path: Path) -> None:
    clip, _ = _media(tmp_path)
    run = _run("presign", "--file", f"clip.mp4={clip}", env=_env(api))
    assert run.returncode == 0, run.stderr
    [upload] = json.loads(run.stdout)
    assert upload["src"] == "clip.mp4" and upload["headers"] == {"Content-Type": "video/mp4"}

    run = _run("upload", "--file", f"clip.mp4={clip}", "--no-progress", env=_env(api))
    assert run.returncode == 0, run.stderr
    [asset] = json.loads(run.stdout)
    assert set(asset) == {"src", "s3Key"} and asset["s3Key"].endswith(".mp4")
    assert stack.s3.get_object(Bucket="assets-bucket", Key=asset["s3Key"])["Body"].read() == b"clip bytes"


def test_api_errors_exit_1_with_the_message(api: ApiServer, tmp_path: Path) -> None:
    run = _run("wait", "no-such-job", env=_env(api))
    assert run.returncode == 1 and run.stderr.startswith("error: 404 NOT_FOUND: "), run.stderr
    run = _run("status", "x", env={**_env(api), "EXPORT_SIGNING_SECRET": "wrong"})
    assert run.returncode == 1 and "401 INVALID_SIGNATURE" in run.stderr, run.stderr
    request = tmp_path / "bad.json"
    request.write_text(json.dumps({"timeline": {"editorData": "nope"}}))
    run = _run("export", "--timeline", str(request), "--out", str(tmp_path / "o.mp4"), env=_env(api))
    assert run.returncode == 1 and "400 VALIDATION_ERROR" in run.stderr, run.stderr
    assert "  timeline.editorData: " in run.stderr  # the per-field details


def test_usage_errors_exit_2_and_send_nothing(api: ApiServer, tmp_path: Path) -> None:
    clip, request = _media(tmp_path)
    cases = [
        (
            ["export", "--timeline", str(request), "--out", "o.mp4", "--file", "clip.mp4"],
            "SRC=PATH",
            _env(api),
        ),
        (["upload", "--file", f"clip.mp4={tmp_path / 'none.mp4'}"], "no such file", _env(api)),
        (["upload"], "at least one --file", _env(api)),
        (["export", "--timeline", str(clip), "--out", "o.mp4"], "--timeline", _env(api)),
        (["status", "j"], "EXPORT_API_URL is not set", _env()),
        (["frobnicate"], "invalid choice", _env(api)),
    ]
    for args, message, env in cases:
        run = _run(*args, env=env)
        assert run.returncode == 2 and message in run.stderr and "usage:" in run.stderr, (args, run.stderr)
    assert api.seen == [], "nothing is sent on a usage error"


def test_help_lists_every_command() -> None:
    run = _run("--help", env=_env())
    assert run.returncode == 0
    for command in ("presign", "upload", "export", "wait", "cancel", "download", "verify-webhook"):
        assert command in run.stdout
    module = subprocess.run(
        [sys.executable, "-m", "video_export", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert module.returncode == 0 and module.stdout == run.stdout


MELIES = Path(__file__).resolve().parents[3] / "examples" / "melies-request.json"


def _melies_music_src() -> str:
    """The Melies example's own music src: a signed URL, with ``=`` in its query."""
    request = json.loads(MELIES.read_text())
    srcs = [a["src"] for a in request["assets"] if "music" in a["src"]]
    assert srcs and "=" in srcs[0], srcs
    return str(srcs[0])


def test_file_option_splits_at_the_last_equals_sign(tmp_path: Path) -> None:
    music = tmp_path / "music.mp3"
    music.write_bytes(b"mp3")
    src = _melies_music_src()
    assert split_file_option(f"{src}={music}") == (src, str(music))
    assert split_file_option("clip.mp4=./clip.mp4") == ("clip.mp4", "./clip.mp4")
    # a path with "=" in it is found when it names a file
    odd = tmp_path / "a=b.mp4"
    odd.write_bytes(b"x")
    assert split_file_option(f"clip.mp4={odd}") == ("clip.mp4", str(odd))


def test_presign_takes_a_signed_url_as_src(stack: Stack, api: ApiServer, tmp_path: Path) -> None:
    music = tmp_path / "music.mp3"
    music.write_bytes(b"mp3 bytes")
    src = _melies_music_src()
    run = _run("presign", "--file", f"{src}={music}", env=_env(api))
    assert run.returncode == 0, run.stderr
    [upload] = json.loads(run.stdout)
    assert upload["src"] == src and upload["s3Key"].endswith(".mp3")


def test_cancel_prints_the_cancel_and_waits_for_the_end(stack: Stack, api: ApiServer) -> None:
    repo = JobRepository(stack.table)
    queued, running = str(uuid.uuid4()), str(uuid.uuid4())
    for job_id in (queued, running):
        repo.create(job_id, "{}", "h")
    assert repo.claim(running, lease_seconds=60) is not None

    run = _run("cancel", queued, env=_env(api))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"jobId": queued, "status": "CANCELLED"}
    run = _run("cancel", running, env=_env(api))
    assert json.loads(run.stdout) == {"jobId": running, "status": "CANCELLING"}
    # the worker ends it meanwhile; --wait prints the final job
    assert repo.mark_cancelled(running, from_status=JobStatus.CANCELLING)
    run = _run("cancel", running, "--wait", "--no-progress", env=_env(api))
    assert run.returncode == 0 and json.loads(run.stdout)["status"] == "CANCELLED", run.stderr
    # waiting on a cancelled job ends at once, exit 1 with why
    run = _run("wait", running, "--no-progress", env=_env(api))
    assert run.returncode == 1 and "export was cancelled" in run.stderr, run.stderr


def test_cancel_of_an_ended_or_unknown_job_exits_1_with_the_code(stack: Stack, api: ApiServer) -> None:
    job_id = str(uuid.uuid4())
    repo = JobRepository(stack.table)
    repo.create(job_id, "{}", "h")
    assert repo.mark_failed(job_id, JobError(code="INVALID_MEDIA", message="not a video"))
    run = _run("cancel", job_id, env=_env(api))
    assert run.returncode == 1 and "409 JOB_ALREADY_ENDED" in run.stderr, run.stderr
    run = _run("cancel", str(uuid.uuid4()), env=_env(api))
    assert run.returncode == 1 and "404 NOT_FOUND" in run.stderr, run.stderr
