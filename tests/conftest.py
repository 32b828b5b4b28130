"""Shared fixtures.

One engine for the whole session (STYLE.md): starting Sail costs about a second
and every test would otherwise pay it; tests isolate themselves with their own
temporary lake root instead of their own engine.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Tests never touch the developer's lake or settings: every setting comes from
# the committed conf/ plus these overrides.
os.environ.pop("WORKBENCH_CONF", None)
os.environ.setdefault("RUST_LOG", "error")


@pytest.fixture(scope="session")
def spark():
    """The embedded Sail engine, started once; UTC session time zone set by the factory."""
    from workbench.config import load_settings
    from workbench.engine import get_spark

    settings = load_settings(environ={})
    assert settings.engine.embedded, "the test suite runs on the embedded engine"
    return get_spark(settings)


@pytest.fixture()
def lake(spark, tmp_path):
    """An empty lake in a temporary folder, on the shared engine."""
    from workbench.lake import Lake

    return Lake(str(tmp_path / "lake"), spark=spark)
