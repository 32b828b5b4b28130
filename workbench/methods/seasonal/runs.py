"""Run kind ``seasonal_adjustment``: one series with an X-13 spec.

The series is an indicator of ``gold.indicators_monthly`` (param ``indicator``) or a published
series of ``gold.targets`` at its latest vintage (param ``series``: retail sales, GDP ...). The
spec (``X13Spec.as_dict()``) is a run parameter and its ``.spc`` text an output, so the run
records exactly what X-13 was asked to do and reproduces it from the pinned table version.
Months filled or left out, and a refusal, are the run's warnings.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.methods.indicators import final_indicator_values
from workbench.methods.seasonal.adjust import X13Spec, adjust

INDICATORS = "gold.indicators_monthly"
TARGETS = "gold.targets"
# what a statistician adjusts first: offered at the top of the list
FIRST = ("retail_sales", "gdp", "employment")


def published_series_names(targets: pd.DataFrame) -> list[str]:
    """Published series that can be seasonally adjusted: monthly or quarterly, one area, not a
    year-on-year rate (a change over twelve months carries no seasonal pattern to remove)."""
    names = []
    for name, g in targets.groupby("series"):
        label = str(g["ref_period"].iloc[0])  # "2024-03", "2024Q1" or a year "2024"
        regular = len(label) >= 6 and (label[4] == "-" or label[4].upper() == "Q")
        if regular and g["area_code"].nunique() == 1 and not str(name).endswith("_yoy"):
            names.append(str(name))
    return sorted(names, key=lambda n: (FIRST.index(n) if n in FIRST else len(FIRST), n))


def published_series(targets: pd.DataFrame, series: str) -> pd.Series:
    """The latest vintage of a published series (month or quarter start index)."""
    from workbench.methods.nowcast.vintages import final_values, prepare_targets

    latest = final_values(prepare_targets(targets, series))
    index = pd.DatetimeIndex([p.start_time for p in latest.index])
    return pd.Series(latest.to_numpy(float), index=index, name=series)


def indicator_series(indicators: pd.DataFrame, indicator: str) -> pd.Series:
    """One indicator as a monthly series (month start index) of its final values."""
    df = final_indicator_values(indicators[indicators["indicator"] == indicator])
    return pd.Series(df["value"].to_numpy(float), index=pd.to_datetime(df["month"]), name=indicator).asfreq("MS")


def seasonal_outputs(series: pd.Series, spec: X13Spec, method: str = "x13") -> dict:
    res = adjust(series, method=method, spec=spec)
    frame = res.frame().assign(si=res.si_ratios()).reset_index(names="month")
    frame["month"] = frame["month"].dt.date
    numeric = {k: float(v) for k, v in res.diagnostics.items() if isinstance(v, (int, float))}
    diagnostics = pd.DataFrame({"statistic": list(numeric), "value": list(numeric.values())})
    metrics = {"method": res.method, **{k: v for k, v in numeric.items() if k in ("M1", "M7", "Q", "Q2")},
               **({"fallback_reason": res.diagnostics["fallback_reason"]} if "fallback_reason" in res.diagnostics
                  else {})}
    if res.filled:
        metrics["filled"] = ", ".join(res.filled)
    if res.refusal:
        metrics["refusal"] = res.refusal
    return {"series": frame, "diagnostics": diagnostics, "spec": pd.DataFrame({"spc": [res.spec]}),
            "coefficients": res.coefficients.astype({"estimate": float, "se": float}), "_metrics": metrics,
            "_warnings": res.notes(), "_result": res}


def input_table(params: Mapping[str, Any]) -> str:
    """The table a seasonal run reads: the published series' or the indicators'."""
    return TARGETS if params.get("series") else INDICATORS


def seasonal_run(inputs: Mapping[str, DataFrame], params: Mapping[str, Any]) -> dict:
    if params.get("series"):
        targets = inputs[TARGETS].filter(F.col("series") == params["series"]).select(
            "series", "area_code", "ref_period", "release_date", "vintage", "value").toPandas()
        series = published_series(targets, params["series"])
    else:
        ind = inputs[INDICATORS].filter(F.col("indicator") == params["indicator"]).select(
            "indicator", "month", "value", "available_date").toPandas()
        series = indicator_series(ind, params["indicator"])
    out = seasonal_outputs(series, X13Spec.from_dict(params["spec"]), params.get("method", "x13"))
    out.pop("_result")
    return out
