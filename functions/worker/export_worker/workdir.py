"""Per-job scratch directories in the Lambda's ephemeral storage, never left behind.

``/tmp`` survives between invocations of one sandbox, also after a timeout killed the previous
invocation before its ``finally`` ran; so each new job also sweeps directories of dead attempts.
Names carry the owning process id because the local executor runs several processes on one ``/tmp``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = "export-worker-"
_active: set[Path] = set()


def _owner_pid(path: Path) -> int | None:
    parts = path.name[len(PREFIX) :].split("-", 1)
    return int(parts[0]) if parts and parts[0].isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(root: Path) -> list[Path]:
    """Removes work dirs whose owner died (another pid not running, or this pid but not active)."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    me = os.getpid()
    for path in root.glob(PREFIX + "*"):
        pid = _owner_pid(path)
        if pid is None or not path.is_dir():
            continue
        stale = path not in _active if pid == me else not _alive(pid)
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        logger.warning("removed stale work dirs", extra={"count": len(removed)})
    return removed


@contextmanager
def job_work_dir(root: Path | None = None) -> Iterator[Path]:
    """A fresh private directory for one job, removed on every path out."""
    base = root or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    sweep_stale(base)
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base))
    _active.add(path)
    try:
        yield path
    finally:
        _active.discard(path)
        shutil.rmtree(path, ignore_errors=True)
