"""One writer at a time: an exclusive lease on a lock file in the lake.

Bronze holds ``bronze.<source>`` while it lands a source; the job runner holds one lease per
table a silver, gold or quality job writes, for the whole job (``workbench.pipeline``).

The lease is an advisory ``flock`` on ``<lake root>/_leases/<name>.lock``. The kernel
grants it to exactly one process even when two start at the same instant, and
releases it the moment its holder exits, however it exits (SIGKILL included), so a
crashed landing never leaves a stale lock for someone to break by hand. The holder
writes who it is (host, pid, run id, since when) into the file, so a process that
cannot get the lease can say whom it is waiting for.

``flock`` needs a file system the landing processes share (a local disk, or NFS
with working locks); a lake on an object store has no such file and is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Iterator

LEASE_FOLDER = "_leases"
WAIT_ENV = "WORKBENCH_LANDING_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 300.0  # a scheduled and a manual run overlapping: the second waits its turn
POLL_SECONDS = 0.2


class LeaseBusy(RuntimeError):
    """Another process holds the lease and did not let go within the wait."""


@dataclass(frozen=True)
class LeaseHolder:
    host: str
    pid: int
    run_id: str
    since: str  # ISO 8601, UTC

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.since})"


def wait_seconds() -> float:
    """How long a landing waits for a busy source: ``WORKBENCH_LANDING_WAIT_SECONDS``, default 300."""
    raw = os.environ.get(WAIT_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_WAIT_SECONDS
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise ValueError(f"{WAIT_ENV}={raw!r}: give a number of seconds") from None


def lease_path(lake_root: str, name: str) -> str:
    if "://" in lake_root:
        raise LeaseBusy(f"{name}: landing needs a lake root on a shared file system for its lease; "
                        f"{lake_root} is an object store")
    return os.path.join(lake_root, LEASE_FOLDER, f"{name}.lock")


def current_holder(path: str) -> LeaseHolder | None:
    """Who holds (or last held) the lease, from the lock file; None if it says nothing yet."""
    try:
        with open(path, encoding="utf-8") as fh:
            return LeaseHolder(**json.loads(fh.read()))
    except (OSError, ValueError, TypeError):
        return None


@contextmanager
def exclusive(lake_root: str, name: str, run_id: str, wait: float | None = None,
              activity: str = "landed") -> Iterator[LeaseHolder]:
    """Hold the lease on *name* for the block; wait up to *wait* seconds (default
    :func:`wait_seconds`) for another holder, then raise :class:`LeaseBusy` naming it and
    what it is doing (*activity*: "landed", "written")."""
    path = lease_path(lake_root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    wait = wait_seconds() if wait is None else wait
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = current_holder(path)
                    who = holder.describe() if holder else "a process that has not yet written its name"
                    raise LeaseBusy(f"{name} is being {activity} by {who}; waited {wait:.0f} s "
                                    f"(set {WAIT_ENV} to wait longer)") from None
                time.sleep(POLL_SECONDS)
        me = LeaseHolder(host=socket.gethostname(), pid=os.getpid(), run_id=run_id,
                         since=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode("utf-8"), 0)
        try:
            yield me
        finally:
            os.ftruncate(fd, 0)  # a waiter must never name a holder that has gone
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
