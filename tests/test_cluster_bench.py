"""bench/engine.py's classic-Spark child, run for real with a Spark Connect session open here."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

# the first test here may start the cluster (and build the demo lakes): minutes, not seconds
pytestmark = pytest.mark.timeout(2400)

BENCH = Path(__file__).resolve().parent.parent / "bench" / "engine.py"


def test_classic_spark_child_starts_beside_a_connect_session(spark, cluster, tmp_path):
    """A Connect session sets SPARK_CONNECT_MODE_ENABLED in this process; a child that
    inherited it stopped with CONNECT_URL_NOT_SET. Now it starts local[2] with delta-spark."""
    assert os.environ.get("SPARK_CONNECT_MODE_ENABLED") == "1"
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.classic(str(tmp_path), rows=10_000)
    assert result is not None, "the classic child failed (its stderr is printed above)"
    assert result["start"] > 0 and result["total"] > 0
