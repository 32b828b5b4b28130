"""Faults on the real Spark cluster: a mismatched client, a worker killed mid-job, a stopped server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workbench.cluster import CLUSTER_VENV, SPARK_VERSION
from workbench.engine import EngineError, _connect, check_versions
from workbench.lake import Lake

# the first test here may start the cluster (and build the demo lakes): minutes, not seconds
pytestmark = pytest.mark.timeout(2400)

REPO = Path(__file__).resolve().parent.parent
OLD_CLIENT = CLUSTER_VENV / "client-4.1"   # pyspark-client 4.1.3, installed by `make cluster-deps`


def test_version_check_names_both_versions_and_where_to_fix():
    with pytest.raises(EngineError) as err:
        check_versions("4.2.0", "4.0.1", "sc://spark.bureau.local:15002")
    text = str(err.value)
    for part in ("4.2.0", "4.0.1", "sc://spark.bureau.local:15002", "requirements.txt", "requirements-cluster.txt"):
        assert part in text
    check_versions("4.2.0", "4.2.1", "sc://x:1")  # same feature version: accepted


def test_an_older_client_against_the_cluster_is_refused_naming_both_versions(cluster, tmp_path):
    """A real pyspark-client 4.1.3 (on the path before the venv's 4.2.0) against the Spark 4.2 server."""
    if not (OLD_CLIENT / "pyspark").is_dir():
        pytest.fail(f"{OLD_CLIENT} missing: `make cluster-deps` installs pyspark-client 4.1.3 there")
    script = tmp_path / "old_client.py"
    script.write_text(
        "import sys, pyspark\n"
        "from workbench.engine import EngineError, _connect\n"
        "print('client', pyspark.__version__)\n"
        "try:\n"
        f"    _connect({cluster.state().url!r}, remote=True)\n"
        "except EngineError as exc:\n"
        "    print('refused:', exc)\n"
        "    sys.exit(0)\n"
        "sys.exit('connected although the versions differ')\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": f"{OLD_CLIENT}{os.pathsep}{REPO}"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "client 4.1.3" in out.stdout
    refused = out.stdout.split("refused:", 1)[1]
    assert "pyspark-client 4.1.3" in refused and f"Spark {SPARK_VERSION}" in refused
    assert "requirements.txt" in refused


def test_a_worker_killed_mid_job_leaves_the_table_whole_and_a_rerun_reconciles(cluster, cluster_spark, tmp_path):
    """SIGKILL one worker (its JVM and its executor) while a write runs on both.

    Spark reschedules the lost tasks on the other worker, so the write completes; if it had
    failed instead, Delta's commit is atomic and the table would keep its previous version.
    Either way the table holds exactly one full copy of the rows, and a re-run reconciles.
    """
    lake = Lake(str(tmp_path / "lake"), spark=cluster_spark)
    rows = 3_000_000
    data = cluster_spark.range(0, rows, numPartitions=8).selectExpr(
        "id", "sha2(cast(id AS string), 256) AS h", "id % 97 AS g")
    before_write = lake.write("silver.fault", data.limit(10))
    outcome: dict[str, object] = {}

    def write():
        try:
            outcome["version"] = lake.write("silver.fault", data, mode="overwrite")
        except Exception as exc:  # a clean failure is an allowed outcome
            outcome["error"] = exc

    before = _tasks_started(cluster, "worker1")
    writer = threading.Thread(target=write)
    writer.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and _tasks_started(cluster, "worker1") <= before:
        time.sleep(0.2)
    assert _tasks_started(cluster, "worker1") > before, "worker1's executor never started a task of the write"
    killed = cluster.kill_worker("worker1", signal.SIGKILL)
    writer.join(timeout=900)
    assert not writer.is_alive(), "the write neither finished nor failed after a worker was killed"
    try:
        assert not cluster.running()["worker1"], f"worker1 (pid {killed}) was killed"
        version = lake.version("silver.fault")
        count = lake.read("silver.fault").count()
        if "error" in outcome:
            print(f"\nthe write failed cleanly: {str(outcome['error']).splitlines()[0]}")
            assert version == before_write and count == 10, "a failed write left nothing behind"
        else:
            assert outcome["version"] == before_write + 1 == version
            assert count == rows
        # re-run on the surviving worker: same result, one more version, no duplicate rows
        assert lake.write("silver.fault", data, mode="overwrite") == version + 1
        check = lake.read("silver.fault").selectExpr("count(*) AS n", "count(DISTINCT id) AS d").collect()[0]
        assert (check["n"], check["d"]) == (rows, rows)
    finally:
        cluster.restart_worker("worker1")


def _tasks_started(cluster, worker: str) -> int:
    """Tasks the worker's executors have started, from their logs ("Running task ..." lines)."""
    return sum(p.read_text(errors="replace").count("Running task")
               for p in (cluster.state_dir / "work" / worker).glob("app-*/*/stderr"))


def test_a_stopped_server_gives_a_clear_error(tmp_path):
    from workbench.engine import free_port

    url = f"sc://127.0.0.1:{free_port()}"
    with pytest.raises(EngineError, match="workbench cluster up"):
        _connect(url, remote=True)


def test_cluster_commands_without_a_cluster(tmp_path, capsys):
    from workbench.cli import main

    assert main(["cluster", "status", "--state-dir", str(tmp_path)]) == 1
    assert "no cluster recorded" in capsys.readouterr().out
    assert main(["cluster", "down", "--state-dir", str(tmp_path)]) == 0
    assert "nothing was running" in capsys.readouterr().out


def test_cluster_cli_status_lists_the_running_processes(cluster, capsys):
    from workbench.cli import main

    assert main(["cluster", "status", "--state-dir", str(cluster.state_dir)]) == 0
    out = capsys.readouterr().out
    for name in ("master", "worker1", "worker2", "connect"):
        assert name in out
    assert "workers alive at the master: 2" in out
