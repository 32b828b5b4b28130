"""Quality benchmark: the whole rule set (every file in conf/rules/) on an existing lake.

Usage: python bench/quality.py LAKE_ROOT [--impute]

LAKE_ROOT is a lake the jobs have built (e.g. from the `medium` demo: its
silver.survey_returns, vat_monthly, social_insurance_monthly, enterprises and
survey_sample are what the rules read). The results are written into that lake's
quality.* tables.

The baseline, measured in the same run, is the least any rule engine must do:
read every value of every checked table once (a sum of a hash of each row: one
pass, no rules, nothing written). The rule set is then run as `workbench quality run all`
does (rules, results, summaries, HB and robust z, the fraud score and queue), and
printed per table with its ratio to the baseline. --impute adds the survey
panel's imputation. A benchmark, not a test; the issue's target is 3 minutes for
the whole rule set on the medium demo.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

TARGET_SECONDS = 180.0


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ["WORKBENCH_LAKE_ROOT"] = root
    os.environ.setdefault("RUST_LOG", "error")
    from pyspark.sql import functions as F

    from workbench.engine import get_spark
    from workbench.lake import Lake
    from workbench.quality import store
    from workbench.quality.rules import all_rule_sets

    lake = Lake(root, spark=get_spark())
    tables = [name for name in all_rule_sets() if lake.exists(name)]
    rows = {name: lake.row_count(name) for name in tables}
    t = time.perf_counter()
    for name in tables:
        df = lake.read(name)
        # a hash of every value: counts alone are answered from the files' statistics without reading
        df.agg(F.sum(F.xxhash64(*df.columns))).collect()
    baseline = time.perf_counter() - t
    print(f"baseline: one hashing scan of {len(tables)} tables, {sum(rows.values()):,} rows, in {baseline:.1f} s")

    t = time.perf_counter()
    runs = store.run_all(lake, "bench")
    total = time.perf_counter() - t
    print(f"{'table':<34} {'rows':>12} {'rules':>6} {'outcomes':>12} {'failed':>9} {'seconds':>8}")
    for r in runs:
        print(f"{r.table:<34} {rows[r.table]:>12,} {r.counts['rules']:>6} {r.counts['evaluated']:>12,} "
              f"{r.counts['failed']:>9,} {r.seconds:>8.1f}")
    verdict = "within" if total <= TARGET_SECONDS else "OVER"
    print(f"whole rule set: {total:.1f} s = {total / baseline:.1f} x the scan baseline; "
          f"{verdict} the {TARGET_SECONDS:.0f} s target")
    if "--impute" in sys.argv:
        t = time.perf_counter()
        run = store.build_panel(lake, "bench")
        print(f"imputation of the survey panel: {time.perf_counter() - t:.1f} s "
              f"({', '.join(f'{k} {v:,}' for k, v in sorted(run.counts.items()))})")


if __name__ == "__main__":
    main()
