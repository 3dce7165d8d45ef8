"""Running clients/node/export-client.mjs on Node and on Deno from the tests (through drive.mjs)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
CLIENT_DIR = ROOT / "clients" / "node"
DRIVER = Path(__file__).resolve().parent / "drive.mjs"
RUNTIMES = ("node", "deno")


def deno_binary() -> str:
    """The Deno pinned in clients/node/package-lock.json (`make node-tools`), else one on PATH."""
    pinned = CLIENT_DIR / "node_modules" / ".bin" / "deno"
    if pinned.exists():
        return str(pinned)
    found = shutil.which("deno")
    if found is None:
        pytest.fail("Deno is not installed: run `make node-tools` (installs clients/node's pinned deno)")
    return found


def runtime_command(runtime: str, script: Path | str) -> list[str]:
    if runtime == "node":
        return ["node", str(script)]
    # what a Base44 function may do: talk to the network, read its files, read its environment
    return [
        deno_binary(),
        "run",
        "--no-prompt",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        str(script),
    ]


def runtime_env(**extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DENO_NO_UPDATE_CHECK": "1", **extra}
    for name in ("HOME", "DENO_DIR", "TMPDIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def as_bytes(data: bytes, form: str = "uint8array") -> dict[str, str]:
    """Bytes for drive.mjs, handed to the function as a Uint8Array, Buffer, ArrayBuffer or Blob."""
    return {"$bytes": base64.b64encode(data).decode(), "as": form}


RECORDER = {"$recorder": True}


@dataclass
class Runtime:
    """Calls one exported function of clients/node/export-client.mjs in a fresh Node or Deno process."""

    name: str
    workdir: Path

    def start(self, fn: str, **args: Any) -> subprocess.Popen[str]:
        call = self.workdir / f"call-{time.monotonic_ns()}.json"
        call.write_text(json.dumps({"fn": fn, "args": args}, ensure_ascii=False))
        return subprocess.Popen(
            [*runtime_command(self.name, DRIVER), str(call)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=runtime_env(),
        )

    @staticmethod
    def finish(process: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
        stdout, stderr = process.communicate(timeout=timeout)
        assert process.returncode == 0, stdout + stderr
        reply: dict[str, Any] = json.loads(stdout)
        return reply

    def call(self, fn: str, **args: Any) -> dict[str, Any]:
        """{"async", "result"} or {"error": {...}}, plus "calls" and "elapsedMs" (see drive.mjs)."""
        return self.finish(self.start(fn, **args))

    def ok(self, fn: str, **args: Any) -> Any:
        reply = self.call(fn, **args)
        assert "error" not in reply, reply
        assert reply["async"] is True, f"{fn} must return a Promise"
        return reply["result"]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)
