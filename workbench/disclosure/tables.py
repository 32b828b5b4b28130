"""Release tables from microdata: cell statistics in the engine, the table's cells and its protection.

:func:`finest_stats` runs in the engine (Spark ``groupBy``): per finest cell
(period x measure x areas x category) the number of contributors, the total and
the largest contributions, after summing each contributor's rows. Everything after
that is small and pure (pandas/NumPy): :func:`release_cells` adds the margins,
:func:`protect_cells` applies the primary rules and secondary suppression per
period and measure (each is its own linked table).

The run kind ``area_industry_release`` publishes such a table; its spec (microdata,
hierarchy, measures) is in ``conf/disclosure.toml``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.disclosure.cells import TOTAL, equation_matrix, equations, hierarchical_cells
from workbench.disclosure.rules import primary
from workbench.disclosure.secondary import protect
from workbench.disclosure.settings import Rules, TableSpec, load_disclosure_settings

KIND = "area_industry_release"
GROUP = ["period", "measure"]


def finest_stats(micro: DataFrame, spec: TableSpec, measures: Sequence[str], first: str | None = None,
                 last: str | None = None, depth: int = 2) -> pd.DataFrame:
    """Per finest cell: n contributors (non-null values), total, magnitude (sum of absolute
    contributions), minimum contribution, top1..top<depth> by magnitude (engine side)."""
    unknown = [m for m in measures if m not in micro.columns]
    if unknown:
        raise ValueError(f"measure(s) {unknown} not in {spec.microdata}; columns: {', '.join(micro.columns)}")
    period = F.date_format(F.col(spec.period), "yyyy-MM")
    df = micro.withColumn("_period", period)
    if first:
        df = df.filter(F.col("_period") >= first)
    if last:
        df = df.filter(F.col("_period") <= last)
    keys = [*spec.geography, spec.category]
    long = None
    for m in measures:
        part = df.select(F.col("_period").alias("period"), F.lit(m).alias("measure"), *keys, spec.contributor,
                         F.col(m).cast("double").alias("v")).filter(F.col("v").isNotNull())
        long = part if long is None else long.unionByName(part)
    by = ["period", "measure", *keys]
    per_contributor = long.groupBy(*by, spec.contributor).agg(F.sum("v").alias("v"))
    # Rules rank contributions by size; a negative one (a refund) counts by its magnitude.
    top = F.slice(F.sort_array(F.collect_list(F.abs("v")), asc=False), 1, depth)
    cells = per_contributor.groupBy(*by).agg(F.count(F.lit(1)).alias("n"), F.sum("v").alias("total"),
                                             F.sum(F.abs("v")).alias("magnitude"), F.min("v").alias("minimum"),
                                             top.alias("top"))
    cells = cells.select(*by, "n", "total", "magnitude", "minimum",
                         *[F.get(F.col("top"), k).alias(f"top{k + 1}") for k in range(depth)])
    out = cells.toPandas()
    out["n"] = out["n"].astype("int64")
    return out.sort_values(by, kind="mergesort").reset_index(drop=True)


def release_cells(finest: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Every cell with its margins, per period and measure (keys, n, total, top1..)."""
    parts = []
    for (period, measure), group in finest.groupby(GROUP, sort=True):
        cells = hierarchical_cells(group, spec.geography, spec.category)
        parts.append(cells.assign(period=period, measure=measure))
    if not parts:
        return pd.DataFrame(columns=[*GROUP, *spec.keys, "n", "total"])
    cells = pd.concat(parts, ignore_index=True)
    return cells[[*GROUP, *spec.keys] + [c for c in cells.columns if c not in (*GROUP, *spec.keys)]]


def nonnegative(cells: pd.DataFrame) -> bool:
    """Whether the attacker may assume a table's cells are not negative (every contribution >= 0)."""
    return bool("minimum" not in cells.columns or (cells["minimum"].fillna(0) >= 0).all())


def protect_cells(cells: pd.DataFrame, spec: TableSpec, rules: Rules) -> pd.DataFrame:
    """*cells* with primary, rules, suppressed, secondary (per period and measure).

    The pattern is audited by :func:`workbench.disclosure.gate.verify_pattern`."""
    out = []
    for _, group in cells.groupby(GROUP, sort=True):
        group = primary(group.reset_index(drop=True), rules)
        A = equation_matrix(len(group), equations(group, spec.geography, spec.category))
        result = protect(group["total"].to_numpy(dtype=float), A, group["primary"].to_numpy(), rules.protection,
                         rules.cost, nonnegative=nonnegative(group), final_audit=False)
        out.append(group.assign(suppressed=result.suppressed, secondary=result.secondary, milps=result.milps))
    if not out:
        return cells.assign(primary=False, rules="", suppressed=False, secondary=False, milps=0)
    return pd.concat(out, ignore_index=True)


def published_frame(cells: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """The table as a run outputs it, before protection: keys, contributors, value."""
    out = cells[[*GROUP, *spec.keys]].copy()
    out["contributors"] = cells["n"].astype("int64")
    out["value"] = cells["total"].astype(float)
    return out


def table_params(params: Mapping[str, Any], spec: TableSpec) -> tuple[list[str], str | None, str | None]:
    measures = list(params.get("measures") or spec.measures)
    return measures, params.get("first"), params.get("last")


def area_industry_release(inputs: Mapping[str, DataFrame], params: Mapping[str, Any]) -> dict:
    """Totals by area hierarchy x category x period with all margins, for release.

    params: ``measures`` (default: the spec's), ``first`` and ``last`` period (``YYYY-MM``).
    """
    spec = load_disclosure_settings().tables[KIND]
    measures, first, last = table_params(params, spec)
    cells = release_cells(finest_stats(inputs[spec.microdata], spec, measures, first, last), spec)
    table = published_frame(cells, spec)
    return {"table": table, "_metrics": {"cells": len(table), "periods": int(table["period"].nunique()),
                                         "measures": measures}}


__all__ = ["KIND", "TOTAL", "finest_stats", "release_cells", "protect_cells", "published_frame", "table_params",
           "area_industry_release"]
