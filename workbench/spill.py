"""Temporary folders for spills, one per process, that a killed process does not leave behind.

The embedded engine (sorts, joins and aggregations beyond ``[engine].memory_limit``) and the
linkage's DuckDB (beyond ``[linkage].memory_limit``) spill to disk. A process killed mid-job
cannot remove its spill, which at the bureau's size is tens of gigabytes on the disk the lake
is on. So each folder is named after the process that owns it (``<prefix><pid>-<random>``),
and the next process to make one removes every folder of that prefix whose process is gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psutil


def sweep(prefix: str, base: str | Path) -> list[Path]:
    """Remove the folders of *prefix* under *base* whose owning process no longer runs."""
    removed = []
    for old in Path(base).glob(f"{prefix}*"):
        pid = old.name[len(prefix):].split("-")[0]
        if old.is_dir() and pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def process_folder(prefix: str, base: str | Path | None = None) -> Path:
    """A new folder under *base* (default: the system's temporary folder) named after this
    process, after sweeping the folders dead processes left there. The caller removes it."""
    base = Path(base or tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    sweep(prefix, base)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base))
