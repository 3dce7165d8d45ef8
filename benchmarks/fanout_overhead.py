"""Orchestration overhead of a fanned-out export on the local stack: queue-to-start latency per task.

The split stamps each task message with the time it sent it (``sentAt``); a task's first claim stores that
and its own start (``queuedAt``, ``startedAt`` on the task's lease item). This sends one small export
just over the deployed fan-out threshold through the real API and reads the stamps back. It needs the
stack of ``make dev-up`` (for another port, ``LOCALSTACK_PORT``); without it the figure is omitted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

FPS = 10
CLIP = "overhead.mp4"


def measure_queue_latency(*, timeout: float = 600) -> tuple[list[float] | None, str]:
    """Seconds from the split's send to each task's start, sorted; or None and the reason it is omitted."""
    try:
        from tests.e2e.conftest import presign_and_upload  # noqa: PLC0415 -- only with the test tree
        from tests.e2e.stack import Stack  # noqa: PLC0415
        from tests.video_frames import lavfi_clip  # noqa: PLC0415

        stack = Stack.discover()
    except Exception as error:  # no stack deployed, no test tree: the bench prints the reason
        return None, f"the local stack is not reachable ({type(error).__name__}: {str(error)[:120]})"
    worker = stack.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["worker_function_name"]
    )
    threshold = float(worker["Environment"]["Variables"]["FANOUT_THRESHOLD_SECONDS"])
    seconds = threshold + 2
    with tempfile.TemporaryDirectory() as tmp:
        clip = lavfi_clip(Path(tmp) / CLIP, f"testsrc=s=160x90:r={FPS}:d={seconds}", seconds=seconds)
        keys = presign_and_upload(stack, {CLIP: clip})
    request = {
        "timeline": {"editorData": [{"id": "main", "actions": [
            {"id": "v", "start": 0, "end": seconds, "effectId": "video", "data": {"src": CLIP}}]}]},
        "assets": [{"src": CLIP, "s3Key": keys[CLIP]}],
        "output": {"width": 160, "height": 90, "fps": FPS},
    }  # fmt: skip
    response = stack.post_json("/export", request)
    if response.status_code != 202:
        return None, f"the export was refused: {response.status_code} {response.text[:200]}"
    job_id = response.json()["jobId"]
    final, _ = stack.wait_for_final(job_id, timeout=timeout)
    if final["status"] != "SUCCEEDED":
        return None, f"the export ended {final['status']}: {final.get('error')}"
    latencies = stack.queue_to_start_seconds(job_id)
    if not latencies:
        return None, "the export did not fan out (is the deployed stack older than the fan-out?)"
    return latencies, ""


if __name__ == "__main__":
    values, reason = measure_queue_latency()
    if values is None:
        print(f"queue-to-start latency: omitted: {reason}")
    else:
        print(
            f"queue-to-start latency per task ({len(values)} tasks): "
            + ", ".join(f"{v:.2f} s" for v in values)
        )
