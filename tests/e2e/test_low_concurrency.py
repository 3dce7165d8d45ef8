"""A fanned-out export on an account with little worker concurrency: reserved concurrency 2.

New AWS accounts often get a concurrency quota of 10, and a deployment may reserve only a few workers.
The tasks of a long export then wait in the queue: an invocation beyond the reservation is throttled
(LocalStack throttles as AWS does, ``TooManyRequestsException``), its message returns to the queue
without the handler running, so it consumes no attempt (no claim) and fails no job; the export takes
longer, and its progress keeps moving.

The test sets the reservation itself (and removes it after). Run on a stack whose executor has a single
worker environment and cuts exports into 20 chunks, it is the issue's proof::

    LOCAL_LAMBDA_MAX_ENVIRONMENTS=1 TF_VAR_fanout_max_chunks=20 TF_VAR_fanout_min_chunk_seconds=2 make dev-up

On the usual local stack (6 chunks, a few environments) it checks the same with fewer tasks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import media
from tests.e2e.conftest import presign_and_upload
from tests.e2e.stack import TIMINGS, Stack
from tests.e2e.test_fanout import FINAL_TIMEOUT, _request, _submit, _windows

RESERVED = 2
LOCALSTACK_LOG = Path(__file__).resolve().parents[2] / ".localstack" / "localstack.log"


@pytest.fixture
def reserved_workers(stack: Stack) -> Iterator[int]:
    """The worker's reserved concurrency set to `RESERVED` for the test, removed after."""
    client = stack.client("lambda")
    name = stack.outputs["worker_function_name"]
    before = client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=RESERVED)
    try:
        yield RESERVED
    finally:
        if before is None:
            client.delete_function_concurrency(FunctionName=name)
        else:
            client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=before)


def _throttles() -> int:
    """Throttled invocations LocalStack logged so far (none counted when its log is elsewhere)."""
    if not LOCALSTACK_LOG.is_file():
        return 0
    with LOCALSTACK_LOG.open(errors="replace") as log:
        return sum("TooManyRequestsException" in line for line in log)


def test_a_fanned_out_export_finishes_on_two_reserved_workers(
    stack: Stack, fanout_settings: dict[str, float], seconds: float, reserved_workers: int, tmp_path: Path
) -> None:
    # Given a timeline cut into as many chunks as the deployment allows, and two reserved workers
    clip = media._clip_with_tone(tmp_path / "clip.mp4", f"testsrc2=s=320x180:r=25:d={seconds}", 440, seconds)
    keys = presign_and_upload(stack, {"clip.mp4": clip})
    request = _request(
        [{"id": "v", "start": 0, "end": seconds, "effectId": "video", "data": {"src": "clip.mp4"}}], keys
    )
    windows = _windows(request, fanout_settings)
    assert len(windows) == int(fanout_settings["FANOUT_MAX_CHUNKS"])
    throttled_before = _throttles()

    # When it is exported, its progress read every second
    started = time.monotonic()
    job_id = _submit(stack, request)
    progress: list[float] = []
    status: dict[str, Any] = {}
    deadline = started + FINAL_TIMEOUT
    while time.monotonic() < deadline:
        status = stack.request("GET", f"/export/{job_id}").json()
        if status["status"] == "RUNNING":
            progress.append(float(status.get("progress") or 0))
        if status["status"] in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(1)
    elapsed = time.monotonic() - started
    throttled = _throttles() - throttled_before
    TIMINGS[f"{len(windows)} chunks on {reserved_workers} reserved workers"] = (
        f"{elapsed:.1f} s to {status.get('status')}, {throttled} throttled invocations, "
        f"{len(set(progress))} distinct progress values"
    )

    # Then it succeeded, every task rendered on its first claim (a throttle is no attempt)
    assert status["status"] == "SUCCEEDED", status
    job = stack.item(f"job#{job_id}")
    assert job is not None and int(job["attempt"]) == 1 and int(job["joinClaims"]) == 1
    records = stack.task_records(job_id)
    assert len(records) == len(windows)
    assert {name: int(r["claims"]) for name, r in records.items()} == dict.fromkeys(records, 1)
    # and the progress moved on while the tasks waited for each other: never back, many steps
    assert progress == sorted(progress), progress
    assert len({p for p in progress if 0 < p < 1}) >= min(5, len(windows) // 2), progress
