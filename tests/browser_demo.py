"""Runs the browser demo's backend (examples/browser_demo/server.mjs) for the unit and end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

SERVER = Path(__file__).resolve().parents[1] / "examples" / "browser_demo" / "server.mjs"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving_demo(api_url: str, secret: str, port: int) -> Iterator[str]:
    """The demo on http://127.0.0.1:<port>/ as `make demo` starts it, for the block; yields its URL."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "EXPORT_API_URL": api_url,
        "EXPORT_SIGNING_SECRET": secret,
        "DEMO_HOST": "127.0.0.1",
        "DEMO_PORT": str(port),
    }
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(["node", str(SERVER)], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"the demo backend exited ({server.returncode}); port {port} taken?"
            try:
                requests.get(url, timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, f"the demo backend did not answer on {url}"
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
