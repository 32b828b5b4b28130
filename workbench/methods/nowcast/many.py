"""Many series at once (retail sales or VAT turnover by county, ...): one model per series,
run per group with ``groupBy("series_id").applyInPandas`` on the engine.

The input is an as-of snapshot: one row per (series_id, period) with the target
``value`` (null where not yet published) and one column per indicator (null where not
yet available). Building that snapshot is the caller's job and decides what was known
on the nowcast date; :func:`snapshot` does it for a long table with availability dates.
The pandas path :func:`nowcast_frame` is what every group runs, so a single series
gives the same number with or without the engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.methods.nowcast.vintages import InformationSet, parse_period

SCHEMA = ("series_id string, model string, target_period string, asof date, growth double, se double, "
          "point double, lower double, upper double, error_message string")
COLUMNS = [c.split()[0] for c in SCHEMA.split(", ")]


def _periods(values, freq: str) -> pd.PeriodIndex:
    return pd.PeriodIndex(pd.to_datetime(pd.Series(values).astype(str)), freq=freq)


def nowcast_frame(pdf: pd.DataFrame, model: str, target_period, asof, indicators: list[str],
                  alpha: float = 0.1, freq: str = "M") -> pd.DataFrame:
    """Nowcast one series from its snapshot rows (columns series_id, period, value, *indicators*).

    Returns one row with the :data:`SCHEMA` columns; a model that cannot be fitted on
    this series (too short, no indicator data) gives ``error_message`` instead of raising,
    so one bad county does not fail the whole job.
    """
    from workbench.methods.nowcast import make_model

    series_id = str(pdf["series_id"].iloc[0])
    period = parse_period(target_period) if isinstance(target_period, str) else target_period
    asof = pd.Timestamp(asof).date()
    frame = pdf.assign(_p=_periods(pdf["period"], freq)).sort_values("_p").set_index("_p")
    target = frame["value"].astype(float).dropna()
    target = target[(target.index < period) & (target > 0)]
    wide = frame[list(indicators)].astype(float).dropna(how="all")
    wide.index.name, wide.columns.name = None, None
    info = InformationSet(asof, series_id, period, target, wide)
    try:
        nc = make_model(model, list(indicators)).fit(info).predict()
        lo, hi = nc.conf_int(alpha)
        row = [nc.growth, nc.se, nc.point, lo, hi, ""]
    except (ValueError, np.linalg.LinAlgError) as exc:
        row = [np.nan] * 5 + [str(exc)]
    return pd.DataFrame([[series_id, model, str(period), asof, *row]], columns=COLUMNS)


def nowcast_many(df, model: str, target_period, asof, indicators: list[str], alpha: float = 0.1,
                 freq: str = "M"):
    """Spark DataFrame of snapshots (see :func:`nowcast_frame`) -> one nowcast row per series_id.

    Each group runs :func:`nowcast_frame` in a Python worker of the engine (Sail runs
    them in its server process; a cluster on its executors).
    """
    target_period, indicators = str(target_period), list(indicators)
    asof = pd.Timestamp(asof).date()

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        return nowcast_frame(pdf, model, target_period, asof, indicators, alpha, freq)

    columns = ["series_id", "period", "value", *indicators]
    return df.select(*columns).groupBy("series_id").applyInPandas(run, schema=SCHEMA)


def snapshot(values: pd.DataFrame, asof) -> pd.DataFrame:
    """A wide as-of snapshot from long rows (series_id, period, variable, value, available_date).

    Keeps only rows with ``available_date <= asof`` and, where a value has several vintages
    (a revised target, a month-to-date indicator), the latest of them; the variable
    ``"target"`` becomes the ``value`` column, every other variable a column of its own.
    """
    asof = pd.Timestamp(asof).date()
    available = pd.to_datetime(values["available_date"]).dt.date
    known = values[available <= asof].sort_values("available_date", kind="stable")  # "last" = latest vintage
    wide = known.pivot_table(index=["series_id", "period"], columns="variable", values="value",
                             aggfunc="last").reset_index()
    wide.columns.name = None
    if "target" not in wide:
        wide["target"] = np.nan
    return wide.rename(columns={"target": "value"})


__all__ = ["SCHEMA", "nowcast_frame", "nowcast_many", "snapshot"]
