"""Registered run kind ``online_price_index``: the indices from pinned silver prices.

Params: ``frequency``, ``method``, ``window``, ``splice``. Inputs: ``silver.prices_daily``
and, when present, ``gold.targets`` (for the comparison metrics with the official CPI).
Outputs: ``indices`` (period, series = total or a COICOP group, index), ``elementary``
and ``classification`` (every item with its group, confidence and review flag).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame

from workbench.methods.prices import aggregate
from workbench.methods.prices.online import OnlineIndex, official_cpi, online_index

PRICES = "silver.prices_daily"
TARGETS = "gold.targets"


def run_outputs(result: OnlineIndex, official: pd.DataFrame | None = None) -> dict:
    """The run's output tables and metrics from a computed index."""
    wide = result.groups.assign(total=result.total)
    indices = wide.reset_index(names="period").melt("period", var_name="series", value_name="index").dropna()
    indices["period"] = pd.to_datetime(indices["period"]).dt.date
    ea = result.ea.assign(period=pd.to_datetime(result.ea["period"]).dt.date, index=100 * np.exp(result.ea["logindex"]))
    classes = result.classification[["retailer", "product_id", "product_name", "category_path", "coicop", "source",
                                     "confidence", "review"]].astype({"confidence": float, "review": bool})
    metrics: dict[str, Any] = {k: v for k, v in result.summary().items() if isinstance(v, (int, float, str))}
    if official is not None and "cpi_mom" in official:
        cmp = aggregate.compare_with_cpi(result.monthly()["total"], official["cpi_mom"])
        metrics.update({"corr_mom_official": cmp["correlation"], "best_lag": cmp["best_lag"],
                        "rmse_pp": cmp["rmse_pp"]})
    return {"indices": indices, "elementary": ea[["period", "coicop", "ea", "index", "items"]],
            "classification": classes, "_metrics": metrics}


def online_price_index_run(inputs: Mapping[str, DataFrame], params: Mapping[str, Any]) -> dict:
    result = online_index(inputs[PRICES], frequency=params.get("frequency", "month"), method=params.get("method"),
                          window=params.get("window"), splice=params.get("splice"))
    official = official_cpi(inputs[TARGETS].toPandas()) if TARGETS in inputs else None
    return run_outputs(result, official)
