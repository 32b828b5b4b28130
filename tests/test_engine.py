import time

import pytest

from workbench.config import load_settings
from workbench.engine import SESSION_CONF, EngineError, _connect, free_port, get_spark


def test_embedded_engine_answers_queries(spark):
    assert spark.range(10).selectExpr("sum(id) AS s").collect()[0]["s"] == 45


def test_factory_returns_one_session_per_process(spark):
    assert get_spark(load_settings(environ={})) is spark


def test_session_runs_in_utc(spark):
    for key, value in SESSION_CONF.items():
        assert spark.conf.get(key) == value
    row = spark.sql("SELECT CAST(TIMESTAMP '2024-01-01 00:00:00' AS BIGINT) AS s").collect()[0]
    assert row["s"] == 1704067200


def test_unreachable_remote_names_address_and_fix():
    url = f"sc://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(EngineError) as err:
        _connect(url, remote=True)
    assert url in str(err.value)
    assert "WORKBENCH_ENGINE_REMOTE" in str(err.value)
    assert time.monotonic() - started < 120


def test_dropped_session_is_replaced(tmp_path):
    """Sail drops idle sessions; the factory must notice and reconnect.

    Runs in a child process so the suite's shared session stays untouched.
    """
    import subprocess
    import sys

    script = """
from workbench import engine
from workbench.config import load_settings
s = load_settings(environ={"WORKBENCH_ENGINE_IDLE_CHECK_SECONDS": "0"})
first = engine.get_spark(s)
first.stop()                      # what the server's idle timeout does to us
second = engine.get_spark(s)
assert second is not first
print(second.range(3).count())
"""
    # A file, not "python -c": pyspark's Connect import takes a __file__-less main for doctests.
    path = tmp_path / "reconnect.py"
    path.write_text(script, encoding="utf-8")
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "3"


def test_the_engine_starts_from_python_dash_c(tmp_path):
    """pyspark's Connect client exits a process whose __main__ has no file (``python -c``, pytest-xdist
    workers) looking for SPARK_HOME; the engine imports it so that such a process gets a session."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "WORKBENCH_"))},
           "PYTHONPATH": str(repo), "RUST_LOG": "error", "WORKBENCH_LAKE_ROOT": str(tmp_path / "lake")}
    code = ("from workbench.config import load_settings\nfrom workbench.lake import Lake\n"
            "print(Lake.from_settings(load_settings()).spark.range(3).count())")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "3", done.stderr[-2000:]
