"""Month-to-date indicators (workbench.methods.nowcast.pace) against a known truth.

The synthetic daily series is exactly month level x weekday factor, so the full-month
equivalent on any cut-off day must equal the month's true total (to rounding, 1e-9) once
twelve months of history give the weekday factors; nothing later than a month may change
its rows.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose

from workbench.methods.nowcast import information_set, prepare_indicators, prepare_targets
from workbench.methods.nowcast.pace import day_of_week_profile, month_to_date

FACTORS = np.array([0.9, 0.85, 0.95, 1.0, 1.1, 1.4, 1.3])  # Monday .. Sunday


def _daily(months: int = 20, seed: int = 5) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", pd.Timestamp("2024-01-01") + pd.DateOffset(months=months), freq="D")[:-1]
    level = pd.Series(np.exp(rng.normal(10, 0.2, months)), index=pd.period_range("2024-01", periods=months, freq="M"))
    values = level.reindex(days.to_period("M")).to_numpy() * FACTORS[days.dayofweek]
    daily = pd.Series(values, index=days)
    return daily, daily.groupby(days.to_period("M")).sum()


def test_weekday_profile_is_recovered_exactly():
    daily, _ = _daily()
    assert_allclose(day_of_week_profile(daily), FACTORS / np.exp(np.log(FACTORS).mean()), rtol=1e-10)
    assert_allclose(day_of_week_profile(daily.iloc[:5]), np.ones(7))  # not every weekday seen: flat


def test_full_month_equivalent_equals_the_true_total_on_every_day():
    daily, totals = _daily()
    rows = month_to_date(daily, "pace", "yuan", lag_days=2)
    rows["month"] = pd.PeriodIndex(pd.to_datetime(rows["month"]), freq="M")
    assert len(rows) == len(daily)  # one vintage per day
    later = rows[rows["month"] >= pd.Period("2025-01", "M")]  # twelve whole months of history behind them
    assert_allclose(later["value"].to_numpy(), totals.reindex(later["month"]).to_numpy(), rtol=1e-9)
    last = rows.groupby("month").tail(1).set_index("month")["value"]
    assert_allclose(last.to_numpy(), totals.reindex(last.index).to_numpy(), rtol=1e-12)  # final = month's sum
    first_day = rows.iloc[0]
    assert first_day["available_date"] == dt.date(2024, 1, 3)  # 1 January, known two days later


def test_a_month_never_uses_later_days():
    daily, _ = _daily()
    rows = month_to_date(daily, "pace", "yuan", lag_days=2)
    changed = daily.copy()
    changed[changed.index >= pd.Timestamp("2025-03-01")] *= 3.0  # a different future
    again = month_to_date(changed, "pace", "yuan", lag_days=2)
    before = pd.to_datetime(rows["month"]) < pd.Timestamp("2025-03-01")
    assert_allclose(again.loc[before, "value"].to_numpy(), rows.loc[before, "value"].to_numpy(), rtol=0)
    # and the information set of a date inside a month holds that date's vintage, not the final one
    ind = prepare_indicators(rows.sample(frac=1.0, random_state=0))  # a lake read has no row order
    targets = prepare_targets(pd.DataFrame({
        "series": "t", "area_code": "x", "ref_period": ["2025-01"], "release_date": [dt.date(2025, 2, 15)],
        "vintage": [1], "value": [1.0]}), "t")
    asof = dt.date(2025, 2, 12)
    info = information_set(ind, targets, asof, "2025-02", ["pace"])
    held = info.indicators.loc[pd.Period("2025-02", "M"), "pace"]
    expected = rows[(rows["available_date"] == asof) & (pd.to_datetime(rows["month"]) == pd.Timestamp("2025-02-01"))]
    assert held == expected["value"].item()
