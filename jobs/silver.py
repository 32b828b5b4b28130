"""Silver: typed, validated, pseudonymised tables, built incrementally from bronze.

Every silver job follows the same steps, declared per table by a
:class:`SilverTable`: take the bronze rows loaded since the job's watermark,
type them by the source contract (rows that fail go to ``quarantine.<source>``
with stage ``silver`` and a reason naming file, row, field and value), replace
every personal column by its keyed pseudonym, derive the table's own columns,
keep the latest delivery per business key, and write:

* a period never seen before: overwrite of that partition (``replace_where``), in commits of
  about ``[silver].rows_per_write`` rows (the engine sorts and spills one commit's rows);
* a period already in silver (a late correction): ``MERGE`` by the key;
* tables without periods: ``MERGE`` by the key.

The derivations (``derive``) are pure functions of DataFrames, tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.clock import stored_instant
from workbench.faults import kill_point
from workbench.pipeline import Job, JobContext, JobMessage, JobResult, JobSpec
from workbench.pseudonym import load_key, pseudonym_col
from workbench.sources.contract import SourceContract, contract
from workbench.sources.typing import (
    MAX_DUPLICATED_KEYS,
    duplicated_keys,
    failures,
    latest_per_key,
    raw_text,
    split_valid,
    type_columns,
)

WATERMARKS = "workbench.watermarks"
WATERMARK_SCHEMA = pa.schema([("job", pa.string()), ("watermark", pa.timestamp("us", tz="UTC")),
                              ("run_id", pa.string()), ("updated_at", pa.timestamp("us", tz="UTC"))])


@dataclass(frozen=True)
class SilverTable:
    job: str
    source: str
    table: str
    keys: tuple[str, ...]
    period: str | None  # partition column (a date, first of month) or None
    derive: Callable[[DataFrame], DataFrame]
    description: str


def pseudonymise(df: DataFrame, source: SourceContract, key: bytes) -> DataFrame:
    """Replace each personal column by ``<column>_pseudonym``; the clear value is dropped."""
    for col in source.personal:
        df = df.withColumn(f"{col}_pseudonym", pseudonym_col(F.col(col), key)).drop(col)
    return df


def read_watermark(ctx: JobContext, job: str) -> datetime | None:
    if not ctx.lake.exists(WATERMARKS):
        return None
    row = ctx.lake.read(WATERMARKS).filter(F.col("job") == job).agg(F.max("watermark").alias("w")).collect()[0]
    # The engine hands back naive UTC; PySpark would read a naive literal as local time.
    return stored_instant(row["w"])


def write_watermark(ctx: JobContext, job: str, watermark: datetime) -> None:
    table = pa.Table.from_pylist([{"job": job, "watermark": stored_instant(watermark), "run_id": ctx.run_id,
                                   "updated_at": datetime.now(timezone.utc)}], schema=WATERMARK_SCHEMA)
    ctx.lake.write(WATERMARKS, ctx.lake.spark.createDataFrame(table))


def _date_list(values) -> str:
    return ", ".join(f"DATE '{v.isoformat()}'" for v in values)


def period_groups(counts: dict, rows_per_write: int) -> list[list]:
    """The periods of *counts* (period -> rows), in order, in consecutive groups of at most
    *rows_per_write* rows each (a period larger than that is a group of its own)."""
    groups: list[list] = []
    size = 0
    for period in sorted(counts):
        if not groups or size + counts[period] > rows_per_write:
            groups.append([])
            size = 0
        groups[-1].append(period)
        size += counts[period]
    return groups


def _write_fresh(lake, spec: SilverTable, rows: DataFrame, groups: list[list]) -> int:
    """Write the periods silver has never held, one commit per group of *groups*: the engine
    sorts a commit's rows by period, so a group bounds its spill. A run killed between commits
    leaves whole periods; the next run finds them present and merges them by key, which
    duplicates nothing."""
    written = 0
    for periods in groups:
        these = rows.filter(F.col(spec.period).isin(periods))
        if not lake.exists(spec.table):
            lake.write(spec.table, these, partition_by=[spec.period])
            written += lake.rows_added(spec.table, None)
        else:
            before = lake.version(spec.table)
            lake.write(spec.table, these, mode="overwrite",
                       replace_where=f"{spec.period} IN ({_date_list(periods)})")
            written += lake.rows_added(spec.table, before)
        kill_point("silver.group_written")
    return written


def _write_rows(lake, spec: SilverTable, rows: DataFrame, rows_per_write: int) -> int:
    """Write *rows* to the silver table; the rows written."""
    if spec.period is None:
        if not lake.exists(spec.table):
            lake.write(spec.table, rows)
            return lake.rows_added(spec.table, None)
        lake.merge(spec.table, rows, keys=list(spec.keys))
        return rows.count()
    # a required column of the source: a row without it went to quarantine
    counts = {r[0]: r[1] for r in rows.groupBy(spec.period).count().collect() if r[0] is not None}
    present = set()
    if lake.exists(spec.table):
        present = {r[0] for r in lake.read(spec.table).select(spec.period).distinct().collect()}
    elif not counts:
        # every delivered row was quarantined: the table exists, empty, for what reads it
        lake.write(spec.table, rows, partition_by=[spec.period])
        return 0
    fresh = {p: n for p, n in counts.items() if p not in present}
    late = sorted(p for p in counts if p in present)
    written = _write_fresh(lake, spec, rows, period_groups(fresh, rows_per_write)) if fresh else 0
    if late:
        late_rows = rows.filter(F.col(spec.period).isin(late))
        written += late_rows.count()  # a merge rewrites whole files: the log over-counts
        lake.merge(spec.table, late_rows, keys=list(spec.keys))
    return written


def build(ctx: JobContext, spec: SilverTable) -> JobResult:
    lake = ctx.lake
    bronze_name = f"bronze.{spec.source}"
    if not lake.exists(bronze_name):
        return JobResult(spec.job, "skipped", messages=(JobMessage.of("jobmsg.missing_table", table=bronze_name),))
    source = contract(spec.source)
    watermark = read_watermark(ctx, spec.job)
    bronze = lake.read(bronze_name)
    if watermark is not None:
        bronze = bronze.filter(F.col("_loaded_at") > F.lit(watermark))
    newest = bronze.agg(F.max("_loaded_at").alias("m"), F.count(F.lit(1)).alias("n")).collect()[0]
    if newest["m"] is None:
        return JobResult(spec.job, "skipped", messages=(JobMessage.of("jobmsg.no_new_bronze"),))
    ctx.progress(0.1, f"typing {newest['n']:,} new rows")
    with lake.scratch(spec.job) as scratch:
        # The engine caches nothing: the typed rows are computed once, kept, and counted,
        # split and written from the copy. The copy holds no clear personal value: personal
        # columns are pseudonymised first, and the raw text a failure takes to quarantine is
        # read from bronze, for the failures only. The table's own columns are derived before
        # the copy too (a failing row's derived values are never used).
        key = load_key(ctx.settings, lake)
        typed = scratch.keep(spec.derive(pseudonymise(type_columns(bronze, source), source, key)),
                             "typed")
        kill_point("silver.typed_kept")
        good, bad = split_valid(typed, raw=raw_text(bronze, source))
        quarantined = failures(typed).count()
        if quarantined:
            lake.write(f"quarantine.{spec.source}", bad)
        ctx.progress(0.3, "keeping the latest row per key")
        keys = list(spec.keys)
        duplicated = [r[0] for r in duplicated_keys(good, keys).limit(MAX_DUPLICATED_KEYS + 1).collect()]
        rows = latest_per_key(good, keys, duplicated if len(duplicated) <= MAX_DUPLICATED_KEYS else None)
        rows = rows.withColumn("_silver_run_id", F.lit(ctx.run_id)).withColumn(
            "_silver_updated_at", F.lit(ctx.started_at).cast("timestamp"))
        ctx.progress(0.5, "writing")
        if lake.exists(spec.table):
            # an incremental write reads the rows several times (periods, checks, merge)
            rows = scratch.keep(rows, "rows")
        written = _write_rows(lake, spec, rows, ctx.settings.silver.rows_per_write)
    write_watermark(ctx, spec.job, newest["m"])
    return JobResult(spec.job, "ok", rows_read=newest["n"], rows_written=written, rows_quarantined=quarantined,
                     messages=(JobMessage.of("jobmsg.superseded", n=newest["n"] - quarantined - written),))


def job(spec: SilverTable) -> Job:
    return Job(
        spec=JobSpec(name=spec.job, layer="silver", description=spec.description,
                     inputs=(f"bronze.{spec.source}",), outputs=(spec.table,),
                     appends=(f"quarantine.{spec.source}",)),
        main=lambda ctx: build(ctx, spec),
    )


def month_of(col: str) -> F.Column:
    return F.trunc(F.col(col), "month")
