"""Which code produced a run: the git commit and whether the tree was dirty."""

from __future__ import annotations

import subprocess
from importlib import metadata

from workbench.config import REPO_ROOT


def code_version() -> dict[str, object]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                                    capture_output=True, text=True, timeout=10, check=True).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    try:
        version = metadata.version("statistics-workbench")
    except metadata.PackageNotFoundError:
        version = ""
    return {"code_commit": commit, "code_dirty": dirty, "package_version": version}
