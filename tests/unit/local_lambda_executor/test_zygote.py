"""The fork server: a real zygote process forks real environments that talk to a fake LocalStack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local_lambda_executor import runtime
from local_lambda_executor.zygote import (
    ForkedProcess,
    Zygote,
    ZygoteError,
    ZygotePool,
    fork_server_enabled,
    zygote_key,
)
from tests.unit.local_lambda_executor.fake_endpoint import RUNTIME_ID, FakeEndpoint, free_port, post_invoke

HANDLER = """
    import os

    with open(os.path.join(os.path.dirname(__file__), "imports.log"), "a") as imports:
        imports.write(f"{os.getpid()}\\n")

    def handler(event, context):
        if event.get("sleep"):
            import subprocess, time
            child = subprocess.Popen(["sleep", "30"])
            open(os.path.join(os.path.dirname(__file__), "child.pid"), "w").write(str(child.pid))
            time.sleep(30)
        return {
            "pid": os.getpid(),
            "runtime_id": os.environ["LOCALSTACK_RUNTIME_ID"],
            "key": os.environ["AWS_ACCESS_KEY_ID"],
            "function": context.function_name,
        }
"""


THREAD_AT_IMPORT = """
import threading, time

threading.Thread(target=time.sleep, args=(60,)).start()
handler = print
"""


def _base_env(code_dir: Path, timeout: int = 3) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "LOCAL_LAMBDA_PYTHONPATH": str(code_dir),
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": "fn_module.handler",
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout),
        "PYTHONUNBUFFERED": "1",
    }


def _environment(base: dict[str, str], endpoint: FakeEndpoint, key: str = "AKIA1") -> dict[str, str]:
    """The full environment of one execution environment, per-environment variables included."""
    return dict(
        base,
        LOCAL_LAMBDA_PORT=str(free_port()),
        LOCALSTACK_RUNTIME_ENDPOINT=endpoint.url,
        LOCALSTACK_RUNTIME_ID=RUNTIME_ID,
        AWS_ACCESS_KEY_ID=key,
    )


@pytest.fixture
def make_zygote(tmp_path: Path) -> Iterator[Callable[..., Zygote]]:
    zygotes: list[Zygote] = []

    def make(code: str = HANDLER, timeout: int = 3, start: bool = True) -> Zygote:
        (tmp_path / "fn_module.py").write_text(textwrap.dedent(code))
        zygote = Zygote(
            python=sys.executable,
            runtime_script=Path(runtime.__file__),
            env=_base_env(tmp_path, timeout),
            log_path=tmp_path / "zygote.log",
            pid_path=tmp_path / "zygote.pid",
        )
        zygotes.append(zygote)
        if start:
            zygote.start(timeout=30)
        return zygote

    yield make
    for zygote in zygotes:
        zygote.stop()


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def _wait_gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return False


def test_forked_environments_share_one_import_and_get_their_own_variables(
    make_zygote: Callable[..., Zygote], endpoint: FakeEndpoint, tmp_path: Path
) -> None:
    zygote = make_zygote()
    base = _base_env(tmp_path)
    first, second = _environment(base, endpoint, "AKIA1"), _environment(base, endpoint, "AKIA2")

    pids = [zygote.spawn(first, tmp_path / "env1.log"), zygote.spawn(second, tmp_path / "env2.log")]
    post_invoke(int(first["LOCAL_LAMBDA_PORT"]), "req-1", {})
    post_invoke(int(second["LOCAL_LAMBDA_PORT"]), "req-2", {})

    results = [json.loads(endpoint.wait_for(f"/invocations/req-{n}/response")) for n in (1, 2)]
    assert [result["pid"] for result in results] == pids
    assert [result["key"] for result in results] == ["AKIA1", "AKIA2"]
    assert results[0]["function"] == "fn"
    # One import, in the zygote; the environments are its forks, each leading its own process group.
    assert (tmp_path / "imports.log").read_text().split() == [str(zygote.pid)]
    for pid in pids:
        assert os.getpgid(pid) == pid
        assert Path(f"/proc/{pid}/stat").read_text().split()[3] == str(zygote.pid)
    logs = json.loads(endpoint.wait_for("/invocations/req-1/logs"))["logs"]
    assert "START RequestId: req-1" in logs
    assert "Init Duration" in logs
    assert endpoint.paths().count(f"/_localstack_lambda/{RUNTIME_ID}/status/{RUNTIME_ID}/ready") == 2


def test_timeout_kills_the_environment_group_but_not_the_zygote(
    make_zygote: Callable[..., Zygote], endpoint: FakeEndpoint, tmp_path: Path
) -> None:
    zygote = make_zygote(timeout=1)
    env = _environment(_base_env(tmp_path, timeout=1), endpoint)
    process = ForkedProcess(zygote.spawn(env, tmp_path / "env.log"), zygote)

    post_invoke(int(env["LOCAL_LAMBDA_PORT"]), "req-slow", {"sleep": True})

    error = json.loads(endpoint.wait_for("/invocations/req-slow/error", timeout=10))
    assert error["errorType"] == "Sandbox.Timedout"
    assert process.wait(timeout=10) == -signal.SIGKILL  # the status the zygote reaped
    assert _wait_gone(int((tmp_path / "child.pid").read_text()))  # the handler's own child too
    assert zygote.alive()
    # The zygote keeps forking: the executor restarts the environment from it after a timeout.
    again = _environment(_base_env(tmp_path, timeout=1), endpoint)
    zygote.spawn(again, tmp_path / "env.log")
    post_invoke(int(again["LOCAL_LAMBDA_PORT"]), "req-after", {})
    assert json.loads(endpoint.wait_for("/invocations/req-after/response"))["runtime_id"] == RUNTIME_ID


def test_environments_end_with_their_zygote(
    make_zygote: Callable[..., Zygote], endpoint: FakeEndpoint, tmp_path: Path
) -> None:
    zygote = make_zygote()
    env = _environment(_base_env(tmp_path), endpoint)
    process = ForkedProcess(zygote.spawn(env, tmp_path / "env.log"), zygote)
    endpoint.wait_for("/ready")

    zygote.stop()

    assert process.wait(timeout=10) != 0
    assert not zygote.alive()
    with pytest.raises(ZygoteError):
        zygote.spawn(env, tmp_path / "env.log")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("import module_that_does_not_exist\n", "Unable to import module"),
        (THREAD_AT_IMPORT, "threads"),
    ],
)
def test_a_handler_module_that_cannot_be_forked_fails_the_start(
    make_zygote: Callable[..., Zygote], code: str, reason: str
) -> None:
    zygote = make_zygote(code, start=False)

    with pytest.raises(ZygoteError, match=reason):
        zygote.start(timeout=30)
    assert not zygote.alive()


def test_pool_falls_back_for_good_when_the_zygote_dies(
    tmp_path: Path, endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fn_module.py").write_text(textwrap.dedent(HANDLER))
    pool = ZygotePool(lambda: sys.executable, Path(runtime.__file__))
    env = _environment(_base_env(tmp_path), endpoint)
    try:
        zygote = pool.get("fn:1", env, tmp_path, "fn")
        assert zygote is not None and zygote.pid is not None
        # Concurrent starts of the same version share it; per-environment variables do not matter.
        assert (
            pool.get("fn:1", _environment(_base_env(tmp_path), endpoint, "AKIA9"), tmp_path, "fn") is zygote
        )
        assert (tmp_path / f"zygote-fn-{zygote_key('fn:1', sys.executable, env)}.pid").is_file()

        os.kill(zygote.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while zygote.alive() and time.monotonic() < deadline:
            time.sleep(0.05)

        assert pool.get("fn:1", env, tmp_path, "fn") is None  # the executor starts a fresh interpreter
        # Another version (or changed code/configuration) gets a zygote of its own.
        other = pool.get("fn:2", env, tmp_path, "fn")
        assert other is not None and other is not zygote
        pool.stop_owner("fn:2")
        assert not other.alive()
    finally:
        pool.stop_all()
    monkeypatch.setenv("LOCAL_LAMBDA_FORK_SERVER", "0")
    assert not fork_server_enabled()


def test_import_failure_in_the_zygote_leaves_plain_runtimes(tmp_path: Path, endpoint: FakeEndpoint) -> None:
    (tmp_path / "fn_module.py").write_text("raise RuntimeError('broken at import')\n")
    pool = ZygotePool(lambda: sys.executable, Path(runtime.__file__))
    env = _environment(_base_env(tmp_path), endpoint)
    try:
        assert pool.get("fn:1", env, tmp_path, "fn") is None
        assert "broken at import" in next(tmp_path.glob("zygote-fn-*.log")).read_text()
        assert not list(tmp_path.glob("zygote-fn-*.pid"))
        # A plain runtime then reports the init error to LocalStack as before.
        process = subprocess.run(
            [sys.executable, "-P", "-s", runtime.__file__],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert process.returncode == 1
        assert json.loads(endpoint.wait_for("/error"))["errorType"] == "RuntimeError"
    finally:
        pool.stop_all()


def test_edited_source_on_the_code_path_gets_a_fresh_zygote(tmp_path: Path) -> None:
    """An image function runs from the repository: an edit must reach the next cold start."""
    package = tmp_path / "pkg"
    package.mkdir()
    module = package / "mod.py"
    module.write_text("X = 1\n")
    (tmp_path / ".venv").mkdir()
    env = {"LOCAL_LAMBDA_PYTHONPATH": str(tmp_path), "_HANDLER": "pkg.mod.handler"}
    before = zygote_key("fn:1", sys.executable, env)
    assert zygote_key("fn:1", sys.executable, env) == before
    (tmp_path / ".venv" / "ignored.py").write_text("")  # environments and caches do not count
    os.utime(tmp_path / ".venv" / "ignored.py", ns=(2**62, 2**62))
    assert zygote_key("fn:1", sys.executable, env) == before
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 10**9))
    assert zygote_key("fn:1", sys.executable, env) != before
