"""The online price index end to end: quotes in the lake -> COICOP and all-items indices.

``online_index(prices_daily, settings, frequency, method, window, splice)`` chains the
engine step (cleaning, carry-forward, elementary sums or item x period log prices:
``elementary.py``), the classification of products (``classify.py``), the
multilateral step per elementary aggregate and the aggregation (``aggregate.py``).
It takes the silver DataFrame and returns a result object; it reads and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.methods.prices import aggregate, elementary
from workbench.methods.prices.classify import classify_products, review_list
from workbench.methods.prices.indices import ELEMENTARY
from workbench.methods.prices.settings import PriceSettings, load_price_settings

FREQUENCIES = ("day", "month")


@dataclass
class OnlineIndex:
    """Indices of one computation, with what went into them."""

    frequency: str
    method: str
    window: int
    splice: str
    ea: pd.DataFrame              # period, coicop, ea, logindex, items
    groups: pd.DataFrame          # period x coicop, first period = 100
    total: pd.Series              # all items, first period = 100
    classification: pd.DataFrame  # one row per item
    flags: dict[str, int] = field(default_factory=dict)
    quotes: int = 0

    @property
    def review(self) -> pd.DataFrame:
        return review_list(self.classification)

    def monthly(self) -> pd.DataFrame:
        """Group and all-items indices by month (daily ones averaged over each month)."""
        wide = self.groups.assign(total=self.total)
        return aggregate.monthly_mean(wide) if self.frequency == "day" else wide

    def summary(self) -> dict:
        return {"frequency": self.frequency, "method": self.method, "window": self.window, "splice": self.splice,
                "quotes": self.quotes, "left_out": self.flags, "items": len(self.classification),
                "elementary_aggregates": int(self.ea["ea"].nunique()), "to_review": int(self.classification["review"].sum()),
                "periods": len(self.total), "first": str(self.total.index[0]), "last": str(self.total.index[-1])}


def _latest(column: str) -> F.Column:
    """The item's value on its latest day (the greatest value if that day has several).

    Not ``first()``: which row comes first is up to the engine, so a retailer renaming a
    product classified it one way on the embedded engine and another way on the cluster.
    The day leads a string that is compared whole, so the maximum is deterministic."""
    day_and_value = F.concat(F.col("day").cast("string"), F.lit("\x1f"), F.col(column))
    return F.substring(F.max(day_and_value), len("yyyy-mm-dd\x1f") + 1, 1_000_000)


def classify_items(q: DataFrame, settings: PriceSettings) -> pd.DataFrame:
    """One row per item with its COICOP group (small: collected to pandas), classified by the
    name and category path of its latest quote."""
    products = q.groupBy(*elementary.ITEM).agg(_latest("product_name").alias("product_name"),
                                               _latest("category_path").alias("category_path")).toPandas()
    return classify_products(products.sort_values(list(elementary.ITEM)).reset_index(drop=True), settings.groups,
                             settings.review_below, settings.seed)


def online_index(prices_daily: DataFrame, settings: PriceSettings | None = None, frequency: str = "month",
                 method: str | None = None, window: int | None = None, splice: str | None = None,
                 classification: pd.DataFrame | None = None) -> OnlineIndex:
    """Compute the online price indices from ``silver.prices_daily``.

    *frequency* ``day`` or ``month``; *method* one of ``aggregate.METHODS`` (chained
    bilateral or rolling-window multilateral); *window* in periods of the frequency.
    Daily Jevons, Dutot and Carli come straight from the engine's per-day sums.
    """
    settings = settings or load_price_settings()
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {FREQUENCIES}")
    method = method or settings.method
    window = window or (settings.window_days if frequency == "day" else settings.window_months)
    splice = splice or settings.splice
    spark = prices_daily.sparkSession

    q = elementary.quotes(prices_daily, settings.timezone)
    flagged = elementary.flag_quotes(q, settings.max_ratio)
    flags = {r["flag"] or "kept": int(r["n"]) for r in flagged.groupBy("flag").agg(F.count(F.lit(1)).alias("n")).collect()}
    if classification is None:
        classification = classify_items(q, settings)
    classes = spark.createDataFrame(classification[[*elementary.ITEM, "coicop", "category_path"]].astype(object))
    items = elementary.with_aggregate(
        elementary.carry_forward(elementary.clean_quotes(flagged), settings.carry_days), classes)

    if frequency == "day" and method in ELEMENTARY:
        links = elementary.daily_links(items).toPandas()
        periods = pd.date_range(links["day"].min() - pd.Timedelta(days=1), links["day"].max(), freq="D")
        links["day"] = pd.to_datetime(links["day"])
        ea = aggregate.ea_from_links(links, periods, method)
    else:
        table = elementary.item_periods(items, frequency).toPandas()
        table["period"] = pd.to_datetime(table["period"])
        periods = pd.date_range(table["period"].min(), table["period"].max(),
                                freq="D" if frequency == "day" else "MS")
        ea = aggregate.ea_indices(table, periods, method, window, splice)
    groups = aggregate.group_indices(ea, periods)
    total = aggregate.all_items(groups, settings.weights)
    return OnlineIndex(frequency, method, window, splice, ea, groups, total, classification, flags,
                       quotes=sum(flags.values()))


def official_cpi(targets: pd.DataFrame) -> pd.DataFrame:
    """Latest vintage of the official CPI series from ``gold.targets`` (pandas), month-indexed.

    Columns: ``cpi_mom`` and ``cpi_yoy`` / ``cpi_0X_yoy`` as percent changes, and
    ``release_date`` of the first release of ``cpi_mom``.
    """
    cpi = targets[targets["series"].astype(str).str.startswith("cpi")].copy()
    cpi["month"] = pd.to_datetime(cpi["ref_period"].astype(str).str[:7] + "-01")
    first = cpi[cpi["series"] == "cpi_mom"].sort_values("vintage").groupby("month")["release_date"].first()
    latest = cpi.sort_values("vintage").groupby(["series", "month"])["value"].last().unstack("series")
    out = latest - 100.0  # published as previous month / same month last year = 100
    out["release_date"] = pd.to_datetime(first)
    return out.sort_index()


def yoy(level: pd.Series) -> pd.Series:
    """Year-on-year change in percent of a monthly index."""
    return 100 * (level / level.shift(12) - 1)


def release_lead_days(online_months: pd.Index, official: pd.DataFrame, lag_days: int = 1) -> float:
    """Median days by which the online index of a month is available before the official release.

    The online index of a month is complete *lag_days* after the month ends.
    """
    months = pd.DatetimeIndex(online_months).intersection(official.index[official["release_date"].notna()])
    if not len(months):
        return float("nan")
    available = months + pd.offsets.MonthEnd(0) + pd.Timedelta(days=lag_days)
    release = official.loc[months, "release_date"]
    return float(np.median((release.to_numpy() - available.to_numpy()) / np.timedelta64(1, "D")))


def indicator_rows(result: OnlineIndex, groups: bool = False) -> pd.DataFrame:
    """Monthly rows (indicator, month, value) for ``gold.indicators_monthly``: all items
    (``online_price_index``) and, with *groups*, each COICOP group (``online_price_index_01``...)."""
    monthly = result.monthly()
    rows = []
    for col in (monthly.columns if groups else ["total"]):
        name = "online_price_index" if col == "total" else f"online_price_index_{col}"
        s = monthly[col].dropna()
        rows.append(pd.DataFrame({"indicator": name, "month": s.index.date, "value": s.to_numpy(float)}))
    return pd.concat(rows, ignore_index=True)
