"""Releases: approved runs published as vintages of ``release.<series>``, with embargoes.

Releasing appends the run's publication output to ``release.<series>`` with a new
vintage number and never rewrites an earlier one (``release.*`` is append-only in
the lake), so the history of published numbers stays queryable for backtests.
``workbench.releases`` records, per vintage, the run, its inputs' versions, its
quality report, the embargo, who released it and the digest of the published rows.

A release is one ordered act under the lake's audit lock: the vintage rows, then
the suppression report, then the record, then the ``release`` audit entry that
vouches for the record (:mod:`workbench.runs.audit_chain`). Until that entry exists
the vintage is not published; an attempt that stopped after the record is
completed by the next one, with the same vintage number. Two releases at once take
turns, so one series never gets one vintage number twice.

Until its embargo time, a vintage is visible only to roles with clearance.
A released run protects its inputs: :meth:`workbench.lake.Lake.vacuum` never
deletes files that a released run's pinned input versions still need.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo

import pyarrow as pa
from deltalake import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.auth import User
from workbench.clock import city_instant, city_time, stored_instant
from workbench.faults import kill_point
from workbench.lake import PINS_TABLE, Lake
from workbench.runs import kinds
from workbench.runs.audit_chain import (
    AUDIT,
    AuditChainError,
    audit_key,
    read_chain,
    record_digest,
    refuse_rewritten,
    rows_digest,
    vintage_rows,
)
from workbench.runs.registry import RUN_OUTPUTS, RUNS, Run, get_run, output_digest, read_output
from workbench.runs.review import ReviewError, _check, _release_entry, approved_outputs, transition

RELEASES = PINS_TABLE
CLEARED_ROLES = ("supervisor",)  # may see embargoed vintages
SERIES_PATTERN = "abcdefghijklmnopqrstuvwxyz0123456789_"
RELEASES_SCHEMA = pa.schema([
    ("release_id", pa.string()), ("series", pa.string()), ("vintage", pa.int64()), ("run_id", pa.string()),
    ("release_date", pa.date32()), ("embargo_until", pa.timestamp("us", tz="UTC")),
    ("released_at", pa.timestamp("us", tz="UTC")), ("released_by", pa.string()),
    ("inputs_json", pa.string()), ("quality_report_json", pa.string()), ("output", pa.string()),
    ("rows", pa.int64()), ("rows_sha256", pa.string()), ("record_mac", pa.string()),
])
# The columns a record's digest covers: all but the MAC made from that digest.
RECORD_COLUMNS = tuple(n for n in RELEASES_SCHEMA.names if n != "record_mac")


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
    rows_sha256: str = ""  # digest of the vintage's rows as released (audit_chain.rows_digest)
    # Why the record cannot be trusted (no audit entry vouches for it, ...); None when verified.
    problem: str | None = None

    @property
    def published(self) -> bool:
        return self.problem is None and not self.withdrawn


def embargo_instant(lake: Lake, embargo_until: datetime | None) -> datetime | None:
    """The embargo as a UTC instant; a time without a zone is the city's wall time
    (``[lake].local_timezone``), never UTC, so it cannot lift the embargo hours early."""
    zone = lake.settings.lake.local_timezone
    try:
        return city_instant(embargo_until, zone)
    except ValueError as exc:
        raise ReviewError(f"embargo time: {exc}", "embargo_time", zone=zone) from None


def _mac(key: bytes, digest: str) -> str:
    return hmac.new(key, f"workbench.releases:{digest}".encode("ascii"), hashlib.sha256).hexdigest()


def _records(lake: Lake) -> list[dict[str, Any]]:
    """The rows of workbench.releases, read with delta-rs."""
    if not lake.exists(RELEASES):
        return []
    return DeltaTable(lake.path(RELEASES)).to_pyarrow_table().to_pylist()


def _check_record(lake: Lake, record: Mapping[str, Any], key: bytes) -> str | None:
    """Why *record* was not written by the workbench, or None: its MAC and its rows' digest."""
    if not record.get("record_mac") or not hmac.compare_digest(
            record["record_mac"], _mac(key, record_digest(record, RECORD_COLUMNS))):
        return f"record {record['release_id']} of {RELEASES} was not written by the workbench (its MAC does not match)"
    try:
        rows = vintage_rows(lake, record["series"], record["release_id"])
    except LookupError as exc:
        return str(exc)
    if rows.num_rows != record["rows"] or rows_digest(rows) != record["rows_sha256"]:
        return (f"release.{record['series']} vintage {record['vintage']} holds {rows.num_rows} row(s) that are "
                f"not the {record['rows']} row(s) released (rows added or changed by hand)")
    return None


def _pending(lake: Lake, run_id: str, chain: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A record of *run_id* that no audit entry vouches for yet: a release that stopped midway.

    Only records the workbench wrote (their MAC holds) count: a record appended by hand
    neither blocks the run's release nor gets finished by it.
    """
    key = audit_key(lake.settings)
    sealed = {json.loads(r["evidence"])["release_id"] for r in chain if r["action"] == "release" and r["evidence"]}
    pending = [r for r in _records(lake) if r["run_id"] == run_id and r["release_id"] not in sealed
               and r.get("record_mac") and hmac.compare_digest(r["record_mac"],
                                                                _mac(key, record_digest(r, RECORD_COLUMNS)))]
    return pending[-1] if pending else None


def _seal(lake: Lake, record: Mapping[str, Any], user: User, approved: Mapping[str, Any]) -> None:
    _release_entry(lake, record["run_id"], user, f"series {record['series']}", {
        "release_id": record["release_id"], "series": record["series"], "vintage": int(record["vintage"]),
        "record_sha256": record_digest(record, RECORD_COLUMNS), "output_sha256": approved["rows_sha256"]})


def _approved_output(lake: Lake, chain: list[dict[str, Any]], run: Run, output: str) -> dict[str, Any]:
    """The approval's record of *output* (table, version, digest), if the output still holds
    exactly those rows; else ReviewError: rows changed after approval are not published."""
    approved = approved_outputs(chain, run.run_id).get(output)
    if approved is None:
        raise ReviewError(f"run {run.run_id}: its approval records no output {output!r}, so there is nothing "
                          "approved to release (approve it again after rework)", "changed_since_approval",
                          run=run.run_id, output=output)
    table, version = run.outputs[output]
    try:
        now = output_digest(lake, table, version)
    except (OSError, pa.ArrowException) as exc:  # a data file no longer matches the Delta log
        raise ReviewError(f"run {run.run_id}: output {output!r} ({table} version {version}) cannot be read as it was "
                          f"written, so it is not the rows that were approved: {str(exc).splitlines()[0]}",
                          "changed_since_approval", run=run.run_id, output=output) from exc
    if now != approved:
        raise ReviewError(f"run {run.run_id}: output {output!r} ({table} version {version}, {now['rows']} row(s)) "
                          f"is not the rows that were approved ({approved['table']} version {approved['version']}, "
                          f"{approved['rows']} row(s), another digest): it changed after approval; nothing released",
                          "changed_since_approval", run=run.run_id, output=output)
    return approved


def _as_release(record: Mapping[str, Any], withdrawn: bool = False, problem: str | None = None) -> Release:
    return Release(
        release_id=record["release_id"], series=record["series"], vintage=int(record["vintage"]),
        run_id=record["run_id"], release_date=record["release_date"],
        embargo_until=stored_instant(record["embargo_until"]), released_at=stored_instant(record["released_at"]),
        released_by=record["released_by"],
        inputs=json.loads(record["inputs_json"]), quality_report=json.loads(record["quality_report_json"]),
        output=record["output"], rows=int(record["rows"]), withdrawn=withdrawn,
        rows_sha256=record.get("rows_sha256") or "", problem=problem)


def release_run(lake: Lake, run_id: str, user: User, series: str, *, output: str,
                embargo_until: datetime | None = None, release_date: date | None = None,
                quality_report: dict[str, Any] | None = None) -> Release:
    """Publish an approved run's *output* as the next vintage of ``release.<series>``.

    If an earlier attempt for this run stopped after writing its record, this call
    completes that release (same series and output) instead of starting another.
    An *embargo_until* without a zone is a wall time in the city's zone
    (``[lake].local_timezone``); the release day, unless given, is the city's day.
    """
    if not series or any(ch not in SERIES_PATTERN for ch in series):
        raise ReviewError(f"series name {series!r}: use lower-case letters, digits and _", "series_name", series=series)
    embargo = embargo_instant(lake, embargo_until)
    run = get_run(lake, run_id)
    chain = read_chain(lake)
    pending = _pending(lake, run_id, chain)
    if pending is not None:
        return _complete(lake, pending, user, series, output)
    _check(lake, chain, run_id, user, "release", "")  # refuse early, before the gate's work
    check_publishable(run, output)
    check_series(lake, series, run, output, embargo)
    table = f"release.{series}"
    published = read_output(lake, run_id, output)  # fails early if the output does not exist
    approved = _approved_output(lake, chain, run, output)
    from workbench.disclosure.gate import disclosure_gate  # the rules and the solver load only when releasing

    # A table kind that needs disclosure control is published protected, or refused (DisclosureError).
    control = disclosure_gate(lake, run, output, published)
    if control is not None:
        published = control.table
        quality_report = {**(quality_report or {"metrics": run.metrics, "warnings": run.warnings}),
                          "disclosure": control.summary}
    key = audit_key(lake.settings)
    with lake.exclusive(AUDIT):
        chain = read_chain(lake)
        pending = _pending(lake, run_id, chain)  # another attempt may have got here first
        if pending is not None:
            return _complete(lake, pending, user, series, output)
        _check(lake, chain, run_id, user, "release", "")
        now = datetime.now(timezone.utc)
        check_series(lake, series, run, output, embargo, now)  # another vintage may have been released meanwhile
        vintage = 1 + max((int(r["vintage"]) for r in _records(lake) if r["series"] == series), default=0)
        release_id = uuid.uuid4().hex
        day = release_date or (embargo or now).astimezone(ZoneInfo(lake.settings.lake.local_timezone)).date()
        rows = published.select(
            F.lit(release_id).alias("release_id"), F.lit(vintage).cast("bigint").alias("vintage"),
            F.lit(day).alias("release_date"), F.lit(embargo).cast("timestamp").alias("embargo_until"),
            F.lit(run_id).alias("run_id"), *published.columns)
        lake.write(table, rows)  # 1. the vintage (not published until step 4 vouches for it)
        kill_point("release.vintage_written")
        written = vintage_rows(lake, series, release_id)
        if control is not None:  # 2. what was suppressed and why: workbench.disclosure_reports
            control.store(lake, release_id, series, vintage, run_id)
            kill_point("release.report_stored")
        protect_inputs(lake, run.inputs)
        report = quality_report if quality_report is not None else {"metrics": run.metrics,
                                                                    "warnings": run.warnings}
        record = {
            "release_id": release_id, "series": series, "vintage": vintage, "run_id": run_id,
            "release_date": day, "embargo_until": embargo, "released_at": now,
            "released_by": user.username, "inputs_json": json.dumps(run.inputs, sort_keys=True),
            "quality_report_json": json.dumps(report, ensure_ascii=False, default=str),
            "output": output, "rows": written.num_rows, "rows_sha256": rows_digest(written),
        }
        record["record_mac"] = _mac(key, record_digest(record, RECORD_COLUMNS))
        lake.append_arrow(RELEASES, pa.Table.from_pylist([record], schema=RELEASES_SCHEMA))  # 3. the record
        kill_point("release.record_written")
        _seal(lake, record, user, approved)  # 4. the audit entry: now it is released
    return _as_release(record)


def check_publishable(run: Run, output: str) -> None:
    """ReviewError unless *output* is what a release of *run*'s kind publishes: a diagnostic
    (a seasonal run's coefficients, a survey's weights) is never published."""
    if run.kind in kinds.KINDS and output not in kinds.publishable_outputs(run.kind, run.outputs):
        declared = kinds.PUBLISHED_OUTPUT.get(run.kind, "")
        raise ReviewError(f"run {run.run_id}: output {output!r} is a diagnostic of a {run.kind} run, not what it "
                          f"publishes ({declared!r}); nothing released", "not_publishable", run=run.run_id,
                          output=output, published=declared, kind=run.kind)


# ---- what one release series is ----------------------------------------------------
# A series is one kind's one output of one thing (SERIES_PARAMS), in one unit, its vintages in
# reference-period order: the next vintage revises the figures or carries them forward, it does
# not replace a county table with a city total or an earlier month.

OUTPUT_TIME_COLUMNS = ("period", "month", "ref_period")


@dataclass(frozen=True)
class SeriesShape:
    """What every vintage of a series keeps: the run kind, the output, what the series is of (the
    kind's :data:`~workbench.runs.kinds.SERIES_PARAMS` as name/value pairs), the output's columns
    and the unit of its values (a unit code of :data:`workbench.formatting.UNITS`)."""

    kind: str
    output: str
    of: tuple[tuple[str, str], ...]
    columns: tuple[str, ...]
    unit: str


def _output_table(lake: Lake, run: Run, output: str) -> DeltaTable:
    table, version = run.outputs[output]
    return DeltaTable(lake.path(table), version=version)


def measured_names(params: Mapping[str, Any]) -> list[str]:
    """The variables or indicators a run's values measure, from its parameters."""
    for key in ("variable", "measure", "indicator", "series", "measures"):
        value = params.get(key)
        if isinstance(value, str) and value:
            return [value]
        if isinstance(value, (list, tuple)) and value:
            return [str(v) for v in value]
    return []


def series_unit(params: Mapping[str, Any]) -> str:
    """The unit code the run's values are published in (``10k_yuan``, ``persons``; several joined
    by ``,`` for a table of several measures); "" when the catalogue does not know them."""
    from workbench.formatting import registry

    reg = registry()
    units = []
    for name in measured_names(params):
        var = reg.column(name) or reg.indicator(name)  # an unknown name is a variable without a unit
        units.append(var.shown_unit.code)
    return ",".join(units)


def series_shape(lake: Lake, run: Run, output: str) -> SeriesShape:
    of = tuple((name, json.dumps(run.params.get(name), sort_keys=True, default=str))
               for name in kinds.SERIES_PARAMS.get(run.kind, ()) if name in run.params)
    columns = tuple(sorted(f.name for f in _output_table(lake, run, output).schema().fields))
    return SeriesShape(run.kind, output, of, columns, series_unit(run.params))


def covered_periods(lake: Lake, run: Run, output: str) -> list[str]:
    """The reference periods (``YYYY-MM``, ``YYYY-Qn``) a run's *output* covers, in order: its
    ``period`` parameter, its ``first`` to ``last``, else its output's time column."""
    params = run.params
    if isinstance(params.get("period"), str) and params["period"]:
        return [params["period"]]
    bounds = [params[k] for k in ("first", "last") if isinstance(params.get(k), str) and params[k]]
    if bounds:
        return sorted(set(bounds))
    if output not in run.outputs:
        return []
    table = _output_table(lake, run, output)
    names = [f.name for f in table.schema().fields]
    column = next((c for c in OUTPUT_TIME_COLUMNS if c in names), None)
    if column is None:
        return []
    values = table.to_pyarrow_table(columns=[column]).column(column).unique().to_pylist()
    return sorted({v.strftime("%Y-%m") if isinstance(v, (date, datetime)) else str(v)
                   for v in values if v is not None})


def _run_or_none(lake: Lake, run_id: str) -> Run | None:
    try:
        return get_run(lake, run_id)
    except Exception:  # a run the records name but the registry lost is the audit check's concern
        return None


def check_series(lake: Lake, series: str, run: Run, output: str, embargo: datetime | None = None,
                 now: datetime | None = None) -> None:
    """ReviewError naming the rule if *run*'s *output* cannot be the next vintage of *series*:
    another kind, output, breakdown, column set or unit than its vintages so far, a reference
    period before the latest vintage still published (a later vintage of an earlier month), or
    an *embargo* (None: public at once, at *now*) that lifts before an earlier vintage's."""
    vintages = [r for r in verified_releases(lake) if r.series == series and r.problem is None]
    if not vintages:
        return
    check_embargo_order(lake, series, run, vintages, embargo, now or datetime.now(timezone.utc))
    latest = vintages[-1]
    before = _run_or_none(lake, latest.run_id)
    if before is None or latest.output not in before.outputs:
        return
    was, now = series_shape(lake, before, latest.output), series_shape(lake, run, output)
    facts = {"series": series, "vintage": latest.vintage, "run": run.run_id}
    if was.kind != now.kind:
        raise ReviewError(f"series {series} publishes {was.kind} runs (vintage {latest.vintage}); run {run.run_id} is "
                          f"a {now.kind} run: release it as a series of its own", "series_kind", **facts,
                          kind=now.kind, series_kind=was.kind)
    if was.output != now.output:
        raise ReviewError(f"series {series} publishes output {was.output!r}; run {run.run_id} would publish "
                          f"{now.output!r}", "series_output", **facts, output=now.output, series_output=was.output)
    if was.of != now.of:
        raise ReviewError(f"series {series} is of {dict(was.of)} (vintage {latest.vintage}); run {run.run_id} is of "
                          f"{dict(now.of)}: release it as a series of its own", "series_breakdown", **facts,
                          was=tuple((k, json.loads(v)) for k, v in was.of), now=tuple((k, json.loads(v)) for k, v in now.of))
    if was.columns != now.columns:
        raise ReviewError(f"series {series} has columns {list(was.columns)}; run {run.run_id}'s output has "
                          f"{list(now.columns)}", "series_columns", **facts,
                          missing=tuple(c for c in was.columns if c not in now.columns),
                          extra=tuple(c for c in now.columns if c not in was.columns))
    if was.unit != now.unit:
        raise ReviewError(f"series {series} is published in {was.unit or 'no unit'}; run {run.run_id}'s values are in "
                          f"{now.unit or 'no unit'}", "series_unit", **facts, unit=now.unit, series_unit=was.unit)
    # Each vintage was checked against the one before, so the latest still published covers the
    # latest period; a withdrawn vintage (a wrong month, say) does not hold the series back.
    live = [r for r in vintages if r.published]
    shown = _run_or_none(lake, live[-1].run_id) if live else None
    if shown is None or live[-1].output not in shown.outputs:
        return
    periods, latest_periods = covered_periods(lake, run, output), covered_periods(lake, shown, live[-1].output)
    if periods and latest_periods and periods[-1] < latest_periods[-1]:
        raise ReviewError(f"series {series} already publishes {latest_periods[-1]} (vintage {live[-1].vintage}); run "
                          f"{run.run_id} covers up to {periods[-1]}: a later vintage cannot be of an earlier period",
                          "series_period", **{**facts, "vintage": live[-1].vintage}, period=periods[-1],
                          latest=latest_periods[-1])


def check_embargo_order(lake: Lake, series: str, run: Run, vintages: list[Release], embargo: datetime | None,
                        now: datetime) -> None:
    """ReviewError ``series_embargo`` if the new vintage would be public before an earlier one still
    under embargo: readers would see the newer figures first, and the older ones would then appear
    after them. A withdrawn vintage is never public, so it holds nothing back."""
    waiting = [r for r in vintages if r.published and r.embargo_until is not None and r.embargo_until > now]
    if not waiting:
        return
    earlier = max(waiting, key=lambda r: (r.embargo_until, r.vintage))
    public_from = embargo or now
    if public_from >= earlier.embargo_until:
        return
    zone = lake.settings.lake.local_timezone
    shown = {"embargo": city_time(embargo, zone) if embargo is not None else "",
             "earlier_embargo": city_time(earlier.embargo_until, zone)}
    raise ReviewError(f"series {series} vintage {earlier.vintage} is under embargo until {shown['earlier_embargo']}; "
                      f"run {run.run_id} would be public {'at ' + shown['embargo'] if embargo else 'at once'}, "
                      "before it: a newer vintage cannot be published before an earlier one",
                      "series_embargo", series=series, vintage=earlier.vintage, run=run.run_id, **shown)


def _complete(lake: Lake, record: Mapping[str, Any], user: User, series: str, output: str) -> Release:
    """Finish a release that stopped after its record: check the record, then write its audit entry."""
    if (record["series"], record["output"]) != (series, output):
        raise ReviewError(f"run {record['run_id']} has an unfinished release of output {record['output']!r} into "
                          f"series {record['series']!r} (vintage {record['vintage']}); release it there to finish it",
                          "unfinished_release", run=record["run_id"], output=record["output"], series=record["series"],
                          vintage=int(record["vintage"]))
    with lake.exclusive(AUDIT):
        problem = _check_record(lake, record, audit_key(lake.settings))
        if problem is not None:
            raise ReviewError(f"cannot finish the release of run {record['run_id']}: {problem}")
        chain = read_chain(lake)
        if _pending(lake, record["run_id"], chain) is None:
            raise ReviewError(f"run {record['run_id']}: its release {record['release_id']} was finished meanwhile",
                              "finished_meanwhile", run=record["run_id"])
        _check(lake, chain, record["run_id"], user, "release", "")
        _seal(lake, record, user, _approved_output(lake, chain, get_run(lake, record["run_id"]), record["output"]))
    return _as_release(record)


def withdraw(lake: Lake, run_id: str, user: User, reason: str) -> str:
    """Withdraw a released run (supervisor, with a reason). Its vintages stay in the history."""
    return transition(lake, run_id, user, "withdraw", reason)


def verified_releases(lake: Lake) -> list[Release]:
    """Every recorded vintage, checked against the audit trail, sorted by series and vintage.

    The chain must verify, and nothing it vouches for may be gone: no commit removed rows
    from the records, and every released record, vintage and run is still there (else
    AuditChainError naming the break). A record is trusted
    (``problem`` None) only if a ``release`` entry of the chain carries its digest, the
    run was approved by someone other than its author before that, the record's MAC
    holds, and the vintage's rows are the ones released; otherwise ``problem`` says why
    and no reader publishes it.
    """
    records = _records(lake)
    chain = read_chain(lake)
    _check_nothing_lost(lake, chain, records)
    if not records:
        return []
    key = audit_key(lake.settings)
    by_run: dict[str, list[dict[str, Any]]] = {}
    for entry in chain:
        by_run.setdefault(entry["run_id"], []).append(entry)
    out = []
    for record in records:
        trail = by_run.get(record["run_id"], [])
        problem = _vouched(record, trail) or _check_record(lake, record, key)
        out.append(_as_release(record, withdrawn=bool(trail) and trail[-1]["after"] == "withdrawn", problem=problem))
    return sorted(out, key=lambda r: (r.series, r.vintage))


def _check_nothing_lost(lake: Lake, chain: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    """AuditChainError when a record the trail vouches for is gone: a release record, a released
    vintage's rows, a run. Delta lets anyone with write access ``restore`` an append-only table
    to an earlier version (its flag does not stop that), or cut its last commits off."""
    sealed = [(r, json.loads(r["evidence"])) for r in chain if r["action"] == "release" and r["evidence"]]
    series = sorted({e["series"] for _, e in sealed} | {r["series"] for r in records})
    for name in (RELEASES, RUNS, RUN_OUTPUTS, *(f"release.{s}" for s in series)):
        if lake.exists(name):
            refuse_rewritten(lake, name)
    by_id = {r["release_id"]: r for r in records}
    for entry, evidence in sealed:
        where = f"release {evidence['release_id']} ({evidence['series']} vintage {evidence['vintage']})"
        record = by_id.get(evidence["release_id"])
        if record is None:
            raise AuditChainError(f"{RELEASES} lost the record of {where}, which audit entry {entry['seq']} "
                                  "released: the table was cut back or rewritten")
        try:
            rows = vintage_rows(lake, record["series"], record["release_id"]).num_rows
        except LookupError:
            rows = 0
        if rows < record["rows"]:
            raise AuditChainError(f"release.{record['series']} vintage {record['vintage']} lost rows: it holds {rows} "
                                  f"of the {record['rows']} released (audit entry {entry['seq']}); the table was cut "
                                  "back or rewritten")
    recorded = set(lake.read_arrow(RUNS, ["run_id"]).column("run_id").to_pylist()) if lake.exists(RUNS) else set()
    for run_id in dict.fromkeys(r["run_id"] for r in chain):
        if run_id not in recorded:
            raise AuditChainError(f"{RUNS} lost run {run_id}, which the audit trail records: the table was cut back "
                                  "or rewritten")


def _vouched(record: Mapping[str, Any], trail: list[dict[str, Any]]) -> str | None:
    """Why the run's audit trail does not vouch for *record*, or None."""
    name = f"release {record['release_id']} ({record['series']} vintage {record['vintage']})"
    seal = next((i for i, e in enumerate(trail) if e["action"] == "release" and e["evidence"]
                 and json.loads(e["evidence"]).get("release_id") == record["release_id"]), None)
    if seal is None:
        return f"{name}: no audit entry releases it (the record was added outside a release)"
    evidence = json.loads(trail[seal]["evidence"])
    if evidence.get("record_sha256") != record_digest(record, RECORD_COLUMNS):
        return f"{name}: the record differs from the one its audit entry released (it was edited)"
    author = trail[0]["user"] if trail and trail[0]["action"] == "record" else None
    approvals = [e for e in trail[:seal] if e["action"] == "approve"]
    if author is None or not approvals or approvals[-1]["user"] == author or trail[seal]["user"] == author:
        return f"{name}: the trail shows no approval and release by someone other than the run's author"
    approved = approved_outputs(trail[:seal], record["run_id"]).get(record["output"]) or {}
    if evidence.get("output_sha256") is None or evidence["output_sha256"] != approved.get("rows_sha256"):
        return f"{name}: the trail does not show that the output released is the one approved"
    return None


def list_releases(lake: Lake, series: str | None = None) -> list[Release]:
    """The recorded vintages (of *series*), verified: see :func:`verified_releases`."""
    return [r for r in verified_releases(lake) if series is None or r.series == series]


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
    recorded = list_releases(lake, series)
    releases = [r for r in recorded if r.problem is None and visible(r, user, now)
                and (include_withdrawn or not r.withdrawn)]
    if vintage is not None:
        if vintage not in {r.vintage for r in recorded if r.problem is None}:
            raise ReviewError(f"release.{series} has no vintage {vintage}", "no_vintage", series=series, vintage=vintage)
        releases = [r for r in releases if r.vintage == vintage]
        if not releases:
            raise ReviewError(f"release.{series} vintage {vintage} is not visible to {user.username} (embargo)", "embargoed",
                              series=series, vintage=vintage)
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
    """Versions of *table* pinned by recorded releases (what :meth:`Lake.vacuum` keeps)."""
    return lake.pinned_versions(table)


def safe_vacuum(lake: Lake, table: str, retention_hours: int = 168, dry_run: bool = True) -> list[str]:
    """VACUUM that keeps every file a released run's pinned version of *table* needs.

    Kept for callers of the earlier API: :meth:`Lake.vacuum` itself now stretches the
    retention back to the oldest pinned version, whoever calls it.
    """
    return lake.vacuum(table, retention_hours=retention_hours, dry_run=dry_run)
