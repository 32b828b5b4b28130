"""Error-based nowcast intervals and the backtest's handling of models that cannot be fitted.

Known truth: nowcasts that miss the first release by iid log errors N(0, 0.02) must get
90 % intervals of half-width z * 0.02 (rtol 10 %, 400 periods) that cover 90 % of the
actuals (tolerance 0.04, about 2.7 binomial standard errors), built only from errors
published by each nowcast's date.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose
from scipy import stats

from workbench.methods import nowcast as nc

SIGMA = 0.02


def _vintages(months: pd.PeriodIndex, values: np.ndarray) -> pd.DataFrame:
    return nc.prepare_targets(pd.DataFrame({
        "series": "t", "area_code": "x", "ref_period": months.astype(str), "vintage": 1, "value": values,
        "release_date": [(m.to_timestamp(how="end") + pd.Timedelta(days=15)).date() for m in months]}), "t")


def _backtest(n: int = 400, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    months = pd.period_range("1990-01", periods=n, freq="M")
    actual = np.exp(rng.normal(5, 0.1, n))
    tv = _vintages(months, actual)
    point = actual * np.exp(rng.normal(0, SIGMA, n))
    release = tv.set_index("ref_period")["release_date"]
    bt = pd.DataFrame({"model": "m", "ref_period": months, "horizon": 4,
                       "asof": [release[m] - dt.timedelta(days=28) for m in months],
                       "release_date": release.reindex(months).to_numpy(), "growth": np.nan, "se": np.nan,
                       "point": point, "lower": point * 0.999, "upper": point * 1.001, "error_message": "",
                       "actual": actual})
    return bt, tv


def test_error_based_intervals_have_their_nominal_width_and_coverage():
    bt, tv = _backtest()
    out = nc.error_based_intervals(bt, tv, alpha=0.1, min_errors=8)
    got = out[out["interval"] == "errors"]
    assert (out["interval"] == "model").sum() == 8  # the first eight have fewer than 8 published errors
    half = np.log(got["upper"] / got["point"]).tail(200)
    assert_allclose(half.mean(), stats.norm.ppf(0.95) * SIGMA, rtol=0.1)
    assert abs(nc.evaluate(got).loc[0, "coverage"] - 0.90) < 0.04
    assert nc.evaluate(out.iloc[:8]).loc[0, "coverage"] < 0.3  # the model's own intervals were far too narrow


def test_error_based_intervals_use_only_published_errors():
    bt, tv = _backtest(60)
    out = nc.error_based_intervals(bt, tv)
    later = bt.copy()
    later.loc[later.index >= 40, "point"] *= 1.5  # other nowcasts from period 40 on
    again = nc.error_based_intervals(later, tv)
    # four weeks before its release a nowcast has seen the month before released, never its own month
    width, width_again = out["upper"] / out["point"], again["upper"] / again["point"]
    assert_allclose(width_again.loc[:40], width.loc[:40], rtol=1e-12)
    assert (np.abs(width_again.loc[41:] - width.loc[41:]) > 1e-6).all()


def test_backtest_records_models_that_cannot_be_fitted():
    """Early periods with too little published history give rows with error_message, not an abort."""
    months = pd.period_range("2020-01", "2022-12", freq="M")
    values = np.exp(np.cumsum(np.random.default_rng(1).normal(0.01, 0.02, len(months))) + 5)
    tv = _vintages(months, values)
    ind = nc.prepare_indicators(pd.DataFrame({
        "indicator": "i", "month": months.to_timestamp(), "value": values,
        "available_date": [(m.to_timestamp(how="end") + pd.Timedelta(days=2)).date() for m in months]}))
    bt = nc.backtest(ind, tv, {"ar": nc.AR}, periods=34, horizons=(0,))
    failed = bt[bt["error_message"] != ""]
    assert len(bt) == 34 and 0 < len(failed) < 34
    assert failed["point"].isna().all() and failed["error_message"].str.contains("published growth rates").all()
    assert bt.loc[bt["error_message"] == "", "point"].notna().all()
