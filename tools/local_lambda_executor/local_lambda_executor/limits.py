"""`LOCAL_LAMBDA_MAX_ENVIRONMENTS`: the most environment processes one function version runs at once.

Standard library only (the end-to-end tests read the default from here too).
"""

from __future__ import annotations

import os

MAX_ENVIRONMENTS_VARIABLE = "LOCAL_LAMBDA_MAX_ENVIRONMENTS"
PROCESSES_PER_CORE = 2
MIN_ENVIRONMENTS = 2
MAX_DEFAULT_ENVIRONMENTS = 16


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_max_environments() -> int:
    """Two processes per usable core, at least 2 and at most 16: 4 on a 2-core machine.

    An environment is CPU-bound Python between short waits on LocalStack (which runs on the same
    cores): two per core keep every core busy while one of them waits, and more only add memory
    (~50 MB each) and context switches to a queue that drains no faster."""
    return max(MIN_ENVIRONMENTS, min(MAX_DEFAULT_ENVIRONMENTS, PROCESSES_PER_CORE * usable_cores()))


def max_environments(environ: dict[str, str] | None = None) -> int:
    """The setting (a positive integer) or, unset or empty, `default_max_environments()`."""
    raw = (os.environ if environ is None else environ).get(MAX_ENVIRONMENTS_VARIABLE, "").strip()
    if not raw:
        return default_max_environments()
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{MAX_ENVIRONMENTS_VARIABLE} must be a positive integer, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"{MAX_ENVIRONMENTS_VARIABLE} must be a positive integer, not {raw!r}")
    return value
