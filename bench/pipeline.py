"""Pipeline benchmark: rows per second per job on a freshly generated demo.

Usage: python bench/pipeline.py [small|medium|large] [DEMO_DIR] [--no-cluster] [--no-new-month]   (default small)

With DEMO_DIR (an already generated demo of that scale) generation is skipped.

Generates the demo into a temporary folder, builds a fresh lake with
`run_jobs("all")`, and prints each job's rows/second. The baseline, measured in
the same run, is hashing every delivered byte once (the least any loader must
do); the bronze total is printed as a ratio to it. A second run of all jobs
shows the cost of an idempotent re-run. Then a new month: a lake built from every month but
the last (`workbench demo subset`) takes the last month's deliveries, and the time is printed
as a ratio to the full build (target: 1/20 at medium), with every silver and gold table
compared (content, lineage columns left out) with a rebuild of every month that keeps the lake's
trained linkage models, and with the fresh full build. Where Java and the cluster's venv are there
(`make cluster-deps`), every job then runs again on the local Apache Spark cluster
(`workbench cluster up`: master, two 1-core workers, Spark Connect) into a second lake,
and each job's seconds are printed beside Sail's as a cluster/Sail ratio.
A benchmark, not a test.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


class PeakMemory:
    """Peak resident memory, sampled every 0.2 s on a thread: of this process and every process
    it started together (what the machine must have), of this process alone (readers, pandas,
    models) and of its children (the engine), and of the whole tree per job (``job`` is set by
    the runner's progress callback)."""

    def __init__(self) -> None:
        import threading

        self.peak = 0
        self.own = 0
        self.children = 0
        self.job = ""
        self.per_job: dict[str, int] = {}
        self.per_job_own: dict[str, int] = {}  # this process alone: what a job holds in pandas
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def progress(self, job: str, fraction: float, message: str) -> None:
        self.job = job

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            own = me.memory_info().rss
            children = 0
            for process in me.children(recursive=True):
                try:
                    children += process.memory_info().rss
                except psutil.Error:  # a child that ended between listing and reading
                    pass
            self.own, self.children = max(self.own, own), max(self.children, children)
            self.peak = max(self.peak, own + children)
            if self.job:
                self.per_job[self.job] = max(self.per_job.get(self.job, 0), own + children)
                self.per_job_own[self.job] = max(self.per_job_own.get(self.job, 0), own)
            self._stop.wait(0.2)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        return (f"peak RSS of the process tree {self.peak / 2**30:.2f} GiB (the workbench's process "
                f"{self.own / 2**30:.2f} GiB, the engine's {self.children / 2**30:.2f} GiB, each at its own peak)")


def main() -> None:
    args = [a for a in sys.argv[1:] if a not in ("--no-cluster", "--no-new-month")]
    scale = args[0] if args else "small"
    existing = args[1] if len(args) > 1 else None
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_DEMO_OUT"] = existing or os.path.join(tmp, "demo")
        os.environ["WORKBENCH_LAKE_ROOT"] = os.path.join(tmp, "lake")
        os.environ.setdefault("WORKBENCH_PSEUDONYM_KEY", "bench-key-0123456789abcdef")
        from workbench.config import load_settings
        from workbench.demo.generate import generate
        from workbench.pipeline import run_jobs
        from workbench.sources.readers import file_sha256

        settings = load_settings()
        if existing is None:
            t = time.perf_counter()
            generate(scale=scale, seed=settings.demo.seed, out=settings.demo_out)
            print(f"demo {scale}: generated in {time.perf_counter() - t:.1f} s")
        files = [p for p in Path(settings.deliveries).rglob("*") if p.is_file()]
        t = time.perf_counter()
        size = sum(p.stat().st_size for p in files)
        for p in files:
            file_sha256(p)
        baseline = time.perf_counter() - t
        print(f"baseline: hashing {len(files)} files, {size / 1e6:.0f} MB in {baseline:.2f} s")
        t = time.perf_counter()
        from workbench.engine import engine_memory_limit

        print(f"engine memory limit: {engine_memory_limit(settings) / 2**30:.1f} GiB ([engine].memory_limit "
              f"{settings.engine.memory_limit!r})")
        with PeakMemory() as memory:
            results = run_jobs("all", settings=settings, progress=memory.progress)
        total = time.perf_counter() - t
        print(f"{'job':<34} {'status':<8} {'rows':>12} {'seconds':>8} {'rows/s':>10} {'peak GiB':>9} {'own GiB':>8}")
        for r in results:
            rows = max(r.rows_read, r.rows_written)
            print(f"{r.name:<34} {r.status:<8} {rows:>12,} {r.seconds:>8.1f} {rows / max(r.seconds, 1e-9):>10,.0f} "
                  f"{memory.per_job.get(r.name, 0) / 2**30:>9.2f} {memory.per_job_own.get(r.name, 0) / 2**30:>8.2f}")
        bronze = sum(r.seconds for r in results if r.name.startswith("bronze_"))
        print(f"all jobs: {total:.1f} s; bronze {bronze:.1f} s = {bronze / baseline:.1f} x the hashing baseline; "
              f"{memory.summary()}")
        ceiling(tmp, settings, results)
        t = time.perf_counter()
        again = run_jobs("all", settings=settings)
        print(f"idempotent re-run: {time.perf_counter() - t:.1f} s "
              f"({sum(r.status == 'skipped' for r in again)}/{len(again)} jobs skipped)")
        failed = [r for r in results + again if r.status == "failed"]
        if "--no-new-month" not in sys.argv:
            failed += new_month(tmp, settings, total)
        on_cluster = None if "--no-cluster" in sys.argv else cluster_jobs(tmp, settings)
        if on_cluster is None:
            print("cluster: not run (needs java and `make cluster-deps`)")
        else:
            cluster_results, cluster_total = on_cluster
            sail_seconds = {r.name: r.seconds for r in results}
            print(f"{'job':<34} {'sail s':>8} {'cluster s':>10} {'cluster/sail':>13}")
            for r in cluster_results:
                base = sail_seconds.get(r.name, float("nan"))
                print(f"{r.name:<34} {base:>8.1f} {r.seconds:>10.1f} {r.seconds / max(base, 1e-9):>13.1f}")
            print(f"all jobs: sail {total:.1f} s, cluster {cluster_total:.1f} s = {cluster_total / total:.1f} x")
            failed += [r for r in cluster_results if r.status == "failed"]
        for r in failed:
            print(f"FAILED {r.name}: {r.message}")


def ceiling(tmp: str, settings, results) -> None:
    """Each job beside the engine's ceiling for its rows: a plain Delta read and write (a copy to
    a scratch table) of every table it reads and every table it owns, measured in this run on
    the same engine (a table read by several jobs is copied once). For a bronze job the read
    side is the hashing of its delivered files (the least any loader does with them). Target:
    every job at >= 1/3 of its ceiling (ratio = ceiling seconds / job seconds)."""
    import shutil

    from workbench.lake import Lake
    from workbench.pipeline import all_jobs
    from workbench.sources.readers import file_sha256

    lake = Lake.from_settings(settings)
    scratch = os.path.join(tmp, "ceiling")
    copied: dict[str, float] = {}

    def copy_seconds(table: str) -> float:
        if table not in copied:
            if not lake.exists(table):
                copied[table] = 0.0
            else:
                t = time.perf_counter()
                lake.read(table).write.format("delta").mode("overwrite").save(os.path.join(scratch, table))
                copied[table] = time.perf_counter() - t
                shutil.rmtree(os.path.join(scratch, table), ignore_errors=True)
        return copied[table]

    specs = {job.spec.name: job.spec for job in all_jobs()}
    print(f"{'job':<34} {'seconds':>8} {'ceiling s':>10} {'ceiling/job':>12}  (target >= 0.33)")
    below = []
    for r in results:
        spec = specs[r.name]
        seconds = sum(copy_seconds(t) for t in dict.fromkeys([*spec.input_tables, *spec.outputs]))
        for pattern in spec.delivery_patterns:
            t = time.perf_counter()
            for path in Path(settings.deliveries).glob(pattern):
                file_sha256(path)
            seconds += time.perf_counter() - t
        ratio = seconds / max(r.seconds, 1e-9)
        if ratio < 1 / 3 and r.seconds >= 1.0:
            below.append(r.name)
        print(f"{r.name:<34} {r.seconds:>8.1f} {seconds:>10.1f} {ratio:>12.2f}")
    print(f"jobs of a second or more below 1/3 of their ceiling: {', '.join(below) or 'none'}")


LINEAGE = {"linked_run_id", "queued_run_id", "trained_run_id", "saved_at", "batch_id", "edit_id", "edited_at",
           "evaluated_at", "run_id"}


def content_digest(path: str) -> tuple[int, str]:
    """Rows and a digest of a Delta table's content in any row order: lineage columns (run ids,
    load times) left out, floats to 9 significant digits (the engine's summation order moves
    the last bits)."""
    import hashlib

    import pandas as pd
    from deltalake import DeltaTable

    frame = DeltaTable(path).to_pandas()
    frame = frame[sorted(c for c in frame.columns if not c.startswith("_") and c not in LINEAGE)]
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column].map(lambda v: f"{v:.9g}")
    rows = sorted(pd.util.hash_pandas_object(frame.astype(str), index=False).tolist())
    return len(frame), hashlib.sha256(repr(rows).encode()).hexdigest()


def differing_tables(lake_root: str, reference_root: str) -> list[str]:
    """The silver and gold tables of *lake_root* whose content differs from *reference_root*'s."""
    differ = []
    for layer in ("silver", "gold"):
        for table in sorted(p.name for p in (Path(reference_root) / layer).iterdir()):
            want = content_digest(str(Path(reference_root) / layer / table))
            path = Path(lake_root) / layer / table
            got = content_digest(str(path)) if path.exists() else (0, "")
            if got != want:
                differ.append(f"{layer}.{table} ({got[0]:,} rows vs {want[0]:,})")
    return differ


def new_month(tmp: str, settings, full_seconds: float) -> list:
    """Build a lake from every month but the last, then land the last month on it; print the
    time as a ratio to the full build and which tables differ from a full build.

    Two full builds are compared. The one that matters is a rebuild of every month that
    keeps what the bureau decided before (the lake's trained linkage models): that is what a
    rebuild from the deliveries is, and the new month must equal it. The fresh full build of
    the benchmark trains its own models on every month instead, so its links differ by
    whatever one training differs from another; printed for information."""
    import json
    import shutil

    from workbench.demo.subset import Period, subset
    from workbench.pipeline import run_jobs
    from workbench.pseudonym import FINGERPRINT_FILE

    manifest = json.loads((Path(settings.demo_out) / "manifest.json").read_text(encoding="utf-8"))
    span = manifest["time_span"]
    last = span["to"]
    before = f"{int(last[:4]) - (last[5:] == '01')}-{(int(last[5:]) - 2) % 12 + 1:02d}"
    earlier = os.path.join(tmp, "demo_before")
    subset(settings.demo_out, earlier, Period(span["from"], before))
    base = settings.with_lake_root(os.path.join(tmp, "lake_month"))
    os.environ["WORKBENCH_DEMO_OUT"] = earlier
    from workbench.config import load_settings

    first = run_jobs("all", settings=load_settings().with_lake_root(base.lake_root))
    os.environ["WORKBENCH_DEMO_OUT"] = settings.demo_out
    # what a rebuild keeps: the models trained so far (and the key the lake was pseudonymised with)
    rebuilt = settings.with_lake_root(os.path.join(tmp, "lake_rebuilt"))
    models = Path(base.lake_root) / "silver" / "linkage_models"
    Path(rebuilt.lake_root).mkdir(parents=True)
    if models.exists():
        shutil.copytree(models, Path(rebuilt.lake_root) / "silver" / "linkage_models")
    shutil.copy(Path(base.lake_root) / FINGERPRINT_FILE, Path(rebuilt.lake_root) / FINGERPRINT_FILE)
    t = time.perf_counter()
    results = run_jobs("all", settings=base)
    seconds = time.perf_counter() - t
    ran = [r for r in results if r.status == "ok"]
    print(f"new month {last} on a lake of {span['from']}..{before}: {seconds:.1f} s = "
          f"1/{full_seconds / max(seconds, 1e-9):.1f} of the full build ({len(ran)}/{len(results)} jobs ran: "
          f"{', '.join(f'{r.name} {r.seconds:.1f} s' for r in sorted(ran, key=lambda r: -r.seconds)[:5])})")
    for r in results:
        if r.name in ("gold_enterprise_month", "silver_linkage") and r.status == "ok":
            print(f"  {r.name}: {r.message}")
    t = time.perf_counter()
    again = run_jobs("all", settings=rebuilt)
    print(f"rebuild of every month keeping the lake's linkage models: {time.perf_counter() - t:.1f} s")
    print(f"tables of the new month differing from that rebuild (target: none): "
          f"{', '.join(differing_tables(base.lake_root, rebuilt.lake_root)) or 'none'}")
    print(f"... and from the fresh full build, which trains its own models: "
          f"{', '.join(differing_tables(base.lake_root, settings.lake_root)) or 'none'}")
    return [r for r in first + results + again if r.status == "failed"]


def cluster_jobs(tmp: str, settings):
    """Every job on the local Spark cluster into a second lake; None where it cannot run."""
    from workbench.cluster import Cluster, unavailable
    from workbench.engine import _connect
    from workbench.lake import Lake
    from workbench.pipeline import run_jobs

    if unavailable():
        return None
    running = Cluster(os.path.join(tmp, "cluster"))
    try:
        state = running.up()
        spark = _connect(state.url, remote=True)
        cluster_settings = settings.with_lake_root(os.path.join(tmp, "lake_cluster"))
        t = time.perf_counter()
        results = run_jobs("all", lake=Lake(cluster_settings.lake_root, spark=spark, settings=cluster_settings),
                           settings=cluster_settings)
        return results, time.perf_counter() - t
    finally:
        running.down()


if __name__ == "__main__":
    main()
