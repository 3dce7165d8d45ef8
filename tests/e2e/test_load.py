"""Twenty exports started at once all succeed; latency and per-job time are printed in the summary.

Their latencies are reported apart from the sequential calls: on a small host twenty API
environments cold-starting at once dominate them, which says nothing about a warm call.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.stack import TIMINGS, Stack

CONCURRENT_EXPORTS = 20
LOAD = f"{CONCURRENT_EXPORTS} at once"


def test_twenty_concurrent_exports_all_succeed(stack: Stack, uploaded: dict[str, str]) -> None:
    def one_export(index: int) -> tuple[str, float]:
        request = {
            "timeline": {
                "editorData": [
                    {"id": "title", "actions": [{"id": "t", "start": 0, "end": 1, "effectId": "text",
                                                 "data": {"text": f"job {index}", "fontSize": 14}}]},
                    {"id": "clip", "actions": [{"id": "v", "start": 0, "end": 1, "effectId": "video",
                                                "data": {"src": "blue.mp4", "trimStart": index * 0.05}}]},
                ]
            },
            "assets": [{"src": "blue.mp4", "s3Key": uploaded["blue.mp4"]}],
            "output": {"width": 160, "height": 90, "fps": 10},
        }  # fmt: skip
        started = time.perf_counter()
        response = stack.post_json("/export", request, latency_group=LOAD)
        assert response.status_code == 202, response.text
        final, _ = stack.wait_for_final(response.json()["jobId"], timeout=600, latency_group=LOAD)
        assert final["status"] == "SUCCEEDED", final
        return final["jobId"], time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENT_EXPORTS) as pool:
        results = list(pool.map(one_export, range(CONCURRENT_EXPORTS)))
    durations = [seconds for _, seconds in results]
    wall = time.perf_counter() - started
    TIMINGS[f"{CONCURRENT_EXPORTS} concurrent exports, wall time"] = f"{wall:.1f} s"
    TIMINGS["  per job, accepted → SUCCEEDED"] = (
        f"p50 {statistics.median(durations):.1f} s, max {max(durations):.1f} s"
    )
    assert len({job_id for job_id, _ in results}) == CONCURRENT_EXPORTS, "each request is its own job"
