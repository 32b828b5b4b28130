"""Engine benchmark: session start and a 10-million-row write/read/aggregate/join.

Prints seconds per step on the embedded Sail engine (Delta and Parquet) and the
ratio Delta/Parquet measured in the same run. When BENCH_CLASSIC_PYTHON names a
Python with full ``pyspark`` and Java is on PATH, the same steps run on classic
local Spark (Parquet only: Delta jars cannot be fetched offline) and the ratio
classic/Sail is printed. A benchmark, not a test: run ``python bench/engine.py``.
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


def classic(tmp: str) -> dict[str, float] | None:
    python = os.environ.get("BENCH_CLASSIC_PYTHON")
    if not python or not shutil.which("java"):
        return None
    script = STEPS + r'''
t = time.perf_counter()
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[2]").config("spark.sql.session.timeZone", "UTC").getOrCreate()
start = time.perf_counter() - t
res = run(spark, "parquet", sys.argv[1], int(sys.argv[2]))
res["start"] = start
print(json.dumps(res))
'''
    path = os.path.join(tmp, "classic.py")
    with open(path, "w") as fh:
        fh.write(script)
    out = subprocess.run([python, path, os.path.join(tmp, "classic"), str(ROWS)], capture_output=True, text=True)
    if out.returncode != 0:
        print("classic Spark failed:", out.stderr[-500:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        res = sail(tmp)
        print(f"rows: {ROWS:,}")
        print(f"sail session start: {res['start']['total']:.2f} s")
        print(f"{'step':<10} {'sail delta':>11} {'sail parquet':>13} {'delta/parquet':>14}")
        for step in ("write", "read", "aggregate", "join", "total"):
            d, p = res["delta"][step], res["parquet"][step]
            print(f"{step:<10} {d:>10.2f}s {p:>12.2f}s {d / p:>14.2f}")
        cl = classic(tmp)
        if cl is None:
            print("classic local Spark: not run (set BENCH_CLASSIC_PYTHON to a Python with full pyspark, and have java)")
        else:
            print(f"classic start {cl['start']:.2f} s; ratio classic/sail start {cl['start'] / res['start']['total']:.1f}")
            for step in ("write", "read", "aggregate", "join", "total"):
                print(f"{step:<10} classic parquet {cl[step]:.2f}s  classic/sail-parquet {cl[step] / res['parquet'][step]:.2f}")


if __name__ == "__main__":
    main()
