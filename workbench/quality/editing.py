"""Editing and imputation of survey returns: pure transforms, no I/O.

The *panel* has one row per sampled unit and month it was alive: what it
reported (nothing for a non-respondent), the other sources' values, and which
cells failed error-severity rules. :func:`impute_group` fills every failed or
missing cell of one group (industry section x size class), trying in order:

1. ``ratio_<aux>_own``: the unit's own median ratio of the variable to its
   auxiliary (VAT sales for revenue, insured headcount for employment) over
   its clean months (at least ``min_history``), times this month's auxiliary;
2. ``ratio_history``: the unit's latest earlier clean value times the group's
   growth since that month (sum over units clean in both months);
3. ``ratio_<aux>_stratum``: the group's median ratio that month times the
   unit's auxiliary;
4. ``donor``: the value of the clean respondent of the same group and month
   nearest on the log of the matching variable (employment for revenue,
   revenue for employment), ties broken by credit code: deterministic, no
   random draws.

A cell none of these can fill stays empty with flag ``failed``. Each filled
cell gets flag ``imputed`` and its method; statisticians' manual values (flag
``edited``) are applied over imputations by the caller. Ratios use every clean
month of the unit, before and after: this is retrospective editing of a panel.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# variable -> (auxiliary, its short name, donor matching variable). Employment first: revenue's
# donors are matched on employment, imputed where missing.
TARGETS = {"employment": ("si_headcount", "si", "revenue"), "revenue": ("vat_sales", "vat", "employment")}
DEFAULTS = {"group_by": ["industry_section", "size_class"], "min_history": 3, "severities": ["error"]}
PANEL_COLUMNS = [
    ("credit_code", "string"), ("period", "date"), ("response", "string"),
    ("revenue_reported", "double"), ("employment_reported", "double"),
    ("vat_sales", "double"), ("si_headcount", "double"),
    ("revenue", "double"), ("revenue_flag", "string"), ("revenue_method", "string"),
    ("employment", "double"), ("employment_flag", "string"), ("employment_method", "string"),
]


def settings(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULTS, **dict(raw or {})}


def _own_ratio(df: pd.DataFrame, var: str, aux: str, clean: pd.Series, min_history: int) -> pd.Series:
    ok = clean & (df[aux] > 0)
    ratio = (df[var] / df[aux]).where(ok)
    stats = ratio.groupby(df["credit_code"]).agg(["median", "count"])
    own = stats["median"].where(stats["count"] >= min_history)
    return df["credit_code"].map(own)


def _history(df: pd.DataFrame, var: str, clean: pd.Series, todo: pd.Series) -> pd.Series:
    """Latest earlier clean value of the unit times the group's growth since that month (rows in *todo*)."""
    value = df[var].where(clean)
    last = value.groupby(df["credit_code"]).transform(lambda s: s.ffill().shift())
    last_m = df["m"].where(clean).groupby(df["credit_code"]).transform(lambda s: s.ffill().shift())
    out = pd.Series(np.nan, index=df.index)
    clean_vals = pd.Series(value.to_numpy(), index=pd.MultiIndex.from_arrays([df["credit_code"], df["m"]]))
    clean_vals = clean_vals.dropna()
    by_month = {m: grp.droplevel(1) for m, grp in clean_vals.groupby(level=1)}
    for i in np.flatnonzero((last.notna() & todo).to_numpy()):
        m, m0 = df["m"].iat[i], last_m.iat[i]
        now, then = by_month.get(m), by_month.get(m0)
        if now is None or then is None:
            continue
        both = now.index.intersection(then.index)
        if len(both) and then[both].sum() > 0:
            out.iat[i] = last.iat[i] * now[both].sum() / then[both].sum()
    return out


def _stratum_ratio(df: pd.DataFrame, var: str, aux: str, clean: pd.Series) -> pd.Series:
    ok = clean & (df[aux] > 0)
    ratio = (df[var] / df[aux]).where(ok)
    med = ratio.groupby(df["m"]).median()
    return df["m"].map(med) * df[aux].where(df[aux] > 0)


def _donor(df: pd.DataFrame, var: str, match: str, clean: pd.Series, need: pd.Series) -> pd.Series:
    out = pd.Series(np.nan, index=df.index)
    key = np.log(df[match].where(df[match] > 0))
    for idx in df.groupby("m").indices.values():
        donors = [i for i in idx if clean.iat[i]]
        if not donors:
            continue
        donors.sort(key=lambda i: df["credit_code"].iat[i])
        d_key = key.to_numpy()[donors]
        d_val = df[var].to_numpy()[donors]
        for i in idx:
            if not need.iat[i]:
                continue
            k = key.iat[i]
            if np.isfinite(k) and np.isfinite(d_key).any():
                j = int(np.nanargmin(np.where(np.isfinite(d_key), np.abs(d_key - k), np.inf)))
            else:  # nothing to match on: the donor nearest the month's median value
                j = int(np.argmin(np.abs(d_val - np.median(d_val))))
            out.iat[i] = d_val[j]
    return out


def impute_group(pdf: pd.DataFrame, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Impute one group's panel rows.

    Input columns: credit_code, period, response, revenue_reported,
    employment_reported, vat_sales, si_headcount, revenue_fail, employment_fail
    (true when an error rule failed on that cell). Returns PANEL_COLUMNS.
    """
    p = settings(params)
    df = pdf.copy()
    for c in ("revenue_reported", "employment_reported", "vat_sales", "si_headcount"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    p_dt = pd.to_datetime(df["period"])
    df["m"] = (p_dt.dt.year * 12 + p_dt.dt.month).to_numpy()
    df = df.sort_values(["credit_code", "m"], kind="mergesort").reset_index(drop=True)
    for var in TARGETS:
        df[var] = df[f"{var}_reported"]
    for var, (aux, aux_name, match) in TARGETS.items():
        failed = df[f"{var}_fail"].fillna(False).astype(bool)
        reported = df[f"{var}_reported"].notna()
        clean = reported & ~failed & (df[f"{var}_reported"] > 0 if var == "revenue" else df[var] >= 0)
        need = ~reported | failed
        value = df[var].where(~need)
        method = pd.Series(None, index=df.index, dtype=object)
        candidates = [
            (f"ratio_{aux_name}_own", lambda: _own_ratio(df, var, aux, clean, int(p["min_history"])) * df[aux].where(df[aux] > 0)),
            ("ratio_history", lambda: _history(df, var, clean, need & value.isna())),
            (f"ratio_{aux_name}_stratum", lambda: _stratum_ratio(df, var, aux, clean)),
            ("donor", lambda: _donor(df, var, match, clean, need & value.isna())),
        ]
        for name, compute in candidates:
            todo = need & value.isna()
            if not todo.any():
                break
            filled = compute()
            take = todo & filled.notna()
            if var == "employment":
                filled = filled.round()
            value = value.where(~take, filled)
            method = method.where(~take, name)
        df[var] = value
        df[f"{var}_method"] = method
        df[f"{var}_flag"] = np.where(~need, "reported", np.where(value.notna(), "imputed", "failed"))
    return df[[c for c, _ in PANEL_COLUMNS]]


def sample_grid(sample: DataFrame, enterprises: DataFrame, periods: DataFrame) -> DataFrame:
    """Sampled unit x month of its sample year, while the unit was alive: who should have reported."""
    months = periods.select(F.col("period").cast("date").alias("period")).distinct()
    units = sample.select("credit_code", "sample_year").distinct()
    alive = enterprises.select("credit_code", "birth_date", "death_date")
    grid = units.join(months, F.year("period") == F.col("sample_year")).join(alive, "credit_code", "left")
    ok = (F.col("birth_date").isNull() | (F.col("birth_date") <= F.last_day("period"))) & (
        F.col("death_date").isNull() | (F.col("death_date") >= F.col("period")))
    return grid.filter(ok).select("credit_code", "period")


def panel_inputs(grid: DataFrame, returns: DataFrame, lookups: list[tuple[tuple[str, ...], DataFrame]],
                 failing: DataFrame, key_columns: tuple[str, ...], group_by: list[str]) -> DataFrame:
    """The imputation input: grid + reported values + other sources + failed-cell flags.

    *failing*: (record_key, period, column) of failed error rules (validate.failing_cells).
    """
    rep = returns.select("credit_code", F.col("period").cast("date").alias("period"),
                         (F.col("revenue_10k").cast("double") * F.lit(10000.0)).alias("revenue_reported"),
                         F.col("employment").cast("double").alias("employment_reported"))
    rep = rep.dropDuplicates(["credit_code", "period"])
    panel = grid.join(rep, ["credit_code", "period"], "full")
    for on, agg in lookups:
        panel = panel.join(agg, list(on), "left")
    key = F.concat_ws("|", *[F.col(k).cast("string") for k in key_columns])
    fails = failing.groupBy("record_key", "period").agg(
        F.max((F.col("column") == "revenue").cast("int")).alias("_rf"),
        F.max((F.col("column") == "employment").cast("int")).alias("_ef"))
    panel = panel.withColumn("record_key", key).join(fails, ["record_key", "period"], "left")
    return panel.select(
        *[F.coalesce(F.col(c), F.lit("?")).alias(c) for c in group_by], "credit_code", "period",
        F.when(F.col("revenue_reported").isNull() & F.col("employment_reported").isNull(), F.lit("nonrespondent"))
        .otherwise(F.lit("respondent")).alias("response"),
        "revenue_reported", "employment_reported", F.col("vat_sales").cast("double"),
        F.col("si_headcount").cast("double"),
        F.coalesce(F.col("_rf") == 1, F.lit(False)).alias("revenue_fail"),
        F.coalesce(F.col("_ef") == 1, F.lit(False)).alias("employment_fail"))


def impute(inputs: DataFrame, params: Mapping[str, Any] | None = None) -> DataFrame:
    """Run :func:`impute_group` per group in Spark (``applyInPandas``)."""
    p = settings(params)
    by = list(p["group_by"])
    schema = ", ".join([f"{c} string" for c in by] + [f"{c} {t}" for c, t in PANEL_COLUMNS])

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        out = impute_group(pdf, p)
        for c in reversed(by):
            out.insert(0, c, pdf[c].iloc[0] if len(pdf) else None)
        return out

    return inputs.groupBy(*by).applyInPandas(run, schema)


def apply_manual(panel: DataFrame, manual: DataFrame) -> DataFrame:
    """Statisticians' latest values per cell (credit_code, period, column, after) over the panel."""
    wide = manual.groupBy("credit_code", "period").agg(
        F.max(F.when(F.col("column") == "revenue", F.col("after"))).alias("_rev"),
        F.max(F.when(F.col("column") == "revenue", F.lit(1))).alias("_rev_set"),
        F.max(F.when(F.col("column") == "employment", F.col("after"))).alias("_emp"),
        F.max(F.when(F.col("column") == "employment", F.lit(1))).alias("_emp_set"))
    out = panel.join(wide, ["credit_code", "period"], "left")
    for var, short in (("revenue", "_rev"), ("employment", "_emp")):
        is_set = F.col(f"{short}_set") == 1
        out = (out.withColumn(var, F.when(is_set, F.col(short)).otherwise(F.col(var)))
               .withColumn(f"{var}_flag", F.when(is_set, F.lit("edited")).otherwise(F.col(f"{var}_flag")))
               .withColumn(f"{var}_method", F.when(is_set, F.lit("manual")).otherwise(F.col(f"{var}_method"))))
    return out.drop("_rev", "_rev_set", "_emp", "_emp_set")


def change_log(panel: DataFrame) -> DataFrame:
    """One row per imputed cell: credit_code, period, column, before, after, method, reason."""
    parts = []
    for var in TARGETS:
        parts.append(panel.filter(F.col(f"{var}_flag") == "imputed").select(
            "credit_code", "period", F.lit(var).alias("column"), F.col(f"{var}_reported").alias("before"),
            F.col(var).alias("after"), F.col(f"{var}_method").alias("method"),
            F.when(F.col("response") == "nonrespondent", F.lit("non-response"))
            .when(F.col(f"{var}_reported").isNull(), F.lit("item non-response"))
            .otherwise(F.lit("failed an error rule")).alias("reason")))
    return parts[0].unionByName(parts[1])


CELL = ["credit_code", "period", "column"]


def new_imputations(log: DataFrame, logged: DataFrame | None) -> DataFrame:
    """The rows of *log* (a rebuild's :func:`change_log`) whose cell has no logged edit yet,
    or whose value or method differs from the cell's latest logged edit (*logged*: the change
    log so far). A rebuild used to log every imputed cell of the panel again, so the log grew
    by the whole panel with every new month: the history of a cell is its changes."""
    if logged is None:
        return log
    from pyspark.sql.window import Window

    latest = (logged.withColumn("_n", F.row_number().over(
        Window.partitionBy(*CELL).orderBy(F.desc("edited_at"), F.desc("edit_id"))))
        .filter("_n = 1").select(*CELL, F.col("after").alias("_after"), F.col("method").alias("_method"),
                                 F.lit(True).alias("_logged")))
    same = F.col("_after").eqNullSafe(F.col("after")) & F.col("_method").eqNullSafe(F.col("method"))
    return (log.join(latest, CELL, "left").filter(F.col("_logged").isNull() | ~same)
            .drop("_after", "_method", "_logged"))
