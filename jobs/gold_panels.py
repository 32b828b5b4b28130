"""Gold panels, and the deterministic link rules: what the methods read.

* ``deterministic_links``: source record -> credit code by rule (credit code for social
  insurance units; an exact, unambiguous name match key for electricity accounts, card
  merchants and job-ad employers). ``jobs.silver_linkage`` writes them to ``silver.links``
  beside its probabilistic links.
* ``gold.enterprise_month``: enterprise x month with register attributes and every
  source's value, each with a flag saying whether that source reported.
* ``gold.area_industry_month``: totals and counts by county/township x section x month.
* ``gold.indicators_monthly``: city-level monthly indicators with availability dates; a
  month-to-date indicator (``card_spending_pace``) has one row per day, each the month's
  value as it stood then, and its last row is the month's final value.
* ``gold.targets``: published official series with all vintages.

The panel transforms are pure functions of DataFrames; ``main`` does the I/O and
rewrites only the months whose silver inputs changed since the last build.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.silver import read_watermark, write_watermark
from workbench.lake import LakeError
from workbench.pipeline import Job, JobContext, JobMessage, JobResult, JobSpec

DETERMINISTIC = ("credit_code", "exact_name_key")
# the register's columns every panel row carries (their current values, for every month)
PANEL_ATTRIBUTES = ("credit_code", "name", "township_code", "county_code", "industry_code", "industry_division",
                    "industry_section", "size_class", "legal_form", "birth_date", "death_date", "credit_code_valid")
# More than this share of the panel's months changed, and the panel is rewritten whole.
FULL_REBUILD_SHARE = 0.8
MONTHLY_INPUTS = ("silver.vat_monthly", "silver.social_insurance_monthly", "silver.survey_returns",
                  "silver.electricity_monthly", "silver.card_daily", "silver.job_ads")


# ---- pure transforms ------------------------------------------------------------

def exact_sum(column: str) -> F.Column:
    """Sum of a double column that does not depend on the order rows arrive in: a double
    sum does (the engine adds partitions in whatever order they finish), so a rebuild of
    unchanged inputs moved totals in the 15th digit. Amounts and kWh carry at most a few
    decimals, so the sum is taken exactly in decimal and rounded to a double once."""
    return F.sum(F.col(column).cast("decimal(38,6)")).cast("double")


def unique_name_keys(enterprises: DataFrame) -> DataFrame:
    """Name keys that identify exactly one enterprise (a shared key links nothing)."""
    return (enterprises.filter("credit_code_valid AND name_key IS NOT NULL")
            .groupBy("name_key").agg(F.count(F.lit(1)).alias("n"), F.first("credit_code").alias("credit_code"))
            .filter("n = 1").drop("n"))


def deterministic_links(enterprises: DataFrame, si: DataFrame | None, electricity: DataFrame | None,
                        merchants: DataFrame | None, job_ads: DataFrame | None) -> DataFrame:
    keys = unique_name_keys(enterprises)
    parts = []
    if si is not None:
        parts.append(si.filter("credit_code_valid").select(
            F.lit("social_insurance").alias("source"), F.col("unit_id").alias("record_id"), "credit_code",
            F.lit("credit_code").alias("method")).distinct())
    for source, df, record, key in (("electricity", electricity, "account_id", "name_key"),
                                    ("card_merchants", merchants, "merchant_id", "name_key"),
                                    ("job_ads", job_ads, "employer_key", "employer_key")):
        if df is not None:
            records = df.select(F.col(record).alias("record_id"), F.col(key).alias("name_key")).distinct()
            parts.append(records.join(keys, "name_key").select(
                F.lit(source).alias("source"), "record_id", "credit_code", F.lit("exact_name_key").alias("method")))
    if not parts:
        return None
    links = parts[0]
    for p in parts[1:]:
        links = links.unionByName(p)
    return links.withColumn("match_probability", F.lit(1.0))


def month_grid(enterprises: DataFrame, first: date, last: date) -> DataFrame:
    """Every enterprise for every month it was alive in [first, last]."""
    months = enterprises.sparkSession.sql(
        f"SELECT explode(sequence(DATE '{first.isoformat()}', DATE '{last.isoformat()}', INTERVAL 1 MONTH)) AS period")
    alive = (F.coalesce(F.col("birth_date"), F.lit(first)) <= F.last_day("period")) & (
        F.col("death_date").isNull() | (F.col("death_date") >= F.col("period")))
    return enterprises.crossJoin(months).filter(alive)


def enterprise_month(enterprises: DataFrame, months: tuple[date, date], vat: DataFrame | None,
                     si: DataFrame | None, survey: DataFrame | None, electricity: DataFrame | None,
                     cards: DataFrame | None, job_ads: DataFrame | None, links: DataFrame | None) -> DataFrame:
    attrs = enterprises.select(*PANEL_ATTRIBUTES)
    panel = month_grid(attrs, *months)

    def add(panel: DataFrame, values: DataFrame | None, columns: dict[str, str], flag: str) -> DataFrame:
        if values is None:
            for name, kind in columns.items():
                panel = panel.withColumn(name, F.lit(None).cast(kind))
            return panel.withColumn(flag, F.lit(False))
        return panel.join(values, ["credit_code", "period"], "left").withColumn(
            flag, F.col(next(iter(columns))).isNotNull())

    def linked(df: DataFrame | None, source: str, record: str) -> DataFrame | None:
        if df is None or links is None:
            return None
        # distinct: a record linked twice to one enterprise (two methods, a half-finished
        # linkage run) counts once, and the link diff of an incremental build sees every change
        return df.join(links.filter(F.col("source") == source).select(
            F.col("record_id").alias(record), "credit_code").distinct(), record)

    vat_m = vat.groupBy("credit_code", "period").agg(F.sum("sales_amount").cast("double").alias("vat_sales")) \
        if vat is not None else None
    si_m = si.filter("credit_code_valid").groupBy("credit_code", "period").agg(
        F.sum("insured_headcount").alias("si_headcount")) if si is not None else None
    survey_m = survey.select("credit_code", "period", F.col("revenue").cast("double").alias("survey_revenue"),
                             F.col("employment").alias("survey_employment")) if survey is not None else None
    elec = linked(electricity, "electricity", "account_id")
    elec_m = elec.groupBy("credit_code", "period").agg(exact_sum("kwh").alias("electricity_kwh")) \
        if elec is not None else None
    card = linked(cards, "card_merchants", "merchant_id")
    card_m = card.groupBy("credit_code", F.col("month").alias("period")).agg(
        F.sum("txn_amount").cast("double").alias("card_amount")) if card is not None else None
    ads = linked(job_ads.withColumnRenamed("employer_key", "record_key") if job_ads is not None else None,
                 "job_ads", "record_key")
    ads_m = ads.groupBy("credit_code", F.col("month").alias("period")).agg(
        F.sum(F.coalesce(F.col("vacancies"), F.lit(1))).alias("job_ad_vacancies")) if ads is not None else None

    panel = add(panel, vat_m, {"vat_sales": "double"}, "has_vat")
    panel = add(panel, si_m, {"si_headcount": "bigint"}, "has_social_insurance")
    panel = add(panel, survey_m, {"survey_revenue": "double", "survey_employment": "bigint"}, "has_survey")
    panel = add(panel, elec_m, {"electricity_kwh": "double"}, "has_electricity")
    panel = add(panel, card_m, {"card_amount": "double"}, "has_card")
    panel = add(panel, ads_m, {"job_ad_vacancies": "bigint"}, "has_job_ads")
    return panel


def area_industry_month(panel: DataFrame) -> DataFrame:
    return panel.groupBy("county_code", "township_code", "industry_section", "period").agg(
        F.count(F.lit(1)).alias("enterprises"),
        F.sum(F.col("has_survey").cast("int")).alias("survey_respondents"),
        exact_sum("vat_sales").alias("vat_sales"),
        F.sum("si_headcount").alias("si_headcount"),
        exact_sum("survey_revenue").alias("survey_revenue"),
        F.sum("survey_employment").alias("survey_employment"),
        exact_sum("electricity_kwh").alias("electricity_kwh"),
        exact_sum("card_amount").alias("card_amount"),
        F.sum("job_ad_vacancies").alias("job_ad_vacancies"),
    )


def _indicator(df: DataFrame, name: str, unit: str, lag_days: int) -> DataFrame:
    return df.select(F.lit(name).alias("indicator"), F.col("month"), F.col("value").cast("double").alias("value"),
                     F.lit(unit).alias("unit"),
                     F.date_add(F.last_day("month"), lag_days).alias("available_date"))


def online_price_index(prices: DataFrame) -> DataFrame:
    """Monthly all-items online price index (first month = 100): columns month, value.

    Cleaned, classified to COICOP groups, GEKS per elementary aggregate (rolling
    window, spliced) and aggregated with the CPI basket weights: see
    ``workbench.methods.prices`` and ``conf/prices.toml``.
    """
    from workbench.methods.prices.online import indicator_rows, online_index

    rows = indicator_rows(online_index(prices, frequency="month"))
    return prices.sparkSession.createDataFrame(rows[["month", "value"]]).select(
        F.col("month").cast("date").alias("month"), F.col("value").cast("double").alias("value"))


def indicators(vat, si, electricity, cards, merchants, job_ads, prices) -> DataFrame | None:
    parts = []
    if vat is not None:
        parts.append(_indicator(vat.groupBy(F.col("period").alias("month")).agg(F.sum("sales_amount").alias("value")),
                                "vat_sales_total", "yuan", 20))
    if si is not None:
        parts.append(_indicator(si.groupBy(F.col("period").alias("month")).agg(
            F.sum("insured_headcount").alias("value")), "social_insurance_headcount", "persons", 25))
    if electricity is not None:
        parts.append(_indicator(electricity.groupBy(F.col("period").alias("month")).agg(
            exact_sum("kwh").alias("value")), "electricity_kwh_total", "kWh", 10))
    if cards is not None:
        parts.append(_indicator(cards.groupBy("month").agg(F.sum("txn_amount").alias("value")),
                                "card_spending_total", "yuan", 2))
        from workbench.methods.nowcast.indicators import card_spending_pace

        parts.append(card_spending_pace(cards, lag_days=2))
        if merchants is not None:
            by_mcc = cards.join(merchants.select("merchant_id", "mcc"), "merchant_id").groupBy("mcc", "month").agg(
                F.sum("txn_amount").alias("value"))
            parts.append(by_mcc.select(F.concat(F.lit("card_spending_mcc_"), F.col("mcc")).alias("indicator"),
                                       "month", F.col("value").cast("double").alias("value"), F.lit("yuan").alias("unit"),
                                       F.date_add(F.last_day("month"), 2).alias("available_date")))
    if job_ads is not None:
        parts.append(_indicator(job_ads.groupBy("month").agg(F.count(F.lit(1)).alias("value")),
                                "job_ads_count", "ads", 1))
    if prices is not None:
        parts.append(_indicator(online_price_index(prices), "online_price_index", "index, first month = 100", 1))
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


# ---- I/O ------------------------------------------------------------------------

def _maybe(ctx: JobContext, name: str) -> DataFrame | None:
    return ctx.lake.read(name) if ctx.lake.exists(name) else None


@dataclass(frozen=True)
class InputVersions:
    """The Delta version of each input table a job reads (None: the table does not exist),
    pinned when it starts, so it reads one state of each even if another writer moves on. The runner skips the build when no input changed
    (``workbench.pipeline``)."""

    job: str
    versions: dict[str, int | None]

    @classmethod
    def of(cls, ctx: JobContext, job: str, names: tuple[str, ...]) -> "InputVersions":
        return cls(job, {n: ctx.lake.version(n) if ctx.lake.exists(n) else None for n in names})

    def read(self, ctx: JobContext, name: str) -> DataFrame | None:
        """The input pinned at the version recorded here, so what is recorded is what was read."""
        version = self.versions[name]
        return None if version is None else ctx.lake.read(name, version)

    def rows_read(self, ctx: JobContext) -> int:
        """The rows of every input a full rebuild reads, from the Delta log at the pinned versions
        (the Jobs page said "rows read 0" for builds that read every input)."""
        return sum(ctx.lake.row_count(name, version) for name, version in self.versions.items()
                   if version is not None)


INDICATOR_INPUTS = ("silver.vat_monthly", "silver.social_insurance_monthly", "silver.electricity_monthly",
                    "silver.card_daily", "silver.card_merchants", "silver.job_ads", "silver.prices_daily",
                    "gold.enterprise_month")


def keep_link_run_ids(links: DataFrame, previous: DataFrame | None) -> DataFrame:
    """A link that already existed keeps the run id that made it, so ``linked_run_id``
    names that run rather than the latest one to rebuild the table."""
    if previous is None:
        return links
    keys = ["source", "record_id", "credit_code", "method"]
    old = previous.filter(F.col("method").isin(*DETERMINISTIC)).select(
        *keys, F.col("linked_run_id").alias("_previous_run_id"))
    return links.join(old, keys, "left").withColumn(
        "linked_run_id", F.coalesce("_previous_run_id", "linked_run_id")).drop("_previous_run_id")


# Up to this many relinked records are read back and looked up alone (months_of_changed_links).
MAX_RELINKED = 50_000
# the link sources the panel joins through silver.links: source -> (silver table, record column, month column)
LINKED_VALUES = {"electricity": ("silver.electricity_monthly", "account_id", "period"),
                 "card_merchants": ("silver.card_daily", "merchant_id", "month"),
                 "job_ads": ("silver.job_ads", "employer_key", "month")}


def changed_rows(old: DataFrame, new: DataFrame) -> DataFrame:
    """Rows in one of *old* and *new* but not the other (both sides, the same columns)."""
    return old.subtract(new).unionByName(new.subtract(old))


def months_of_changed_enterprises(old: DataFrame, new: DataFrame, months: tuple[date, date]) -> DataFrame:
    """The panel months an enterprise's register change touches: every month it is alive in,
    before the change or after it (a birth adds its months, a death date removes some, a new
    name or industry rewrites all of its months)."""
    changed = changed_rows(old.select(*PANEL_ATTRIBUTES), new.select(*PANEL_ATTRIBUTES))
    return month_grid(changed, *months).select("period")


def months_of_changed_links(old: DataFrame, new: DataFrame, values: dict[str, DataFrame | None],
                            enterprises: DataFrame, months: tuple[date, date]) -> DataFrame | None:
    """The panel months a change of links touches: the months in which a relinked record has
    values, for the enterprise it leaves and the one it joins, where that enterprise is in the
    panel."""
    columns = ["source", "record_id", "credit_code"]
    changed = changed_rows(old.select(*columns), new.select(*columns))
    # A month's links change for a few records: they are read back, and only their rows of
    # the (large) value tables are scanned. Many, and the tables are joined whole.
    few = changed.limit(MAX_RELINKED + 1).collect()
    parts = []
    for source, (_, record, month) in LINKED_VALUES.items():
        df = values.get(source)
        if df is None:
            continue
        if len(few) <= MAX_RELINKED:
            ids = sorted({r["record_id"] for r in few if r["source"] == source})
            if not ids:
                continue
            df = df.filter(F.col(record).isin(ids))
        records = df.select(F.col(record).alias("record_id"), F.col(month).alias("period")).distinct()
        parts.append(changed.filter(F.col("source") == source).join(records, "record_id")
                     .select("credit_code", "period"))
    if not parts:
        return None
    touched = parts[0]
    for p in parts[1:]:
        touched = touched.unionByName(p)
    grid = month_grid(enterprises.select(*PANEL_ATTRIBUTES), *months).select("credit_code", "period")
    return touched.join(grid, ["credit_code", "period"]).select("period")


def month_range(first: date, last: date) -> list[date]:
    """The first day of every month from *first*'s to *last*'s."""
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _months(df: DataFrame) -> set:
    return {r[0] for r in df.distinct().collect()}


def _panel_months(ctx: JobContext) -> set:
    """The months ``gold.enterprise_month`` holds (its partition values)."""
    return {r[0] for r in ctx.lake.distinct_values("gold.enterprise_month", ["period"])}


def _changed_periods(ctx: JobContext, since, months: tuple[date, date]) -> set | None:
    """Months whose panel rows may differ from the last build's; None means rebuild everything.

    Four kinds of change: silver rows of a month updated after *since* (the watermark); months
    of the range the panel does not hold yet (the range grew, perhaps past months no source
    reported); the register, diffed against the version the last build read, on the panel's
    attributes (the register is delivered whole, so every row is updated, but few change:
    births and deaths touch only their own months); and links, diffed the same way, touching
    the months in which a relinked record has values. When a version the last build read is
    gone (vacuumed), everything is rebuilt."""
    from workbench.pipeline import last_build

    last = last_build(ctx.lake, "gold_enterprise_month")
    if since is None or last is None:
        return None
    built = last["in"]
    held = _panel_months(ctx)
    wanted = set(month_range(*months))
    if held - wanted:
        return None  # the range shrank: only a rebuild removes the months outside it
    periods: set = wanted - held
    for name in MONTHLY_INPUTS:
        df = _maybe(ctx, name)
        if df is None:
            continue
        column = "period" if "period" in df.columns else "month"
        periods |= _months(df.filter(F.col("_silver_updated_at") > F.lit(since)).select(column))
    enterprises = ctx.lake.read("silver.enterprises")
    try:
        if built.get("silver.enterprises") != ctx.lake.version("silver.enterprises"):
            if built.get("silver.enterprises") is None:
                return None
            old = ctx.lake.read("silver.enterprises", built.get("silver.enterprises"))
            periods |= _months(months_of_changed_enterprises(old, enterprises, months))
        links_now = _maybe(ctx, "silver.links")
        if links_now is not None and built.get("silver.links") != ctx.lake.version("silver.links"):
            if built.get("silver.links") is None:
                return None
            old = ctx.lake.read("silver.links", built.get("silver.links"))
            values = {source: _maybe(ctx, table) for source, (table, _, _) in LINKED_VALUES.items()}
            by_links = months_of_changed_links(old, links_now, values, enterprises, months)
            if by_links is not None:
                periods |= _months(by_links)
    except (LakeError, PySparkException):  # the old version cannot be read (vacuumed): rebuild everything
        return None
    return periods


def build_panels(ctx: JobContext) -> JobResult:
    lake = ctx.lake
    enterprises = _maybe(ctx, "silver.enterprises")
    if enterprises is None:
        return JobResult("gold_enterprise_month", "skipped", messages=(JobMessage.of("jobmsg.missing_table", table="silver.enterprises"),))
    sources = {name: _maybe(ctx, name) for name in MONTHLY_INPUTS}
    bounds = [df.agg(F.min("period"), F.max("period")).collect()[0] for name, df in sources.items()
              if df is not None and "period" in df.columns]
    bounds = [b for b in bounds if b[0] is not None]
    if not bounds:
        return JobResult("gold_enterprise_month", "skipped", messages=(JobMessage.of("jobmsg.no_monthly_source"),))
    first, last = min(b[0] for b in bounds), max(b[1] for b in bounds)
    since = read_watermark(ctx, "gold_enterprise_month") if lake.exists("gold.enterprise_month") else None
    # a table without rows (every row of its deliveries quarantined) has no newest row
    newest = max(r[0] for r in [enterprises.agg(F.max("_silver_updated_at")).collect()[0]] + [
        df.agg(F.max("_silver_updated_at")).collect()[0] for df in sources.values() if df is not None]
        if r[0] is not None)
    changed = _changed_periods(ctx, since, (first, last))
    if changed is not None and not changed:
        return JobResult("gold_enterprise_month", "skipped", messages=(JobMessage.of("jobmsg.no_silver_changes"),))
    ctx.progress(0.2, "building the enterprise x month panel")
    panel = enterprise_month(enterprises, (first, last), sources["silver.vat_monthly"],
                             sources["silver.social_insurance_monthly"], sources["silver.survey_returns"],
                             sources["silver.electricity_monthly"], sources["silver.card_daily"],
                             sources["silver.job_ads"], _maybe(ctx, "silver.links"))
    if changed is not None and len(changed) > FULL_REBUILD_SHARE * len(month_range(first, last)):
        changed = None  # rewriting nearly every month one by one costs more than all at once
    # The engine caches nothing: the area totals are summed from the panel as written, not
    # from a second computation of the panel.
    if changed is None:
        lake.write("gold.enterprise_month", panel, mode="overwrite", partition_by=["period"])
        areas = area_industry_month(lake.read("gold.enterprise_month"))
        lake.write("gold.area_industry_month", areas, mode="overwrite")
        note = JobMessage.of("jobmsg.full_rebuild")
    else:
        months = sorted(changed)
        where = "period IN (" + ", ".join(f"DATE '{m.isoformat()}'" for m in months) + ")"
        with lake.scratch("gold_enterprise_month") as scratch:
            rows = scratch.keep(panel.filter(F.col("period").isin(months)), "months")
            lake.write("gold.enterprise_month", rows, mode="overwrite", replace_where=where)
            lake.write("gold.area_industry_month", area_industry_month(rows), mode="overwrite", replace_where=where)
        note = JobMessage.of("jobmsg.rewrote_months", n=len(months), first=f"{months[0]:%Y-%m}",
                             last=f"{months[-1]:%Y-%m}")
    write_watermark(ctx, "gold_enterprise_month", newest)
    rows = lake.row_count("gold.enterprise_month")
    return JobResult("gold_enterprise_month", "ok", rows_written=rows, messages=(note,))


def build_indicators(ctx: JobContext) -> JobResult:
    inputs = InputVersions.of(ctx, "gold_indicators_monthly", INDICATOR_INPUTS)
    table = indicators(*(inputs.read(ctx, n) for n in INDICATOR_INPUTS[:-1]))
    if table is None:
        return JobResult("gold_indicators_monthly", "skipped", messages=(JobMessage.of("jobmsg.no_indicator_source"),))
    panel = inputs.read(ctx, "gold.enterprise_month")
    if panel is not None:  # firm-level indicators for nowcasting (workbench.methods.nowcast.indicators)
        from workbench.methods.nowcast.indicators import retail_electricity_index

        table = table.unionByName(retail_electricity_index(panel))
    ctx.lake.write("gold.indicators_monthly", table, mode="overwrite")
    return JobResult("gold_indicators_monthly", "ok", rows_read=inputs.rows_read(ctx),
                     rows_written=ctx.lake.row_count("gold.indicators_monthly"))


def build_targets(ctx: JobContext) -> JobResult:
    inputs = InputVersions.of(ctx, "gold_targets", ("silver.official_series",))
    official = inputs.read(ctx, "silver.official_series")
    if official is None:
        return JobResult("gold_targets", "skipped", messages=(JobMessage.of("jobmsg.missing_table", table="silver.official_series"),))
    targets = official.select("series", "area_code", "ref_period", "release_date", "vintage", "value", "unit")
    ctx.lake.write("gold.targets", targets, mode="overwrite")
    return JobResult("gold_targets", "ok", rows_read=inputs.rows_read(ctx),
                     rows_written=ctx.lake.row_count("gold.targets"))


JOBS = [
    Job(JobSpec("gold_enterprise_month", "gold", "Enterprise x month panel and area x industry x month totals",
                ("silver.enterprises", *MONTHLY_INPUTS, "silver.links"),
                ("gold.enterprise_month", "gold.area_industry_month")), build_panels),
    Job(JobSpec("gold_indicators_monthly", "gold", "City-level monthly indicators with availability dates",
                INDICATOR_INPUTS, ("gold.indicators_monthly",)),
        build_indicators),
    Job(JobSpec("gold_targets", "gold", "Published official series with vintages", ("silver.official_series",),
                ("gold.targets",)), build_targets),
]
