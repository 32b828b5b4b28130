"""Registered run kind ``seasonal_adjustment``: one indicator of ``gold.indicators_monthly`` with an X-13 spec.

The spec (``X13Spec.as_dict()``) is a run parameter and its ``.spc`` text an output, so the run
records exactly what X-13 was asked to do and reproduces it from the pinned table version.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.catalog import final_indicator_values
from workbench.methods.seasonal.adjust import X13Spec, adjust
from workbench.runs import registry

INDICATORS = "gold.indicators_monthly"


def indicator_series(indicators: pd.DataFrame, indicator: str) -> pd.Series:
    """One indicator as a monthly series (month start index) of its final values."""
    df = final_indicator_values(indicators[indicators["indicator"] == indicator])
    return pd.Series(df["value"].to_numpy(float), index=pd.to_datetime(df["month"]), name=indicator).asfreq("MS")


def seasonal_outputs(series: pd.Series, spec: X13Spec, method: str = "x13") -> dict:
    res = adjust(series, method=method, spec=spec)
    frame = res.frame().reset_index(names="month")
    frame["month"] = frame["month"].dt.date
    numeric = {k: float(v) for k, v in res.diagnostics.items() if isinstance(v, (int, float))}
    diagnostics = pd.DataFrame({"statistic": list(numeric), "value": list(numeric.values())})
    metrics = {"method": res.method, **{k: v for k, v in numeric.items() if k in ("M1", "M7", "Q", "Q2")},
               **({"fallback_reason": res.diagnostics["fallback_reason"]} if "fallback_reason" in res.diagnostics
                  else {})}
    return {"series": frame, "diagnostics": diagnostics, "spec": pd.DataFrame({"spc": [res.spec]}),
            "coefficients": res.coefficients.astype({"estimate": float, "se": float}), "_metrics": metrics,
            "_result": res}


@registry.method("seasonal_adjustment")
def seasonal_run(inputs: Mapping[str, DataFrame], params: Mapping[str, Any]) -> dict:
    ind = inputs[INDICATORS].filter(F.col("indicator") == params["indicator"]).select(
        "indicator", "month", "value", "available_date").toPandas()
    out = seasonal_outputs(indicator_series(ind, params["indicator"]), X13Spec.from_dict(params["spec"]),
                           params.get("method", "x13"))
    out.pop("_result")
    return out
