"""Month-to-date indicators: a daily series turned into full-month equivalents, one per day it stood.

Why: four weeks before a release the reference month is only half over, and every monthly
indicator still shows the month before. Daily card payments arrive two days after each day,
so on the 17th the bureau knows the 1st to the 15th. Scaled up to the whole month, that
partial sum is a monthly indicator with many vintages: for month *m* and cut-off day *c*

    pace(m, c) = S(m, 1..c) * sum_{d in m} w(dow d) / sum_{d <= c} w(dow d)

available ``lag_days`` after day *c*. *S* is the daily total and *w* the day-of-week profile
(weekends are busier), estimated only from the twelve whole months before *m*, which were
known by then. On the month's last day the value is the month's own total, so the final
vintage equals the plain monthly indicator. :func:`~workbench.methods.nowcast.vintages.information_set`
keeps, for every month, the latest vintage available on the nowcast date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROFILE_MONTHS = 12


def day_of_week_profile(daily: pd.Series) -> np.ndarray:
    """Multiplicative weekday factors (Monday = 0), geometric mean 1.

    Least squares of log(value) on month and weekday dummies, so a month's level does not
    leak into the weekday it happens to have more of: exact when the days follow
    level x factor. Ones (a flat profile) when *daily* does not hold every weekday.
    """
    daily = daily[daily > 0]
    index = pd.DatetimeIndex(daily.index)
    dow = index.dayofweek.to_numpy()
    if len(np.unique(dow)) < 7:
        return np.ones(7)
    month = pd.factorize(index.to_period("M"))[0]
    x = np.zeros((len(daily), month.max() + 1 + 6))
    x[np.arange(len(daily)), month] = 1.0
    for d in range(1, 7):  # Monday is the reference day
        x[dow == d, month.max() + d] = 1.0
    coef = np.linalg.lstsq(x, np.log(daily.to_numpy(float)), rcond=None)[0]
    log_factor = np.concatenate([[0.0], coef[month.max() + 1:]])
    return np.exp(log_factor - log_factor.mean())


def month_to_date(daily: pd.Series, name: str, unit: str, lag_days: int) -> pd.DataFrame:
    """Rows (indicator, month, value, unit, available_date) of full-month equivalents, one per day.

    *daily* holds one value per calendar day (index: dates). A month is scaled from the days
    it has so far; days missing inside it count as zero spending only once a later day of
    the same month has arrived, since a file with no row for a day means nothing was paid.
    """
    if daily.empty:
        return pd.DataFrame(columns=["indicator", "month", "value", "unit", "available_date"])
    daily = daily.sort_index()
    daily.index = pd.DatetimeIndex(daily.index)
    months = daily.index.to_period("M")
    rows = []
    for month in months.unique():
        start = month.to_timestamp(how="start")
        history = daily[(daily.index < start) & (daily.index >= (month - PROFILE_MONTHS).to_timestamp(how="start"))]
        w = day_of_week_profile(history)
        days = pd.date_range(start, month.to_timestamp(how="end").normalize(), freq="D")
        seen = daily[months == month].reindex(days)
        last_seen = seen.last_valid_index()
        weights = w[days.dayofweek]
        so_far = seen.fillna(0.0).cumsum().to_numpy()
        scale = weights.sum() / np.cumsum(weights)
        for k, day in enumerate(days):
            if day > last_seen:
                break
            rows.append((month.to_timestamp(how="start").date(), float(so_far[k] * scale[k]),
                         (day + pd.Timedelta(days=lag_days)).date()))
    out = pd.DataFrame(rows, columns=["month", "value", "available_date"])
    out.insert(0, "indicator", name)
    out.insert(3, "unit", unit)
    return out
