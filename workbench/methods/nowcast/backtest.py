"""Pseudo-real-time backtest: for every reference period and every point of the release calendar,
rebuild the information set as it was on that date, refit every model and nowcast.

Horizons are weeks before the first release: the nowcast date is
``release_date - 7 * horizon`` days and :func:`~workbench.methods.nowcast.vintages.information_set`
drops everything released after it.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from workbench.methods.nowcast.models import NowcastModel
from workbench.methods.nowcast.vintages import information_set, release_calendar

COLUMNS = ["model", "ref_period", "horizon", "asof", "release_date", "growth", "se", "point", "lower", "upper",
           "error_message"]


def nowcast_dates(target_vintages: pd.DataFrame, periods: int, horizons) -> pd.DataFrame:
    """The last *periods* released reference periods x *horizons* (weeks before first release)."""
    cal = release_calendar(target_vintages).tail(periods)
    rows = [(p, h, d - dt.timedelta(days=7 * h), d) for p, d in zip(cal["ref_period"], cal["release_date"])
            for h in horizons]
    return pd.DataFrame(rows, columns=["ref_period", "horizon", "asof", "release_date"])


def backtest(indicators: pd.DataFrame, target_vintages: pd.DataFrame,
             models: Mapping[str, Callable[[], NowcastModel]], periods: int = 36, horizons=(0, 1, 2, 4),
             indicator_names: list[str] | None = None, alpha: float = 0.1,
             progress: Callable[[float, str], None] | None = None) -> pd.DataFrame:
    """Nowcast every (period, horizon) with every model, each refitted on that date's information.

    *models* maps a name to a factory returning an unfitted model. A model that fails on
    one information set (too little data) gives a row with ``error_message`` set, not an abort.
    """
    dates = nowcast_dates(target_vintages, periods, horizons)
    rows = []
    for i, d in enumerate(dates.itertuples(index=False)):
        info = information_set(indicators, target_vintages, d.asof, d.ref_period, indicator_names)
        for name, factory in models.items():
            try:
                nc = factory().fit(info).predict()
                lo, hi = nc.conf_int(alpha)
                rows.append((name, d.ref_period, d.horizon, d.asof, d.release_date, nc.growth, nc.se, nc.point,
                             lo, hi, ""))
            except (ValueError, np.linalg.LinAlgError) as exc:
                rows.append((name, d.ref_period, d.horizon, d.asof, d.release_date, *[np.nan] * 5, str(exc)))
        if progress is not None:
            progress((i + 1) / len(dates), f"{d.ref_period} h={d.horizon}")
    return pd.DataFrame(rows, columns=COLUMNS)


def attach_actuals(bt: pd.DataFrame, actual: pd.Series) -> pd.DataFrame:
    """Add ``actual`` (a Series by reference Period, e.g. the latest vintage or the demo's truth)."""
    return bt.assign(actual=bt["ref_period"].map(actual).astype(float))
