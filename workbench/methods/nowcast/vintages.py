"""Information sets exactly as they were available on a date (pseudo-real time).

An indicator value counts from its ``available_date`` (``gold.indicators_monthly``),
and where a month has several (a month-to-date indicator, one per day) the latest
available on the date wins; a target value counts from its ``release_date``, and the
latest vintage released on or before the date wins (``gold.targets``). Nothing released after the nowcast
date can enter an :class:`InformationSet`; :func:`information_set` is the one
place that decides this, and every model and the backtest go through it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

INDICATOR_COLUMNS = ["indicator", "month", "value", "available_date"]
TARGET_COLUMNS = ["series", "area_code", "ref_period", "release_date", "vintage", "value"]


def parse_period(label: str) -> pd.Period:
    """'2024-03' -> monthly period, '2024Q1' -> quarterly period."""
    label = str(label)
    return pd.Period(label, freq="Q") if "Q" in label.upper() else pd.Period(label, freq="M")


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


def last_month(period: pd.Period) -> pd.Period:
    """The last month a period covers (itself for a month, the quarter's third month)."""
    return period.asfreq("M", how="end")


def months_between(a: pd.Period, b: pd.Period) -> int:
    """Whole months from monthly period *a* to *b* (b - a)."""
    return (b.year - a.year) * 12 + (b.month - a.month)


def prepare_indicators(indicators: pd.DataFrame) -> pd.DataFrame:
    """The long indicator table with typed columns: month as a monthly Period, available_date a date.

    Rows are ordered by availability, so the last row of a month is its latest vintage.
    """
    df = indicators[INDICATOR_COLUMNS].copy()
    df["month"] = pd.PeriodIndex(pd.to_datetime(df["month"]), freq="M")
    df["available_date"] = pd.to_datetime(df["available_date"]).dt.date
    df["value"] = df["value"].astype(float)
    return df.sort_values("available_date", kind="stable").reset_index(drop=True)


def prepare_targets(targets: pd.DataFrame, series: str, area_code: str | None = None) -> pd.DataFrame:
    """All vintages of one target series (one area), ref_period as a Period."""
    df = targets[targets["series"] == series]
    if area_code is not None:
        df = df[df["area_code"].astype(str) == str(area_code)]
    elif df["area_code"].nunique() > 1:
        raise ValueError(f"{series} is published for {df['area_code'].nunique()} areas: pass area_code")
    if df.empty:
        raise ValueError(f"no published values of {series!r}")
    df = df[TARGET_COLUMNS].copy()
    df["ref_period"] = [parse_period(p) for p in df["ref_period"]]
    df["release_date"] = pd.to_datetime(df["release_date"]).dt.date
    df["value"] = df["value"].astype(float)
    return df.sort_values(["ref_period", "vintage"]).reset_index(drop=True)


def release_calendar(target_vintages: pd.DataFrame) -> pd.DataFrame:
    """First release date of every reference period: the date each nowcast is racing against."""
    first = target_vintages.sort_values("vintage").groupby("ref_period", sort=True).first()
    return pd.DataFrame({"ref_period": first.index, "release_date": first["release_date"].to_numpy()})


def final_values(target_vintages: pd.DataFrame) -> pd.Series:
    """The latest published vintage of every period (what we know today)."""
    last = target_vintages.sort_values("vintage").groupby("ref_period", sort=True).last()
    return last["value"]


@dataclass(frozen=True)
class InformationSet:
    """What was known on *asof*: target vintages released and indicator values available by then.

    ``target`` holds levels by reference period (latest vintage released by *asof*),
    ``indicators`` levels by month (columns = indicators). Models work on year-on-year
    log growth (:attr:`target_growth`, :attr:`indicator_growth`), which removes the fixed
    seasonal pattern without a seasonal adjustment that would itself need future data.
    """

    asof: dt.date
    series: str
    target_period: pd.Period
    target: pd.Series
    indicators: pd.DataFrame

    @property
    def freq(self) -> str:
        return self.target_period.freqstr[0]

    @property
    def seasonal_lag(self) -> int:
        return 4 if self.freq == "Q" else 12

    @cached_property
    def target_growth(self) -> pd.Series:
        y = np.log(self.target)
        shifted = y.copy()
        shifted.index = shifted.index + self.seasonal_lag
        return (y - shifted.reindex(y.index)).dropna()

    @cached_property
    def indicator_growth(self) -> pd.DataFrame:
        x = self.indicators.where(self.indicators > 0)
        return np.log(x) - np.log(x.shift(12))

    @cached_property
    def target_growth_lookup(self) -> dict:
        return self.target_growth.to_dict()

    @cached_property
    def log_target(self) -> dict:
        """{period: log level} for fast lookups in design matrices."""
        return dict(zip(self.target.index, np.log(self.target.to_numpy())))

    @cached_property
    def growth_lookup(self) -> dict[str, dict]:
        """{indicator: {month: yoy log growth}} and {indicator: {month: mom log growth}} under "mom:<name>"."""
        out = {}
        x = self.indicators.where(self.indicators > 0)
        mom = np.log(x) - np.log(x.shift(1))
        for name in x.columns:
            out[name] = self.indicator_growth[name].dropna().to_dict()
            out["mom:" + name] = mom[name].dropna().to_dict()
        return out

    def base(self, period: pd.Period | None = None) -> float:
        """The level one year before *period*, as published by *asof* (the growth's base)."""
        period = self.target_period if period is None else period
        base = period - self.seasonal_lag
        if base not in self.target.index:
            raise ValueError(f"{self.series} {base} was not yet published on {self.asof}")
        return float(self.target[base])

    def last_target_period(self) -> pd.Period:
        return self.target_growth.index.max()

    def replace_indicator(self, name: str, other: "InformationSet") -> "InformationSet":
        """This set with indicator *name* taken from *other* (used to attribute news)."""
        x = self.indicators.copy()
        new = other.indicators.get(name)
        index = x.index.union(other.indicators.index)
        x = x.reindex(index)
        x[name] = new.reindex(index) if new is not None else np.nan
        return InformationSet(self.asof, self.series, self.target_period, self.target, x.dropna(how="all"))

    def with_target(self, other: "InformationSet") -> "InformationSet":
        return InformationSet(other.asof, self.series, self.target_period, other.target, self.indicators)


def information_set(indicators: pd.DataFrame, target_vintages: pd.DataFrame, asof, target_period,
                    indicator_names: list[str] | None = None) -> InformationSet:
    """Build the information set of *asof* for nowcasting *target_period*.

    *indicators* comes from :func:`prepare_indicators`, *target_vintages* from
    :func:`prepare_targets`. Only rows with ``available_date <= asof`` and
    ``release_date <= asof`` are used.
    """
    asof = _date(asof)
    period = parse_period(target_period) if isinstance(target_period, str) else target_period
    ind = indicators[indicators["available_date"] <= asof]
    if indicator_names is not None:
        ind = ind[ind["indicator"].isin(indicator_names)]
    # rows are in availability order (prepare_indicators): "last" is the latest vintage on asof
    wide = ind.pivot_table(index="month", columns="indicator", values="value", aggfunc="last").sort_index()
    if indicator_names is not None:
        wide = wide.reindex(columns=list(indicator_names))
    wide.columns.name = None
    tv = target_vintages[target_vintages["release_date"] <= asof]
    target = tv.sort_values("vintage").groupby("ref_period", sort=True)["value"].last()
    target = target[target.index < period]
    series = str(target_vintages["series"].iloc[0]) if "series" in target_vintages else "target"
    return InformationSet(asof, series, period, target.astype(float), wide)
