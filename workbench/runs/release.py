"""Releases: approved runs published as vintages of ``release.<series>``, with embargoes.

Releasing appends the run's publication output to ``release.<series>`` with a new
vintage number and never rewrites an earlier one (``release.*`` is append-only in
the lake), so the history of published numbers stays queryable for backtests.
``workbench.releases`` records, per vintage, the run, its inputs' versions, its
quality report, the embargo and who released it.

Until its embargo time, a vintage is visible only to roles with clearance.
A released run protects its inputs: :func:`safe_vacuum` never deletes files that a
released run's pinned input versions still need.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.auth import User
from workbench.lake import Lake
from workbench.runs.registry import get_run, read_output
from workbench.runs.review import ReviewError, transition

RELEASES = "workbench.releases"
CLEARED_ROLES = ("supervisor",)  # may see embargoed vintages
SERIES_PATTERN = "abcdefghijklmnopqrstuvwxyz0123456789_"
RELEASES_SCHEMA = pa.schema([
    ("release_id", pa.string()), ("series", pa.string()), ("vintage", pa.int64()), ("run_id", pa.string()),
    ("release_date", pa.date32()), ("embargo_until", pa.timestamp("us", tz="UTC")),
    ("released_at", pa.timestamp("us", tz="UTC")), ("released_by", pa.string()),
    ("inputs_json", pa.string()), ("quality_report_json", pa.string()), ("output", pa.string()),
    ("rows", pa.int64()),
])


@dataclass(frozen=True)
class Release:
    release_id: str
    series: str
    vintage: int
    run_id: str
    release_date: date
    embargo_until: datetime | None
    released_at: datetime
    released_by: str
    inputs: dict[str, int]
    quality_report: dict[str, Any]
    output: str
    rows: int
    withdrawn: bool = False


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def release_run(lake: Lake, run_id: str, user: User, series: str, *, output: str,
                embargo_until: datetime | None = None, release_date: date | None = None,
                quality_report: dict[str, Any] | None = None) -> Release:
    """Publish an approved run's *output* as the next vintage of ``release.<series>``."""
    if not series or any(ch not in SERIES_PATTERN for ch in series):
        raise ReviewError(f"series name {series!r}: use lower-case letters, digits and _")
    run = get_run(lake, run_id)
    table = f"release.{series}"
    published = read_output(lake, run_id, output)  # fails early if the output does not exist
    from workbench.disclosure.gate import disclosure_gate  # the rules and the solver load only when releasing

    # A table kind that needs disclosure control is published protected, or refused (DisclosureError).
    control = disclosure_gate(lake, run, output, published)
    if control is not None:
        published = control.table
        quality_report = {**(quality_report or {"metrics": run.metrics, "warnings": run.warnings}),
                          "disclosure": control.summary}
    transition(lake, run_id, user, "release", f"series {series}")
    vintage = 1
    if lake.exists(RELEASES):
        previous = lake.read(RELEASES).filter(F.col("series") == series).agg(F.max("vintage")).collect()[0][0]
        vintage = (previous or 0) + 1
    now = datetime.now(timezone.utc)
    embargo = _utc(embargo_until)
    rel = Release(
        release_id=uuid.uuid4().hex, series=series, vintage=vintage, run_id=run_id,
        release_date=release_date or (embargo or now).date(), embargo_until=embargo, released_at=now,
        released_by=user.username, inputs=run.inputs,
        quality_report=quality_report if quality_report is not None else {"metrics": run.metrics,
                                                                          "warnings": run.warnings},
        output=output, rows=0,
    )
    rows = published.select(
        F.lit(rel.release_id).alias("release_id"), F.lit(vintage).cast("bigint").alias("vintage"),
        F.lit(rel.release_date).alias("release_date"), F.lit(embargo).cast("timestamp").alias("embargo_until"),
        F.lit(run_id).alias("run_id"), *published.columns)
    lake.write(table, rows)
    count = rows.count()
    record = {
        "release_id": rel.release_id, "series": series, "vintage": vintage, "run_id": run_id,
        "release_date": rel.release_date, "embargo_until": embargo, "released_at": now,
        "released_by": user.username, "inputs_json": json.dumps(run.inputs, sort_keys=True),
        "quality_report_json": json.dumps(rel.quality_report, ensure_ascii=False, default=str),
        "output": output, "rows": count,
    }
    lake.write(RELEASES, lake.spark.createDataFrame(pa.Table.from_pylist([record], schema=RELEASES_SCHEMA)))
    if control is not None:  # what was suppressed and why: workbench.disclosure_reports
        control.store(lake, rel.release_id, series, vintage, run_id)
    protect_inputs(lake, run.inputs)
    return Release(**{**rel.__dict__, "rows": count})


def withdraw(lake: Lake, run_id: str, user: User, reason: str) -> str:
    """Withdraw a released run (supervisor, with a reason). Its vintages stay in the history."""
    return transition(lake, run_id, user, "withdraw", reason)


def list_releases(lake: Lake, series: str | None = None) -> list[Release]:
    if not lake.exists(RELEASES):
        return []
    from workbench.runs.review import states

    current = states(lake)
    df = lake.read(RELEASES)
    if series:
        df = df.filter(F.col("series") == series)
    out = []
    for r in df.collect():
        d = r.asDict()
        out.append(Release(
            release_id=d["release_id"], series=d["series"], vintage=d["vintage"], run_id=d["run_id"],
            release_date=d["release_date"], embargo_until=_utc(d["embargo_until"]), released_at=_utc(d["released_at"]),
            released_by=d["released_by"], inputs=json.loads(d["inputs_json"]),
            quality_report=json.loads(d["quality_report_json"]), output=d["output"], rows=d["rows"],
            withdrawn=current.get(d["run_id"]) == "withdrawn"))
    return sorted(out, key=lambda r: (r.series, r.vintage))


def visible(release: Release, user: User, now: datetime | None = None) -> bool:
    now = now or datetime.now(timezone.utc)
    if release.embargo_until is None or release.embargo_until <= now:
        return True
    return user.has_any(CLEARED_ROLES)


def read_release(lake: Lake, series: str, user: User, *, vintage: int | None = None,
                 now: datetime | None = None, include_withdrawn: bool = False) -> DataFrame:
    """The published rows of *series* that *user* may see (all vintages, or one).

    Embargoed vintages are filtered out inside the read, not by the caller, so no
    page can show them by mistake.
    """
    releases = [r for r in list_releases(lake, series) if visible(r, user, now)
                and (include_withdrawn or not r.withdrawn)]
    if vintage is not None:
        if vintage not in {r.vintage for r in list_releases(lake, series)}:
            raise ReviewError(f"release.{series} has no vintage {vintage}")
        releases = [r for r in releases if r.vintage == vintage]
        if not releases:
            raise ReviewError(f"release.{series} vintage {vintage} is not visible to {user.username} (embargo)")
    ids = [r.release_id for r in releases]
    df = lake.read(f"release.{series}")
    return df.filter(F.col("release_id").isin(ids)) if ids else df.limit(0)


# ---- keeping pinned inputs readable ---------------------------------------------

LOG_RETENTION = "interval 3650 days"


def protect_inputs(lake: Lake, inputs: dict[str, int]) -> None:
    """Keep the Delta log of a released run's inputs for ten years so time travel works."""
    from deltalake import DeltaTable

    for table in inputs:
        if lake.exists(table):
            dt = DeltaTable(lake.path(table))
            if dt.metadata().configuration.get("delta.logRetentionDuration") != LOG_RETENTION:
                dt.alter.set_table_properties({"delta.logRetentionDuration": LOG_RETENTION})


def protected_versions(lake: Lake, table: str) -> list[int]:
    """Versions of *table* pinned by released (and not withdrawn) runs."""
    return sorted({r.inputs[table] for r in list_releases(lake) if table in r.inputs and not r.withdrawn})


def safe_vacuum(lake: Lake, table: str, retention_hours: int = 168, dry_run: bool = True) -> list[str]:
    """VACUUM that keeps every file a released run's pinned version of *table* needs.

    A file needed by version v was removed by a commit after v, so keeping files
    removed since v's commit time keeps v readable: the retention is stretched back
    to the oldest protected version's commit.
    """
    hours = retention_hours
    pinned = protected_versions(lake, table)
    if pinned:
        history = {h["version"]: h["timestamp"] for h in lake.history(table)}
        oldest = datetime.fromtimestamp(history[min(pinned)] / 1000, tz=timezone.utc)
        needed = (datetime.now(timezone.utc) - oldest + timedelta(hours=1)).total_seconds() / 3600
        hours = max(hours, int(needed) + 1)
    return lake.vacuum(table, retention_hours=hours, dry_run=dry_run)
