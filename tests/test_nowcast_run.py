"""The nowcast as a library call and a run kind, on the small demo lake.

Known truth: the demo generator's ``truth/targets.parquet``. The interval of the current
nowcast is checked against the same formula recomputed from the track record it reports
(rtol 1e-12), and the run is reproduced in this process and from the command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from test_nowcast import gold  # the demo's gold tables and truth, one fixture for both files
from workbench.methods import nowcast as nc
from workbench.methods.nowcast.run import NowcastSpec, default_asof, run_nowcast, target_period
from workbench.runs import registry


def test_target_period_is_the_first_unpublished_and_its_release_is_expected(gold):
    _, tv, _ = gold
    asof = default_asof(tv)
    period, release, expected = target_period(tv, asof)
    cal = nc.release_calendar(tv)
    assert period == cal["ref_period"].max() + 1 and expected
    # expected at the median publication lag of the published months
    lags = [(d - p.end_time.date()).days for p, d in zip(cal["ref_period"], cal["release_date"])]
    assert (release - period.end_time.date()).days == int(np.median(lags))
    published, first_release, known = target_period(tv, cal["release_date"].iloc[-1] - pd.Timedelta(days=3))
    assert published == cal["ref_period"].iloc[-1] and first_release == cal["release_date"].iloc[-1] and not known


def test_error_based_interval_of_the_nowcast_comes_from_its_own_track_record(gold):
    ind, tv, truth = gold
    spec = NowcastSpec("retail_sales", ("ar", "bridge", "umidas"), tuple(nc.DEFAULT_INDICATORS),
                       default_asof(tv).isoformat(), track_periods=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing escapes to the log: warnings are collected
        res = run_nowcast(ind, tv, spec)
    now = res.nowcasts.set_index("model")
    assert set(now.index) == {"ar", "bridge", "umidas", "combo_equal", "combo_inv_mse"}
    first = tv.sort_values("vintage").groupby("ref_period")["value"].first()
    z = stats.norm.ppf(0.95)
    for model, row in now.iterrows():
        track = res.track[res.track["model"] == model].dropna(subset=["point"])
        periods = [pd.Period(p, freq="M") for p in track["ref_period"]]
        errors = np.log(first.reindex(periods).to_numpy() / track["point"].to_numpy())
        half = z * np.sqrt(np.mean(errors ** 2))
        assert row["interval"] == "errors" and len(errors) == 12
        np.testing.assert_allclose([row["lower"], row["upper"]],
                                   [row["point"] * np.exp(-half), row["point"] * np.exp(half)], rtol=1e-12)
    # known truth of the target month: inside the 90 % interval of the combination
    combo = now.loc["combo_equal"]
    assert combo["lower"] < truth[res.period] < combo["upper"]


def test_nowcast_run_records_convergence_warnings_and_reproduces_from_the_cli(demo_lake, gold, tmp_path):
    """The DFM failed to converge dozens of times per page visit, seen only in the server log:
    now each failure is counted once per model and message, recorded in the run's warnings."""
    _, tv, _ = gold
    lake = demo_lake.lake
    spec = NowcastSpec("retail_sales", ("ar", "bridge", "dfm"), ("card_spending_pace", "vat_sales_total"),
                       default_asof(tv).isoformat(), combinations=("equal",), track_periods=10)
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        run_id = registry.run_method(lake, "nowcast", spec.as_dict(), ["gold.indicators_monthly", "gold.targets"],
                                     user="research", title="nowcast with the DFM")
    assert not [w for w in escaped if "convergence" in str(w.message)]
    run = registry.get_run(lake, run_id)
    dfm = [w for w in run.warnings if w.startswith("dfm:")]
    assert dfm and any("without achieving convergence" in w for w in dfm), run.warnings
    assert len(run.warnings) == len(set(run.warnings)) <= 4  # counted, not repeated
    assert set(run.outputs) == {"nowcasts", "track", "evaluation", "news"}
    nowcasts = registry.read_output(lake, run_id, "nowcasts").toPandas()
    assert set(nowcasts["model"]) == {"ar", "bridge", "dfm", "combo_equal"}
    assert run.metrics["warnings"] == len(run.warnings)
    env = {**os.environ, **demo_lake.environ, "RUST_LOG": "error"}
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "runs", "reproduce", run_id], capture_output=True,
                         text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    assert "nowcasts    matches" in out.stdout and "reproduced" in out.stdout
