"""A burst of concurrent signed presign calls: every one answers 200 and the API's environment
processes stay within the local executor's bound (`LOCAL_LAMBDA_MAX_ENVIRONMENTS`).

While the burst runs, a sampler reads /proc: the API's environment processes are the executor's
`runtime.py` processes whose environment names the API function (its fork server, the zygote, is not
an environment and is left out). The summary prints their peak count, their peak total RSS (and PSS,
which counts pages shared with the zygote once) and presign p50/p95.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.stack import REPO_ROOT, TIMINGS, Stack

BURST = 60
SAMPLE_SECONDS = 0.05
ZYGOTE_MARK = b"LOCAL_LAMBDA_ZYGOTE_FD="
LIMIT_VARIABLE = "LOCAL_LAMBDA_MAX_ENVIRONMENTS"


@dataclass
class Sample:
    processes: int
    rss_kb: int
    pss_kb: int


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _is_runtime(pid: str) -> bool:
    cmdline = _read(Path("/proc", pid, "cmdline"))
    return cmdline is not None and b"runtime.py" in cmdline


def _status_kb(pid: str, field: str) -> int:
    status = _read(Path("/proc", pid, "status")) or b""
    for line in status.decode(errors="replace").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _pss_kb(pid: str) -> int:
    rollup = _read(Path("/proc", pid, "smaps_rollup")) or b""
    for line in rollup.decode(errors="replace").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def environment_pids(function_name: str) -> list[str]:
    """The function's execution-environment processes: `runtime.py` processes whose environment names
    the function, without its zygote (a fork server: zygote mark set, not forked by another runtime)."""
    mark = f"AWS_LAMBDA_FUNCTION_NAME={function_name}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        pid = entry.name
        if not pid.isdigit() or not _is_runtime(pid):
            continue
        environ = (_read(entry / "environ") or b"").split(b"\0")
        if mark not in environ:
            continue
        stat = (_read(entry / "stat") or b"").decode(errors="replace")
        if not stat:
            continue
        ppid = stat.rsplit(")", 1)[1].split()[1]
        is_zygote = any(item.startswith(ZYGOTE_MARK) for item in environ) and not _is_runtime(ppid)
        if not is_zygote:
            found.append(pid)
    return found


def sample(function_name: str) -> Sample:
    pids = environment_pids(function_name)
    return Sample(
        processes=len(pids),
        rss_kb=sum(_status_kb(pid, "VmRSS") for pid in pids),
        pss_kb=sum(_pss_kb(pid) for pid in pids),
    )


def configured_limit() -> int:
    """The bound the running LocalStack applies: its LOCAL_LAMBDA_MAX_ENVIRONMENTS, else the default."""
    pid_file = REPO_ROOT / ".localstack" / "localstack.pid"
    environ = _read(Path("/proc", pid_file.read_text().strip(), "environ")) if pid_file.is_file() else None
    for item in (environ or b"").split(b"\0"):
        name, _, value = item.decode(errors="replace").partition("=")
        if name == LIMIT_VARIABLE and value.strip():
            return int(value)
    from local_lambda_executor.limits import default_max_environments

    return default_max_environments()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def test_burst_of_presign_calls_is_answered_within_the_environment_bound(stack: Stack) -> None:
    function_name = stack.outputs["api_function_name"]
    limit = configured_limit()
    stack.request("GET", "/health", sign=False)  # a warm API (not part of the figures)
    before = sample(function_name)

    samples: list[Sample] = []
    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            samples.append(sample(function_name))
            time.sleep(SAMPLE_SECONDS)

    gate = threading.Barrier(BURST)

    def presign(index: int) -> tuple[int, float, str]:
        body = {"assets": [{"src": f"burst-{index}.mp4", "contentType": "video/mp4", "ext": ".mp4"}]}
        gate.wait()
        started = time.perf_counter()
        response = stack.post_json("/export/presign", body, latency_group=f"burst of {BURST}")
        return response.status_code, time.perf_counter() - started, response.text[:200]

    watcher = threading.Thread(target=sampler, name="burst-sampler", daemon=True)
    watcher.start()
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            results = list(pool.map(presign, range(BURST)))
        wall = time.perf_counter() - started
        time.sleep(1.0)  # environments still starting after the last answer count too
    finally:
        done.set()
        watcher.join()

    latencies = [seconds for _, seconds, _ in results]
    peak = max(samples, key=lambda s: s.processes)
    peak_rss = max(s.rss_kb for s in samples)
    peak_pss = max(s.pss_kb for s in samples)
    figures = (
        f"{BURST} concurrent presign calls in {wall:.1f} s: p50 {statistics.median(latencies):.2f} s, "
        f"p95 {_percentile(latencies, 0.95):.2f} s; API environment processes: {before.processes} before, "
        f"peak {peak.processes} (bound {limit}), peak total RSS {peak_rss / 1024:.0f} MB "
        f"(PSS {peak_pss / 1024:.0f} MB)"
    )
    TIMINGS[f"burst of {BURST} presign calls"] = figures
    print(figures)

    failures = [(status, text) for status, _, text in results if status != 200]
    assert not failures, f"{len(failures)} of {BURST} presign calls failed: {failures[:5]}"
    assert peak.processes <= limit, figures
