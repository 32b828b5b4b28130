"""The engine step: scraped quotes -> cleaned, imputed item prices -> elementary-aggregate inputs.

Pure transforms of Spark DataFrames (no reads or writes): they run as grouped
aggregations and window functions on the engine, so millions of quotes never
reach Python. Only their small outputs do: per elementary aggregate and day the
sums that the Jevons, Dutot and Carli links need, and per item and period the
log prices the multilateral step needs.

* An *item* is a retailer's product (``retailer``, ``product_id``).
* An *elementary aggregate* (``ea``) is a COICOP group and the retailer's category
  path (for example ``01|食品/粮食/大米``).
* A quote's day is its local calendar day (the lake holds UTC timestamps).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

ITEM = ("retailer", "product_id")


def quotes(prices_daily: DataFrame, timezone: str = "Asia/Shanghai") -> DataFrame:
    """The columns the indices need, with the local day and month of each quote."""
    day = F.to_date(F.from_utc_timestamp("scraped_at", timezone))
    return prices_daily.select("retailer", "product_id", "product_name", "category_path",
                               F.col("price").cast("double").alias("price"), day.alias("day")) \
        .withColumn("month", F.trunc("day", "month"))


def flag_quotes(q: DataFrame, max_ratio: float = 5.0) -> DataFrame:
    """Add ``flag``: NULL for a usable quote, else why it is left out.

    ``missing`` (no price), ``nonpositive`` (0 or below: a scraper default), ``glitch``
    (more than *max_ratio* times away from the item's median price of the month:
    price x100, lost decimal point). Promotions (-10..-30 %) are real prices and stay.
    """
    valid = F.col("price").isNotNull() & (F.col("price") > 0)
    med = q.filter(valid).groupBy(*ITEM, "month").agg(F.median("price").alias("_median"))
    out = q.join(med, [*ITEM, "month"], "left")
    ratio = F.col("price") / F.col("_median")
    flag = (F.when(F.col("price").isNull(), F.lit("missing"))
            .when(F.col("price") <= 0, F.lit("nonpositive"))
            .when((ratio > max_ratio) | (ratio < 1.0 / max_ratio), F.lit("glitch")))
    return out.withColumn("flag", flag).drop("_median")


def clean_quotes(flagged: DataFrame) -> DataFrame:
    """Usable quotes, one per item and day (the lowest price if a day has several)."""
    return flagged.filter(F.col("flag").isNull()).groupBy(*ITEM, "day").agg(
        F.min("price").alias("price"), F.first("month").alias("month"))


def carry_forward(clean: DataFrame, max_days: int = 3) -> DataFrame:
    """Fill days missing inside an item's life with its last price, for at most *max_days*.

    Only gaps before a later quote are filled: after an item's last quote it has left
    the market (churn), and carrying its price on would hide that. ``imputed`` says
    which rows were filled.
    """
    w = Window.partitionBy(*ITEM).orderBy("day")
    # the window result in a column of its own: Sail cannot plan it nested inside explode()
    gaps = clean.withColumn("_next", F.lead("day").over(w))
    n_fill = F.greatest(F.least(F.coalesce(F.datediff("_next", "day") - 1, F.lit(0)), F.lit(max_days)), F.lit(0))
    filled = gaps.withColumn("_n", n_fill).withColumn("_k", F.explode(F.sequence(F.lit(0), F.col("_n"))))
    return filled.select(*ITEM, F.date_add("day", F.col("_k")).alias("day"), "price",
                         (F.col("_k") > 0).alias("imputed")).withColumn("month", F.trunc("day", "month"))


def with_aggregate(items: DataFrame, classes: DataFrame) -> DataFrame:
    """Attach ``coicop`` and ``ea`` from the classification (columns retailer, product_id,
    coicop, category_path); unclassified items are left out."""
    ea = F.concat_ws("|", F.col("coicop"), F.coalesce(F.col("category_path"), F.lit("")))
    return items.join(classes.select(*ITEM, "coicop", ea.alias("ea")), list(ITEM)).filter(F.col("coicop").isNotNull())


def daily_links(items: DataFrame) -> DataFrame:
    """Per elementary aggregate and day, the sums of matched day-on-day price pairs.

    ``n`` matched items, ``sum_dlog`` (Jevons), ``sum_rel`` (Carli), ``sum_p`` and
    ``sum_p0`` (Dutot); a pair is an item quoted (or imputed) on the day and the day before.
    """
    w = Window.partitionBy(*ITEM).orderBy("day")
    pairs = items.withColumn("_d0", F.lag("day").over(w)).withColumn("_p0", F.lag("price").over(w)) \
        .filter(F.col("_d0") == F.date_sub("day", 1))
    return pairs.groupBy("coicop", "ea", "day").agg(
        F.count(F.lit(1)).alias("n"), F.sum(F.log(F.col("price") / F.col("_p0"))).alias("sum_dlog"),
        F.sum(F.col("price") / F.col("_p0")).alias("sum_rel"), F.sum("price").alias("sum_p"),
        F.sum("_p0").alias("sum_p0"))


def item_periods(items: DataFrame, period: str = "day") -> DataFrame:
    """Per item and period (``day`` or ``month``): mean log price and the number of quote days.

    The multilateral step's input; a month's price is the geometric mean of its days.
    """
    key = F.col(period).alias("period")
    return items.groupBy("coicop", "ea", *ITEM, key).agg(
        F.avg(F.log("price")).alias("logp"), F.count(F.lit(1)).alias("days"))


def churn(items: DataFrame) -> DataFrame:
    """Items entering and leaving per month (first and last month quoted), and items alive."""
    life = items.groupBy("coicop", *ITEM).agg(F.min("month").alias("first"), F.max("month").alias("last"))
    entries = life.groupBy("coicop", F.col("first").alias("month")).agg(F.count(F.lit(1)).alias("entries"))
    exits = life.groupBy("coicop", F.col("last").alias("month")).agg(F.count(F.lit(1)).alias("exits"))
    alive = items.groupBy("coicop", "month").agg(F.countDistinct(*ITEM).alias("items"))
    return alive.join(entries, ["coicop", "month"], "left").join(exits, ["coicop", "month"], "left") \
        .fillna(0, ["entries", "exits"])
