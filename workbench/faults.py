"""Fault injection for the crash tests: a process kills itself with SIGKILL at a named point.

A test sets ``WORKBENCH_FAULT_KILL_AT`` to one point's name in a child process's environment;
the child dies there as a power cut would (no exception handlers, no ``finally``, no flush),
and the test checks that the next attempt, in another process, repairs what was left. Unset,
as in production, :func:`kill_point` costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

KILL_AT_ENV = "WORKBENCH_FAULT_KILL_AT"

# The named points, so a test cannot ask for one that no longer exists.
RELEASE_POINTS = ("release.vintage_written", "release.report_stored", "release.record_written")
SILVER_POINTS = ("silver.typed_kept", "silver.group_written")


def kill_point(name: str) -> None:
    """SIGKILL this process if the fault hook names *name*."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
