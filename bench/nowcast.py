"""Full nowcast backtest on the demo lake: time against the AR benchmark's own backtest, and accuracy.

    python bench/nowcast.py [--lake LAKE_ROOT] [--demo-out DEMO_OUT] [--periods 36]

Reads gold.indicators_monthly and gold.targets from the lake (settings or --lake),
times the Nowcast page's default run (``run_nowcast``), runs 6 models (5 and the random walk)
x 36 periods x 4 horizons for retail sales, prints seconds, the ratio
to the AR-only backtest measured in the same run, and (with the demo's truth) the
relative RMSE against AR by horizon.
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

from workbench.config import load_settings
from workbench.lake import Lake
from workbench.methods import nowcast as nc

MODELS = ("ar", "random_walk", "bridge", "umidas", "ridge", "boosting")
INDICATORS = nc.DEFAULT_INDICATORS
HORIZONS = (0, 1, 2, 4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake")
    ap.add_argument("--demo-out")
    ap.add_argument("--periods", type=int, default=36)
    ap.add_argument("--series", default="retail_sales")
    ap.add_argument("--extra", nargs="*", default=[], help="models timed on top (e.g. boosting almon_midas dfm)")
    args = ap.parse_args()
    settings = load_settings()
    lake = Lake(args.lake or settings.lake_root, settings=settings)
    ind = nc.prepare_indicators(lake.read("gold.indicators_monthly").toPandas())
    tv = nc.prepare_targets(lake.read("gold.targets").toPandas(), args.series)

    def run(names):
        models = {n: (lambda n=n: nc.make_model(n, INDICATORS)) for n in names}
        t0 = time.perf_counter()
        bt = nc.backtest(ind, tv, models, periods=args.periods, horizons=HORIZONS)
        return bt, time.perf_counter() - t0

    # the Nowcast page's default run: one run_nowcast call (models, combinations, 24-period track record)
    from workbench.methods.nowcast.run import NowcastSpec, default_asof, run_nowcast

    spec = NowcastSpec(args.series, ("ar", "bridge", "umidas", "ridge"), tuple(INDICATORS),
                       default_asof(tv).isoformat())
    t0 = time.perf_counter()
    page = run_nowcast(ind, tv, spec)
    print(f"Nowcast page default run ({', '.join(spec.models)} + combinations, {spec.track_periods}-period track "
          f"record at {page.horizon} weeks): {time.perf_counter() - t0:.2f} s, {len(page.warnings)} warning(s)")
    _, base = run(["ar"])
    bt, full = run(MODELS)
    print(f"AR-only backtest ({args.periods} periods x {len(HORIZONS)} horizons): {base:.2f} s")
    print(f"full backtest ({len(MODELS)} models: {', '.join(MODELS)}): {full:.2f} s = {full / base:.1f} x AR")
    for extra in args.extra:
        ebt, secs = run([extra])
        print(f"  + {extra}: {secs:.2f} s = {secs / base:.1f} x AR")
        bt = pd.concat([bt, ebt])
    demo_out = args.demo_out or settings.demo_out
    truth_file = os.path.join(demo_out, "truth", "targets.parquet") if demo_out else ""
    if os.path.exists(truth_file):
        truth = pd.read_parquet(truth_file)
        truth = truth[truth["series"] == args.series]
        actual = pd.Series(truth["value"].to_numpy(), index=[nc.parse_period(p) for p in truth["ref_period"]])
        bt = nc.attach_actuals(bt, actual)
        members = [m for m in bt["model"].unique() if m not in nc.BENCHMARKS]
        for method in ("equal", "inverse_mse"):
            bt = pd.concat([bt, nc.attach_actuals(nc.combine(bt, tv, members, method), actual)])
        table = nc.evaluate(bt).pivot(index="model", columns="horizon", values="rel_rmse")
        print("\nrelative RMSE vs AR against the generator's truth (columns: weeks before release):")
        print(table.round(3).to_string())
        cov = nc.evaluate(bt).pivot(index="model", columns="horizon", values="coverage")
        print("\n90% interval coverage:")
        print(cov.round(2).to_string())
        errors = nc.error_based_intervals(bt, tv)
        errors = errors[errors["interval"] == "errors"]
        cov = nc.evaluate(errors).pivot(index="model", columns="horizon", values="coverage")
        print(f"\n90% coverage of intervals from each model's past errors ({len(errors)} rows with 8+ errors known):")
        print(cov.round(2).to_string())


if __name__ == "__main__":
    main()
