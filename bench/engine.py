"""Engine benchmark: session start and a 10-million-row write/read/aggregate/join.

Prints seconds per step on the embedded Sail engine (Delta and Parquet) and the
ratio Delta/Parquet measured in the same run. Where Java and the cluster's venv
(``make cluster-deps``) are there, the same steps on Delta also run, in the same run,

* on the local Apache Spark cluster through Spark Connect (``workbench cluster up``:
  master, two 1-core workers), printed as cluster/Sail ratios;
* on classic local Spark (``local[2]``, delta-spark's ``configure_spark_with_delta_pip``)
  in a child process of ``BENCH_CLASSIC_PYTHON`` (default: the cluster venv's Python),
  printed as classic/Sail ratios.

A benchmark, not a test: run ``python bench/engine.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROWS = int(os.environ.get("BENCH_ROWS", 10_000_000))

STEPS = r'''
import json, sys, time
def run(spark, fmt, path, rows):
    out = {}
    t = time.perf_counter()
    df = spark.range(rows).selectExpr("id", "id % 1000 AS key", "(id * 7919) % 100003 / 100.0 AS value")
    df.write.format(fmt).mode("overwrite").save(path + "/fact")
    spark.range(1000).selectExpr("id AS key", "concat('k', id) AS label").write.format(fmt).mode("overwrite").save(path + "/dim")
    out["write"] = time.perf_counter() - t
    t = time.perf_counter()
    n = spark.read.format(fmt).load(path + "/fact").count()
    assert n == rows, n
    out["read"] = time.perf_counter() - t
    t = time.perf_counter()
    agg = spark.read.format(fmt).load(path + "/fact").groupBy("key").agg({"value": "sum"}).collect()
    assert len(agg) == 1000
    out["aggregate"] = time.perf_counter() - t
    t = time.perf_counter()
    fact = spark.read.format(fmt).load(path + "/fact")
    dim = spark.read.format(fmt).load(path + "/dim")
    joined = fact.join(dim, "key").groupBy("label").count().collect()
    assert sum(r["count"] for r in joined) == rows
    out["join"] = time.perf_counter() - t
    out["total"] = sum(out.values())
    return out
'''


def sail(tmp: str) -> dict[str, dict[str, float]]:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from workbench.config import load_settings
    from workbench.engine import get_spark

    namespace: dict = {}
    exec(STEPS, namespace)
    t = time.perf_counter()
    spark = get_spark(load_settings(environ={}))
    start = time.perf_counter() - t
    results = {fmt: namespace["run"](spark, fmt, os.path.join(tmp, "sail_" + fmt), ROWS) for fmt in ("delta", "parquet")}
    results["start"] = {"total": start}
    return results


REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CLUSTER_PYTHON = os.path.join(REPO, ".venv-cluster", "bin", "python")


def classic_env() -> dict[str, str]:
    """The environment for a classic-Spark child: this process's, less the Spark Connect
    client's settings. pyspark-client sets SPARK_CONNECT_MODE_ENABLED when imported; a
    child that inherits it takes full pyspark for a Connect client and stops with
    CONNECT_URL_NOT_SET."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}


def classic(tmp: str, rows: int = ROWS) -> dict[str, float] | None:
    python = os.environ.get("BENCH_CLASSIC_PYTHON") or (CLUSTER_PYTHON if os.path.exists(CLUSTER_PYTHON) else None)
    if not python or not shutil.which("java"):
        return None
    script = STEPS + r'''
t = time.perf_counter()
from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession
builder = (SparkSession.builder.master("local[2]").config("spark.sql.session.timeZone", "UTC")
           .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
           .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
           .config("spark.jars.ivy", sys.argv[3]).config("spark.ui.enabled", "false"))
spark = configure_spark_with_delta_pip(builder).getOrCreate()
start = time.perf_counter() - t
res = run(spark, "delta", sys.argv[1], int(sys.argv[2]))
res["start"] = start
print(json.dumps(res))
'''
    path = os.path.join(tmp, "classic.py")
    with open(path, "w") as fh:
        fh.write(script)
    sys.path.insert(0, REPO)
    from workbench.cluster import Cluster

    out = subprocess.run([python, path, os.path.join(tmp, "classic"), str(rows), str(Cluster().ivy_dir)],
                         capture_output=True, text=True, env=classic_env())
    if out.returncode != 0:
        print("classic Spark failed:", out.stderr[-500:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def cluster(tmp: str) -> dict[str, float] | None:
    """The Delta steps on the local Spark cluster (started for the run, stopped after it)."""
    sys.path.insert(0, REPO)
    from workbench.cluster import Cluster, unavailable
    from workbench.engine import _connect

    if unavailable():
        return None
    namespace: dict = {}
    exec(STEPS, namespace)
    running = Cluster(os.path.join(tmp, "cluster"))
    t = time.perf_counter()
    try:
        state = running.up()
        spark = _connect(state.url, remote=True)
        start = time.perf_counter() - t
        res = namespace["run"](spark, "delta", os.path.join(tmp, "cluster_delta"), ROWS)
        res["start"] = start
        spark.stop()
        return res
    finally:
        running.down()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        res = sail(tmp)
        print(f"rows: {ROWS:,}")
        print(f"sail session start: {res['start']['total']:.2f} s")
        print(f"{'step':<10} {'sail delta':>11} {'sail parquet':>13} {'delta/parquet':>14}")
        for step in ("write", "read", "aggregate", "join", "total"):
            d, p = res["delta"][step], res["parquet"][step]
            print(f"{step:<10} {d:>10.2f}s {p:>12.2f}s {d / p:>14.2f}")
        for label, other in (("cluster", cluster(tmp)), ("classic", classic(tmp))):
            if other is None:
                print(f"{label} Spark: not run (needs java and `make cluster-deps`)")
                continue
            print(f"{label} Spark start {other['start']:.2f} s; {label}/sail start "
                  f"{other['start'] / res['start']['total']:.1f}")
            for step in ("write", "read", "aggregate", "join", "total"):
                print(f"{step:<10} {label} delta {other[step]:>8.2f}s  {label}/sail-delta "
                      f"{other[step] / res['delta'][step]:.2f}")


if __name__ == "__main__":
    main()
