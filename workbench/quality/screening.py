"""Outlier screening and the anti-fraud score for survey returns.

Pure transforms: :func:`screen_group` works on one group's pandas frame (an
industry section x size class: a unit's whole history stays in one group) and
is what ``groupBy().applyInPandas`` runs; :func:`screen` is the Spark wrapper;
:func:`fraud_queue` ranks respondents. No I/O.

Per record (unit x month):

* **HB** (:func:`workbench.quality.outliers.hidiroglou_berthelot`) on the
  month-on-month ratio of revenue, per group and month;
* **robust z** of log revenue, per group and month;
* **cross-source gaps**: ``gap = ln(survey revenue / VAT sales)`` and
  ``si_gap = ln(employment / insured headcount)``, standardised robustly by the
  group's median and MAD over all months (the whole population's when the group
  has too few values), so an industry whose VAT and survey concepts differ is
  not flagged for that;
* **history**: the mean standardised gap over the unit's last ``window``
  reported months, and the share of its last 12 months with an upward gap
  above ``gap_z_flag``. A unit that inflates its returns shows a gap that
  persists; noise does not.

The fraud score (0-100) is the weighted mean of five parts, each on a 0-10
scale: the month's VAT gap, the persistent VAT gap, the history share, an HB
upward flag, and the social-insurance gap. Missing evidence counts as 0.
Records failing a unit-error rule are left out of screening (they are a
different error, fixed by editing) and treated as missing.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.quality.outliers import MAD_SCALE, hidiroglou_berthelot, robust_z

DEFAULTS: dict[str, Any] = {
    "group_by": ["industry_section", "size_class"],
    "hb": {"U": 0.5, "A": 0.05, "C": 7.0},
    "robust_z": {"threshold": 3.5},
    "min_group": 5,
    "min_pool": 30,
    "fraud": {"weights": {"vat_gap": 1.0, "vat_gap_persistent": 2.0, "history_share": 1.0, "hb_upward": 0.5,
                          "si_gap": 0.5},
              "window": 6, "gap_z_flag": 3.0, "queue_size": 200},
}
PARTS = ("vat_gap", "vat_gap_persistent", "history_share", "hb_upward", "si_gap")

SCREEN_COLUMNS = [
    ("credit_code", "string"), ("period", "date"), ("value", "double"), ("prev_value", "double"),
    ("employment", "double"), ("vat_sales", "double"), ("si_headcount", "double"),
    ("hb_ratio", "double"), ("hb_score", "double"), ("hb_lower", "double"), ("hb_upper", "double"),
    ("hb_outlier", "boolean"), ("hb_upward", "boolean"), ("z_level", "double"), ("z_outlier", "boolean"),
    ("gap", "double"), ("gap_z", "double"), ("gap_z_persistent", "double"), ("history_share", "double"),
    ("si_gap_z", "double"), ("fraud_score", "double"),
]


def settings(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The rule file's ``screening`` section over the defaults (nested dicts merged)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    out["fraud"]["weights"] = dict(DEFAULTS["fraud"]["weights"])
    for key, value in (raw or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            for k2, v2 in value.items():
                if isinstance(v2, dict) and isinstance(out[key].get(k2), dict):
                    out[key][k2] = {**out[key][k2], **v2}
                else:
                    out[key][k2] = v2
        else:
            out[key] = value
    unknown = set(out["fraud"]["weights"]) - set(PARTS)
    if unknown:
        raise ValueError(f"screening.fraud.weights: unknown part(s) {sorted(unknown)}; parts: {', '.join(PARTS)}")
    return out


def _month_index(period: pd.Series) -> np.ndarray:
    p = pd.to_datetime(period)
    return (p.dt.year * 12 + p.dt.month).to_numpy()


def _rolling_mean(values: pd.Series, units: pd.Series, window: int) -> pd.Series:
    """Mean of each unit's last *window* available values (NaN skipped), row by row."""
    rolled = values.groupby(units.to_numpy(), sort=False).rolling(window, min_periods=1).mean()
    return pd.Series(rolled.to_numpy(), index=values.index) if len(values) else values.astype(float)


def screen_group(pdf: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """Screen one group's records (columns: credit_code, period, value, employment, vat_sales,
    si_headcount, gap_center, gap_scale, si_center, si_scale). Returns SCREEN_COLUMNS."""
    p = settings(params)
    hb, fraud = p["hb"], p["fraud"]
    df = pdf.copy()
    for c in ("value", "employment", "vat_sales", "si_headcount"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["m"] = _month_index(df["period"])
    df = df.sort_values(["credit_code", "m"], kind="mergesort").reset_index(drop=True)
    prev = df[["credit_code", "m", "value"]].assign(m=df["m"] + 1).rename(columns={"value": "prev_value"})
    df = df.merge(prev, on=["credit_code", "m"], how="left")
    n = len(df)
    cols = {c: np.full(n, np.nan) for c in ("hb_ratio", "hb_score", "hb_lower", "hb_upper", "z_level")}
    flags = {c: np.zeros(n, dtype=bool) for c in ("hb_outlier", "hb_upward", "z_outlier")}
    level = np.log(df["value"].where(df["value"] > 0))
    for _, idx in df.groupby("m").indices.items():
        r = hidiroglou_berthelot(df["prev_value"].to_numpy()[idx], df["value"].to_numpy()[idx],
                                 U=hb["U"], A=hb["A"], C=hb["C"], min_units=p["min_group"])
        cols["hb_ratio"][idx], cols["hb_score"][idx] = r.ratio, r.score
        cols["hb_lower"][idx], cols["hb_upper"][idx] = r.lower, r.upper
        flags["hb_outlier"][idx], flags["hb_upward"][idx] = r.outlier, r.upward
        z = robust_z(level.to_numpy()[idx], min_units=p["min_group"])
        cols["z_level"][idx] = z
        flags["z_outlier"][idx] = np.abs(np.nan_to_num(z)) > p["robust_z"]["threshold"]
    df = df.assign(**cols, **flags)

    ok = (df["value"] > 0) & (df["vat_sales"] > 0)
    df["gap"] = np.where(ok, np.log(df["value"].where(ok) / df["vat_sales"].where(ok)), np.nan)
    df["gap_z"] = (df["gap"] - df["gap_center"]) / df["gap_scale"]
    ok_si = (df["employment"] > 0) & (df["si_headcount"] > 0)
    si_gap = np.where(ok_si, np.log(df["employment"].where(ok_si) / df["si_headcount"].where(ok_si)), np.nan)
    df["si_gap_z"] = (si_gap - df["si_center"]) / df["si_scale"]

    clipped = df["gap_z"].clip(lower=0, upper=10)
    upward = (df["gap_z"] > fraud["gap_z_flag"]).astype(float).where(df["gap_z"].notna())
    # rows are sorted by unit and month, so the grouped rolling means line up with df's rows
    df["gap_z_persistent"] = _rolling_mean(clipped, df["credit_code"], int(fraud["window"]))
    df["history_share"] = _rolling_mean(upward, df["credit_code"], 12)

    parts = {
        "vat_gap": clipped,
        "vat_gap_persistent": df["gap_z_persistent"].clip(0, 10),
        "history_share": 10 * df["history_share"],
        "hb_upward": 10 * df["hb_upward"].astype(float),
        "si_gap": df["si_gap_z"].clip(lower=0, upper=10),
    }
    weights = fraud["weights"]
    total = sum(float(weights.get(k, 0)) for k in PARTS) or 1.0
    score = sum(float(weights.get(k, 0)) * parts[k].fillna(0).to_numpy() for k in PARTS)
    df["fraud_score"] = 10 * score / total
    return df[[c for c, _ in SCREEN_COLUMNS]]


def _robust_stats(df: DataFrame, value: str, by: list[str]) -> DataFrame:
    """Median, scaled MAD and count of *value* per *by* (all rows when *by* is empty)."""
    grouped = df.filter(F.col(value).isNotNull())
    med = (grouped.groupBy(*by) if by else grouped.groupBy()).agg(
        F.expr(f"percentile({value}, 0.5)").alias("center"), F.count(value).alias("n"))
    joined = grouped.join(med, by) if by else grouped.crossJoin(med)
    mad = (joined.groupBy(*by) if by else joined.groupBy()).agg(
        (F.lit(MAD_SCALE) * F.expr(f"percentile(abs({value} - center), 0.5)")).alias("scale"),
        F.first("center").alias("center"), F.first("n").alias("n"))
    return mad


def _pooled(df: DataFrame, value: str, by: list[str], min_pool: int, prefix: str) -> DataFrame:
    """Per group: center and scale of *value*, the population's where the group is too small."""
    local = _robust_stats(df, value, by)
    overall = _robust_stats(df, value, []).select(F.col("center").alias("g_center"), F.col("scale").alias("g_scale"))
    use_local = (F.col("n") >= min_pool) & (F.col("scale") > 0)
    return (local.crossJoin(overall).select(
        *by,
        F.when(use_local, F.col("center")).otherwise(F.col("g_center")).alias(f"{prefix}_center"),
        F.when(use_local, F.col("scale")).otherwise(F.col("g_scale")).alias(f"{prefix}_scale")))


def screen(records: DataFrame, params: Mapping[str, Any] | None = None) -> DataFrame:
    """Screen survey records in Spark, per group with ``applyInPandas``.

    *records*: credit_code, period, the group columns, value (revenue, yuan; NULL
    where a unit-error rule failed), employment, vat_sales, si_headcount.
    Returns the group columns followed by SCREEN_COLUMNS.
    """
    p = settings(params)
    by = list(p["group_by"])
    df = records.withColumn("gap", F.when((F.col("value") > 0) & (F.col("vat_sales") > 0),
                                          F.log(F.col("value") / F.col("vat_sales"))))
    df = df.withColumn("si_gap", F.when((F.col("employment") > 0) & (F.col("si_headcount") > 0),
                                        F.log(F.col("employment") / F.col("si_headcount"))))
    gap = _pooled(df, "gap", by, int(p["min_pool"]), "gap")
    si = _pooled(df, "si_gap", by, int(p["min_pool"]), "si")
    inputs = (df.drop("gap", "si_gap").join(gap, by, "left").join(si, by, "left")
              .select(*by, "credit_code", "period", F.col("value").cast("double"),
                      F.col("employment").cast("double"), F.col("vat_sales").cast("double"),
                      F.col("si_headcount").cast("double"), "gap_center", "gap_scale", "si_center", "si_scale"))
    schema = ", ".join([f"{c} string" for c in by] + [f"{c} {t}" for c, t in SCREEN_COLUMNS])

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        keys = pdf[by].iloc[0] if len(pdf) else None
        out = screen_group(pdf, p)
        for c in reversed(by):
            out.insert(0, c, keys[c] if keys is not None else None)
        return out

    return inputs.groupBy(*by).applyInPandas(run, schema)


def fraud_queue(scores: pd.DataFrame, size: int | None = None, gap_z_flag: float | None = None) -> pd.DataFrame:
    """Respondents ranked by their peak fraud score, with the evidence a reviewer reads first.

    *scores*: SCREEN_COLUMNS. One row per respondent: rank, peak score and its
    month, the latest score and month, months reported, months with an upward
    VAT gap above *gap_z_flag*, months with an HB upward outlier, and the median
    survey-to-VAT ratio.
    """
    flag = DEFAULTS["fraud"]["gap_z_flag"] if gap_z_flag is None else gap_z_flag
    s = scores.assign(flagged=(scores["gap_z"] > flag).astype(int), hb_up=scores["hb_upward"].astype(int))
    peak = (s.sort_values(["credit_code", "fraud_score", "period"], ascending=[True, False, False])
            .drop_duplicates("credit_code")[["credit_code", "fraud_score", "period"]]
            .rename(columns={"fraud_score": "peak_score", "period": "peak_period"}))
    latest = (s.sort_values(["credit_code", "period"]).drop_duplicates("credit_code", keep="last")
              [["credit_code", "fraud_score", "period"]]
              .rename(columns={"fraud_score": "latest_score", "period": "latest_period"}))
    agg = s.groupby("credit_code").agg(months_reported=("period", "count"), months_gap_flagged=("flagged", "sum"),
                                      hb_upward_months=("hb_up", "sum"), median_gap=("gap", "median")).reset_index()
    q = peak.merge(latest, on="credit_code").merge(agg, on="credit_code")
    q["survey_to_vat"] = np.exp(q.pop("median_gap"))
    q = q.sort_values(["peak_score", "credit_code"], ascending=[False, True]).reset_index(drop=True)
    q.insert(0, "rank", np.arange(1, len(q) + 1))
    return q if size is None else q.head(size)
