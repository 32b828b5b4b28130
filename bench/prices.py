"""Online price index benchmark: daily and monthly indices from silver.prices_daily.

Usage: python bench/prices.py LAKE_ROOT [DEMO_OUT]

LAKE_ROOT is a lake with silver.prices_daily (for the medium demo:
``workbench jobs run bronze_prices silver_prices_daily`` with WORKBENCH_DEMO_OUT and
WORKBENCH_LAKE_ROOT pointing at it). DEMO_OUT, when given, is the demo folder whose
truth/cpi.parquet the indices are compared with (correlation of month-on-month changes).

The baseline, measured in the same run, is the least any index must do: one grouped
aggregation of every quote on the engine (mean log price per item and day, collected).
Then, each timed from the silver table to the all-items index: the monthly GEKS-Jevons
(the gold indicator), the daily chained Jevons (elementary sums on the engine) and the
daily GEKS-Jevons (31-day window, mean splice; item x day log prices to pandas). The
classification (rules + text model) is timed once and reused, as the app does.
A benchmark, not a test; the issue's target is daily indices on the medium demo in
under 2 minutes.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

TARGET_SECONDS = 120.0


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    demo = sys.argv[2] if len(sys.argv) > 2 else None
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("RUST_LOG", "error")
    import pandas as pd
    from pyspark.sql import functions as F

    from workbench.config import load_settings
    from workbench.engine import get_spark
    from workbench.lake import Lake
    from workbench.methods.prices import aggregate, elementary
    from workbench.methods.prices.online import classify_items, online_index
    from workbench.methods.prices.settings import load_price_settings

    lake = Lake(root, spark=get_spark(load_settings()))
    prices = lake.read("silver.prices_daily")
    settings = load_price_settings()
    rows = lake.row_count("silver.prices_daily")

    t = time.perf_counter()
    base = prices.groupBy("retailer", "product_id", "price_date").agg(F.avg(F.log("price")).alias("lp")).toArrow()
    baseline = time.perf_counter() - t
    print(f"baseline: one grouped aggregation of {rows:,} quotes to {base.num_rows:,} item-days, {baseline:.1f} s")

    t = time.perf_counter()
    classes = classify_items(elementary.quotes(prices, settings.timezone), settings)
    classify = time.perf_counter() - t
    print(f"classification of {len(classes):,} items (rules + text model): {classify:.1f} s, "
          f"{classify / baseline:.1f} x baseline; {int(classes['review'].sum())} to review")

    truth = None
    if demo:
        cpi = pd.read_parquet(os.path.join(demo, "truth", "cpi.parquet"))
        truth = cpi[cpi["group"] == "total"].set_index("month")["index_2018_01_100"]
        truth.index = pd.to_datetime(truth.index + "-01")

    print(f"{'index':<34} {'periods':>8} {'seconds':>8} {'x baseline':>11} {'corr MoM':>9}")
    for label, frequency, method, window in [("monthly GEKS-Jevons, 13 months", "month", "geks_jevons", 13),
                                             ("daily chained Jevons", "day", "jevons", 31),
                                             ("daily GEKS-Jevons, 31 days", "day", "geks_jevons", 31)]:
        t = time.perf_counter()
        result = online_index(prices, settings, frequency, method, window, "mean", classification=classes)
        seconds = time.perf_counter() - t
        corr = float("nan")
        if truth is not None:
            monthly = result.monthly()["total"]
            j = pd.concat([aggregate.mom(monthly), aggregate.mom(truth)], axis=1).dropna()
            corr = float(j.corr().iloc[0, 1])
        flag = "" if frequency == "month" or seconds + classify < TARGET_SECONDS else "  (over the target)"
        print(f"{label:<34} {len(result.total):>8,} {seconds:>8.1f} {seconds / baseline:>11.1f} {corr:>9.3f}{flag}")


if __name__ == "__main__":
    main()
