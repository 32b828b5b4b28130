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


def _udf_doubles(frame):
    """A UDF defined in a test module: the engine's process must import it as this one does."""
    frame["v"] = frame["v"] * 2
    return frame


def test_the_embedded_engine_is_its_own_process_with_the_configured_memory(spark):
    import os

    from workbench import engine

    server = engine._state.server
    assert server is not None and server.running and server.pid != os.getpid()
    environ = dict(item.split("=", 1) for item in
                   open(f"/proc/{server.pid}/environ", "rb").read().decode().split("\0") if "=" in item)
    assert environ["SAIL_RUNTIME__MEMORY_POOL__TYPE"] == "fair"
    limit = engine.engine_memory_limit(load_settings())
    assert int(environ["SAIL_RUNTIME__MEMORY_POOL__FAIR__MAX_SIZE"]) == limit
    # "auto" is a quarter of the machine's memory (or its cgroup's)
    assert limit == max(engine.machine_memory() // 4, 256 * 2**20)
    frame = spark.createDataFrame([(1, 1.0), (1, 2.0), (2, 3.0)], "g long, v double")
    doubled = frame.groupBy("g").applyInPandas(_udf_doubles, "g long, v double").orderBy("v").collect()
    assert [r["v"] for r in doubled] == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("text, size", [("auto", None), ("6GiB", 6 * 2**30), ("512MiB", 512 * 2**20),
                                        ("2GB", 2 * 10**9), ("1.5GiB", int(1.5 * 2**30))])
def test_memory_limits_are_read_as_sizes(text, size):
    from workbench.config import parse_memory_size

    assert parse_memory_size(text) == size
    assert engine_limit_of(text) == (size or None)


def engine_limit_of(text: str) -> int | None:
    from workbench.engine import engine_memory_limit

    limit = engine_memory_limit(load_settings(environ={"WORKBENCH_ENGINE_MEMORY_LIMIT": text}))
    return None if text == "auto" else limit


@pytest.mark.parametrize("text", ["lots", "6 gigs", "12MiB", "-1GiB"])
def test_a_wrong_memory_limit_is_refused_naming_the_setting(text):
    from workbench.config import SettingsError

    for section in ("engine", "linkage"):  # the engine's pool and the linkage's DuckDB
        variable = f"WORKBENCH_{section.upper()}_MEMORY_LIMIT"
        with pytest.raises(SettingsError) as refused:
            load_settings(environ={variable: text})
        assert f"[{section}].memory_limit" in str(refused.value)
        assert variable in str(refused.value)


def test_work_beyond_the_memory_limit_is_refused_with_the_setting_to_change(spark):  # spark: the Connect client imported
    """A join whose build side cannot spill, on an engine of 64 MiB: the engine refuses, and the
    runner's message says which setting lets it through, in both languages."""
    from pyspark.sql import SparkSession

    from workbench.engine import SailProcess, out_of_engine_memory
    from workbench.pipeline import JobMessage

    small = SailProcess(memory_limit=64 * 2**20).start()
    try:
        session = SparkSession.builder.remote(small.url).create()
        left = session.range(20_000_000).selectExpr("id AS k", "repeat('x', 50) AS pad")
        right = session.range(20_000_000).selectExpr("id AS k", "repeat('y', 50) AS pad2")
        with pytest.raises(Exception) as refused:
            left.join(right, "k").selectExpr("count(*)").collect()
        assert out_of_engine_memory(refused.value), str(refused.value)[:500]
        from workbench.pipeline import failure_message

        assert failure_message(refused.value, load_settings()).key == "jobmsg.engine_memory"
        assert not out_of_engine_memory(ValueError("column vat_sales not found"))
        said = JobMessage.of("jobmsg.engine_memory", limit="0.1 GiB")
        for lang in ("zh", "en"):
            assert "[engine].memory_limit" in said.text(lang) and "WORKBENCH_ENGINE_MEMORY_LIMIT" in said.text(lang)
            assert "0.1 GiB" in said.text(lang)
        session.stop()
    finally:
        small.stop()
    assert not small.running


def test_spills_go_to_the_configured_folder_and_past_their_limit_the_job_names_the_setting(tmp_path, spark):
    """A partitioned write the engine sorts beyond 256 MiB of memory spills into a folder of this
    process under [engine].spill_directory; past [engine].spill_limit it stops, and the runner's
    message names the limit, the folder and the setting, in both languages. A folder a killed
    workbench left there is removed when the next engine starts; its own goes when it stops."""
    import os
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    from pyspark.sql import SparkSession

    from workbench.engine import SPILL_PREFIX, embedded_server, engine_spill_limit, out_of_engine_spill
    from workbench.pipeline import failure_message

    spills = tmp_path / "spills"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = spills / f"{SPILL_PREFIX}{gone.stdout.strip()}-left"
    dead.mkdir(parents=True)
    (dead / "sort.arrow").write_bytes(b"x" * 4096)
    environ = {"WORKBENCH_ENGINE_MEMORY_LIMIT": "256MiB", "WORKBENCH_ENGINE_SPILL_DIRECTORY": str(spills),
               "WORKBENCH_ENGINE_SPILL_LIMIT": "1GiB"}
    settings = load_settings(environ=environ)
    assert engine_spill_limit(settings, str(spills)) == 2**30
    server = embedded_server(settings).start()
    seen = []
    try:
        assert not dead.exists()
        own = Path(server.spill_folder)
        assert own.parent == spills and own.name.startswith(f"{SPILL_PREFIX}{os.getpid()}-")
        session = SparkSession.builder.remote(server.url).create()
        rows = session.range(4_000_000).selectExpr("CAST(id % 100 AS INT) AS period",
                                                   "sha2(CAST(id AS STRING), 256) AS pad")
        done = threading.Event()

        def watch():
            while not done.is_set():
                seen.append(sum(f.stat().st_size for f in own.rglob("*") if f.is_file()))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            rows.write.format("delta").partitionBy("period").save(str(tmp_path / "wide"))
        finally:
            done.set()
            watcher.join()
        assert max(seen) > 32 * 2**20, "the write did not spill into the configured folder"
        session.stop()
    finally:
        server.stop()
    assert not own.exists()

    small = load_settings(environ={**environ, "WORKBENCH_ENGINE_SPILL_LIMIT": "64MiB"})
    server = embedded_server(small).start()
    try:
        session = SparkSession.builder.remote(server.url).create()
        rows = session.range(4_000_000).selectExpr("CAST(id % 100 AS INT) AS period",
                                                   "sha2(CAST(id AS STRING), 256) AS pad")
        with pytest.raises(Exception) as refused:
            rows.write.format("delta").partitionBy("period").save(str(tmp_path / "refused"))
        assert out_of_engine_spill(refused.value), str(refused.value)[:500]
        said = failure_message(refused.value, small)
        assert said.key == "jobmsg.engine_spill"
        for lang in ("zh", "en"):
            text = said.text(lang)
            assert "[engine].spill_limit" in text and "WORKBENCH_ENGINE_SPILL_LIMIT" in text
            assert "64 MiB" in text and str(spills) in text
        assert not out_of_engine_spill(ValueError("column vat_sales not found"))
        session.stop()
    finally:
        server.stop()


def test_the_engine_stops_when_its_workbench_process_is_killed(tmp_path):
    """SIGKILL gives a process no chance to stop its children: the engine must go by itself,
    or every killed job would leave an engine holding memory and a port. It is first asked
    for from a thread that ends at once, which must not stop it either."""
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "hold.py"
    script.write_text(
        "import threading, time\nfrom workbench import engine\n"
        "t = threading.Thread(target=engine.get_spark); t.start(); t.join(); time.sleep(1)\n"
        "assert engine.get_spark().range(3).count() == 3\n"
        "print(engine._state.server.pid, flush=True)\ntime.sleep(120)\n", encoding="utf-8")
    holder = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(holder.stdout.readline())
        os.kill(child, 0)  # alive while its parent is
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the engine (pid {child}) outlived the process that started it")
    finally:
        holder.kill()
