"""Indicators built from the enterprise panel for nowcasting (pure Spark transforms).

Why: the demo's retail sales are concentrated (on the small demo one car dealer is
about half of the total) and city totals of electricity or VAT are dominated by
industry, so they barely move with retail. A matched-firm index over the retail
and catering divisions, each firm weighted by what it sold the month before,
follows the target's own firms: its month-on-month ratio is

    r_m = sum_i w_i,prev * x_i,m / x_i,prev / sum_i w_i,prev

over firms reporting *x* (electricity) in both months, with *w* their VAT sales of
the previous month, chained to a level index (first month = 100). Month m's value
is available when *x* for m is (``lag_days`` after month end); the weights are
older and were available before that.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

# GB/T 4754-2017 divisions of 社会消费品零售总额's core: 52 retail, 61 accommodation, 62 catering
RETAIL_DIVISIONS = ("52", "61", "62")


def matched_firm_index(panel: DataFrame, name: str, value: str = "electricity_kwh", weight: str = "vat_sales",
                       divisions=RETAIL_DIVISIONS, lag_days: int = 10,
                       unit: str = "index, first month = 100") -> DataFrame:
    """Chain-linked matched-firm index of *value* over *divisions* (see module docstring).

    *panel* is ``gold.enterprise_month`` (credit_code, industry_division, period, value and
    weight columns). Returns rows (indicator, month, value, unit, available_date) for
    ``gold.indicators_monthly``. A month whose predecessor has no data is linked to the
    latest earlier month that has (so a missing delivery does not break the chain).
    """
    p = (panel.filter(F.col("industry_division").isin(list(divisions)) & (F.col(value) > 0))
         .select("credit_code", F.col("period").alias("month"), F.col(value).cast("double").alias("x"),
                 F.col(weight).cast("double").alias("w")))
    one = Window.partitionBy(F.lit(1)).orderBy("month")  # one series: a constant partition says so
    months = p.select("month").distinct().withColumn("prev", F.lag("month").over(one))
    base = p.filter(F.col("w") > 0).select("credit_code", F.col("month").alias("prev"), F.col("x").alias("x0"),
                                           F.col("w").alias("w0"))
    ratios = (p.join(months, "month").join(base, ["credit_code", "prev"])
              .groupBy("month").agg((F.sum(F.col("w0") * F.col("x") / F.col("x0")) / F.sum("w0")).alias("r"))
              .select("month", F.log("r").alias("log_ratio")))
    first = months.filter(F.col("prev").isNull()).select("month", F.lit(0.0).alias("log_ratio"))
    running = one.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    level = ratios.unionByName(first).withColumn("value", 100.0 * F.exp(F.sum("log_ratio").over(running)))
    return level.select(F.lit(name).alias("indicator"), F.col("month").cast("date").alias("month"),
                        F.col("value").cast("double").alias("value"), F.lit(unit).alias("unit"),
                        F.date_add(F.last_day("month"), lag_days).alias("available_date"))


def retail_electricity_index(panel: DataFrame) -> DataFrame:
    """``electricity_retail_index``: retail and catering firms' electricity, weighted by last month's VAT sales."""
    return matched_firm_index(panel, "electricity_retail_index", value="electricity_kwh", weight="vat_sales",
                              lag_days=10)


def card_spending_pace(cards: DataFrame, lag_days: int = 2) -> DataFrame:
    """``card_spending_pace``: month-to-date card spending scaled to a full month, one row per day it stood.

    *cards* is ``silver.card_daily``. The daily city totals (a few thousand rows) go to pandas
    for :func:`workbench.methods.nowcast.pace.month_to_date`; each row is available *lag_days*
    after its cut-off day, like ``card_spending_total`` after the month's last day.
    """
    import pandas as pd

    from workbench.methods.nowcast.pace import month_to_date

    totals = cards.groupBy("txn_date").agg(F.sum("txn_amount").cast("double").alias("value")).toPandas()
    daily = pd.Series(totals["value"].to_numpy(float), index=pd.to_datetime(totals["txn_date"]))
    rows = month_to_date(daily, "card_spending_pace", "yuan, month to date scaled to the month", lag_days)
    schema = "indicator string, month date, value double, unit string, available_date date"
    return cards.sparkSession.createDataFrame(rows, schema=schema)
