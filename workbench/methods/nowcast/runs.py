"""Run kind ``nowcast``: :func:`~workbench.methods.nowcast.run.run_nowcast` on pinned gold tables.

Params: ``NowcastSpec.as_dict()``. Inputs: ``gold.indicators_monthly`` and ``gold.targets``.
Outputs: ``nowcasts`` (one row per model and combination, error-based intervals), ``track``
(the backtest behind the intervals), ``evaluation`` and, when computed, ``news``; the warnings
(models that did not converge or could not be fitted) are the run's warnings.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd
from pyspark.sql import DataFrame

from workbench.methods.nowcast.run import NowcastSpec, run_nowcast
from workbench.methods.nowcast.vintages import INDICATOR_COLUMNS, TARGET_COLUMNS, prepare_indicators, prepare_targets

INDICATORS = "gold.indicators_monthly"
TARGETS = "gold.targets"
INPUTS = (INDICATORS, TARGETS)


def prepared_inputs(indicators: pd.DataFrame, targets: pd.DataFrame, spec: NowcastSpec):
    """The two pandas frames :func:`run_nowcast` takes, from the gold tables as read.

    Rows are put in one order first: the page reads whole tables, the run only its rows, and
    the engine may return them in a different order; the nowcast must not depend on that."""
    indicators = indicators.sort_values(["available_date", "indicator", "month", "value"], kind="mergesort")
    targets = targets.sort_values(["series", "ref_period", "vintage", "release_date", "value"], kind="mergesort")
    return prepare_indicators(indicators), prepare_targets(targets, spec.series)


def nowcast_run(inputs: Mapping[str, DataFrame], params: Mapping[str, Any]) -> dict:
    spec = NowcastSpec.from_dict(params)
    indicators = inputs[INDICATORS].filter(inputs[INDICATORS]["indicator"].isin(list(spec.indicators))) \
        .select(*INDICATOR_COLUMNS).toPandas()
    targets = inputs[TARGETS].filter(inputs[TARGETS]["series"] == spec.series).select(*TARGET_COLUMNS).toPandas()
    result = run_nowcast(*prepared_inputs(indicators, targets, spec), spec)
    return {**result.outputs(), "_metrics": result.metrics(), "_warnings": result.warnings}
