"""Many series at once: retail and catering VAT turnover by county, one model per county
inside ``groupBy().applyInPandas`` on the embedded Sail engine, checked against the
single-series pandas path and the snapshot's availability rule (no look-ahead)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from numpy.testing import assert_allclose
from pyspark.sql import functions as F

from workbench.methods import nowcast as nc

ASOF = dt.date(2026, 10, 12)  # September VAT (20 days after month end) not yet in, electricity (10) and cards (2) are
INDICATORS = ["card_amount", "electricity_kwh"]


def _county_snapshot(demo_lake):
    """County x month: VAT sales of sections F and H as the target, card and electricity as indicators,
    each kept only once available on ASOF (the lags of gold.indicators_monthly)."""
    def known(column, lag_days):
        return F.when(F.date_add(F.last_day("period"), lag_days) <= F.lit(ASOF), F.col(column))

    return (demo_lake.lake.read("gold.area_industry_month").filter(F.col("industry_section").isin("F", "H"))
            .groupBy(F.col("county_code").cast("string").alias("series_id"), "period")
            .agg(F.sum("vat_sales").alias("vat"), F.sum("card_amount").alias("card"),
                 F.sum("electricity_kwh").alias("kwh"))
            .select("series_id", "period", known("vat", 20).alias("value"), known("card", 2).alias("card_amount"),
                    known("kwh", 10).alias("electricity_kwh")))


def test_nowcast_by_county_on_the_engine_matches_pandas(demo_lake):
    snap = _county_snapshot(demo_lake)
    out = nc.nowcast_many(snap, "bridge", "2026-09", ASOF, INDICATORS).toPandas()
    pdf = snap.toPandas()
    assert set(out["series_id"]) == set(pdf["series_id"]) and len(out) == pdf["series_id"].nunique() > 3
    assert (out["error_message"] == "").all(), out
    assert ((out["lower"] < out["point"]) & (out["point"] < out["upper"])).all()
    # nothing from after the nowcast date: September's VAT is not in the snapshot
    sept = pdf[pd.to_datetime(pdf["period"]) == pd.Timestamp("2026-09-01")]
    assert sept["value"].isna().all() and sept["electricity_kwh"].notna().all()
    for county in sorted(out["series_id"])[:2]:
        ref = nc.nowcast_frame(pdf[pdf["series_id"] == county], "bridge", "2026-09", ASOF, INDICATORS)
        got = out.set_index("series_id").loc[county]
        assert_allclose(got[["growth", "se", "point", "lower", "upper"]].to_numpy(float),
                        ref.iloc[0][["growth", "se", "point", "lower", "upper"]].to_numpy(float), rtol=1e-10)
    # and the county nowcasts are close to what was then published (VAT for September, in the lake now)
    actual = (demo_lake.lake.read("gold.area_industry_month").filter(F.col("industry_section").isin("F", "H"))
              .filter(F.col("period") == F.lit(dt.date(2026, 9, 1)))
              .groupBy(F.col("county_code").cast("string").alias("series_id")).agg(F.sum("vat_sales").alias("a"))
              .toPandas().set_index("series_id")["a"])
    rel = (out.set_index("series_id")["point"] / actual.reindex(out["series_id"]).to_numpy() - 1).abs()
    assert rel.median() < 0.15, rel


def test_snapshot_keeps_the_latest_vintage_known_on_the_date():
    rows = pd.DataFrame({
        "series_id": "A", "period": "2026-05", "variable": ["cards", "cards", "cards", "target", "target"],
        "value": [13.0, 10.0, 12.0, 101.0, 100.0],
        "available_date": [dt.date(2026, 6, 2), dt.date(2026, 5, 20), dt.date(2026, 5, 10),
                           dt.date(2026, 7, 15), dt.date(2026, 6, 15)]})
    snap = nc.snapshot(rows, dt.date(2026, 6, 20))
    assert snap.loc[0, "cards"] == 13.0 and snap.loc[0, "value"] == 100.0  # rows out of order on purpose
    assert nc.snapshot(rows, dt.date(2026, 5, 25)).loc[0, "cards"] == 10.0
