"""Requests per second of the data API for a cached release table, on loopback.

    python bench/api.py [--lake ROOT --series S --vintage V] [--seconds 10] [--connections 16]

Starts ``workbench api`` as a subprocess on a free loopback port (the real command, one
uvicorn process), warms the cache with one request, then loads it with an asyncio
HTTP/1.1 keep-alive load generator (``--connections`` concurrent connections, every
response read in full and its status counted). Without ``--lake`` it builds a
temporary lake with a released table shaped like a month of ``area_industry``
(2,900 rows) through the real release path. Prints requests per second and latency
for ``/health`` (the baseline: the framework's floor) and for pages of the release
table, and the ratio of each to the baseline, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def build_lake(root: str) -> tuple[str, int]:
    """A lake with one released vintage of a 2,900-row table (keys, counts, values, statuses)."""
    import numpy as np
    import pandas as pd

    from workbench.auth import User
    from workbench.config import load_settings
    from workbench.engine import get_spark
    from workbench.lake import Lake
    from workbench.runs import registry, review
    from workbench.runs.release import release_run

    rng = np.random.default_rng(7)
    n = 2900
    table = pd.DataFrame({
        "period": "2026-09", "measure": rng.choice(["vat_sales", "si_headcount"], n),
        "county_code": [f"6601{k:02d}" for k in rng.integers(1, 9, n)],
        "township_code": [f"6601{k:05d}" for k in rng.integers(1, 60, n)],
        "industry_section": rng.choice(list("ABCDEFGHIJK"), n),
        "contributors": rng.integers(1, 40, n), "value": rng.gamma(2.0, 1e6, n),
        "conf_status": rng.choice(["F", "C", "D"], n, p=[0.5, 0.4, 0.1])})
    table.loc[table["conf_status"] != "F", "value"] = np.nan

    @registry.method("bench_api_table")
    def _table(inputs, params):
        return {"table": table}

    spark = get_spark(load_settings(environ={}))
    lake = Lake(root, spark=spark)
    lake.write("gold.bench_input", spark.createDataFrame(pd.DataFrame({"x": [1]})))
    stat, boss = User("stat", "s", ("statistician",)), User("super", "s", ("supervisor",))
    run_id = registry.run_method(lake, "bench_api_table", {}, ["gold.bench_input"], user=stat)
    review.submit(lake, run_id, stat)
    review.approve(lake, run_id, boss)
    return "bench_table", release_run(lake, run_id, boss, "bench_table", output="table").vintage


async def _connection(host: str, port: int, path: str, stop: float, latencies: list[float], codes: Counter) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(int(LENGTH.search(head).group(1)))
            latencies.append(time.perf_counter() - t0)
            codes[int(head[9:12])] += 1
    finally:
        writer.close()


def load(host: str, port: int, path: str, seconds: float, connections: int) -> dict:
    latencies: list[float] = []
    codes: Counter = Counter()

    async def main():
        stop = time.perf_counter() + seconds
        await asyncio.gather(*[_connection(host, port, path, stop, latencies, codes) for _ in range(connections)])

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    lat = sorted(latencies)
    return {"path": path, "requests": len(lat), "rps": len(lat) / elapsed, "codes": dict(codes),
            "p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[int(len(lat) * 0.99)]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", help="a lake with releases (default: build a temporary one)")
    parser.add_argument("--series")
    parser.add_argument("--vintage", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    tmp = None
    if args.lake:
        root, series, vintage = args.lake, args.series, args.vintage
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench_api_")
        root = os.path.join(tmp.name, "lake")
        series, vintage = build_lake(root)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "WORKBENCH_LAKE_ROOT": root}
    server = subprocess.Popen([sys.executable, "-m", "workbench.cli", "api", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, cwd=REPO)
    try:
        import httpx

        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the API did not start") from None
                time.sleep(0.1)
        paths = {"page of 100 rows": f"/series/{series}/vintages/{vintage}?page=2&page_size=100",
                 "page of 1000 rows": f"/series/{series}/vintages/{vintage}?page=1&page_size=1000"}
        for path in paths.values():  # warm the cache: the first read goes to the lake
            t0 = time.perf_counter()
            r = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30)
            r.raise_for_status()
            print(f"first (uncached) request {path}: {1000 * (time.perf_counter() - t0):.1f} ms, "
                  f"{len(r.content):,} bytes")
        print(f"load: {args.connections} keep-alive connections, {args.seconds:g} s each, loopback, "
              f"one uvicorn process; {os.cpu_count()} cores shared with the load generator")
        base = load("127.0.0.1", port, "/health", args.seconds, args.connections)
        print(f"baseline /health: {base['rps']:8.0f} req/s  p50 {base['p50_ms']:.1f} ms  p99 {base['p99_ms']:.1f} ms  "
              f"statuses {base['codes']}")
        for label, path in paths.items():
            res = load("127.0.0.1", port, path, args.seconds, args.connections)
            print(f"{label:18s}: {res['rps']:8.0f} req/s  p50 {res['p50_ms']:.1f} ms  p99 {res['p99_ms']:.1f} ms  "
                  f"statuses {res['codes']}  ratio to /health {res['rps'] / base['rps']:.2f}")
    finally:
        server.terminate()
        server.wait(10)
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
