"""Pipeline benchmark: rows per second per job on a freshly generated demo.

Usage: python bench/pipeline.py [small|medium|large] [DEMO_DIR]   (default small)

With DEMO_DIR (an already generated demo of that scale) generation is skipped.

Generates the demo into a temporary folder, builds a fresh lake with
`run_jobs("all")`, and prints each job's rows/second. The baseline, measured in
the same run, is hashing every delivered byte once (the least any loader must
do); the bronze total is printed as a ratio to it. A second run of all jobs
shows the cost of an idempotent re-run. A benchmark, not a test.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    scale = sys.argv[1] if len(sys.argv) > 1 else "small"
    existing = sys.argv[2] if len(sys.argv) > 2 else None
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
        results = run_jobs("all", settings=settings)
        total = time.perf_counter() - t
        print(f"{'job':<34} {'status':<8} {'rows':>12} {'seconds':>8} {'rows/s':>10}")
        for r in results:
            rows = max(r.rows_read, r.rows_written)
            print(f"{r.name:<34} {r.status:<8} {rows:>12,} {r.seconds:>8.1f} {rows / max(r.seconds, 1e-9):>10,.0f}")
        bronze = sum(r.seconds for r in results if r.name.startswith("bronze_"))
        print(f"all jobs: {total:.1f} s; bronze {bronze:.1f} s = {bronze / baseline:.1f} x the hashing baseline")
        t = time.perf_counter()
        again = run_jobs("all", settings=settings)
        print(f"idempotent re-run: {time.perf_counter() - t:.1f} s "
              f"({sum(r.status == 'skipped' for r in again)}/{len(again)} jobs skipped)")
        failed = [r for r in results + again if r.status == "failed"]
        for r in failed:
            print(f"FAILED {r.name}: {r.message}")


if __name__ == "__main__":
    main()
