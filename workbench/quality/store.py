"""Quality runs against the lake: the thin I/O layer around the pure transforms.

Every function here pins its inputs (reads each table at the Delta version it
found at the start), calls the pure transforms of :mod:`validate`,
:mod:`screening` and :mod:`editing`, writes the ``quality.*`` tables through
:class:`workbench.lake.Lake`, and appends one row to ``quality.runs`` (who,
when, inputs' versions, outputs' versions, counts), so every number on the
quality pages traces back to a run, its rules and its data.

Tables:

* ``quality.results``: rule x record x period outcome (pass / fail / na), with
  the values a failed rule looked at; one partition per table, replaced by each
  run of that table (earlier runs stay readable as earlier Delta versions);
* ``quality.summary``: per run, table, rule and period: evaluated, passed,
  failed, missing (appended: the history of pass rates);
* ``quality.screening``: per survey record: HB, robust z, cross-source gaps and
  the fraud score; ``quality.fraud_queue``: respondents ranked by fraud score;
* ``quality.fraud_decisions``: statisticians' confirmed / cleared marks (appended);
* ``quality.survey_panel`` and ``quality.edits``: see :mod:`workbench.quality.editing`.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.lake import Lake, sql_literal
from workbench.quality import screening as scr
from workbench.quality.rules import RULES_DIR, RuleSet, all_rule_sets, rule_set_for
from workbench.quality.validate import enrich, evaluate, summarise

RESULTS = "quality.results"
SUMMARY = "quality.summary"
RUNS = "quality.runs"
SCREENING = "quality.screening"
SCREENING_INPUT = "quality.screening_input"
FRAUD_QUEUE = "quality.fraud_queue"
FRAUD_DECISIONS = "quality.fraud_decisions"
DECISIONS = ("confirmed", "cleared")

RUNS_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("kind", pa.string()), ("table_name", pa.string()), ("user", pa.string()),
    ("started_at", pa.timestamp("us", tz="UTC")), ("seconds", pa.float64()), ("inputs_json", pa.string()),
    ("outputs_json", pa.string()), ("counts_json", pa.string()),
])
DECISIONS_SCHEMA = pa.schema([
    ("credit_code", pa.string()), ("decision", pa.string()), ("comment", pa.string()), ("user", pa.string()),
    ("decided_at", pa.timestamp("us", tz="UTC")), ("queue_run_id", pa.string()), ("peak_score", pa.float64()),
])

Progress = Callable[[str, float], None]


class QualityError(RuntimeError):
    """An action the quality rules refuse. *rule* names the rule and *facts* its particulars, so
    a page says it in its reader's language (``quality.rule.<rule>`` in ``workbench.i18n``); the
    message is the English sentence for logs and the command line."""

    def __init__(self, message: str, rule: str = "other", **facts: Any) -> None:
        super().__init__(message)
        self.rule = rule
        self.facts = facts


@dataclass
class QualityRun:
    run_id: str
    kind: str
    table: str
    seconds: float
    inputs: dict[str, int]
    outputs: dict[str, int] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)


def new_run_id(kind: str) -> str:
    return datetime.now(timezone.utc).strftime(f"q{kind[:1]}%Y%m%dt%H%M%S_") + uuid.uuid4().hex[:6]


def _username(user: Any) -> str:
    return getattr(user, "username", None) or str(user)


def _log_run(lake: Lake, run: QualityRun, user: Any, started: datetime) -> None:
    row = {"run_id": run.run_id, "kind": run.kind, "table_name": run.table, "user": _username(user),
           "started_at": started, "seconds": run.seconds, "inputs_json": json.dumps(run.inputs, sort_keys=True),
           "outputs_json": json.dumps(run.outputs, sort_keys=True),
           "counts_json": json.dumps(run.counts, ensure_ascii=False, sort_keys=True, default=str)}
    lake.write(RUNS, lake.spark.createDataFrame(pa.Table.from_pylist([row], schema=RUNS_SCHEMA)))


def pin(lake: Lake, tables: list[str]) -> tuple[dict[str, int], dict[str, DataFrame]]:
    """Current versions of *tables* and the tables read at those versions."""
    missing = [t for t in tables if not lake.exists(t)]
    if missing:
        raise QualityError(f"table(s) {missing} not in the lake; run the jobs first (workbench jobs run all)", "missing_tables",
                           tables=", ".join(missing))
    versions = {t: lake.version(t) for t in dict.fromkeys(tables)}
    return versions, {t: lake.read(t, version=v) for t, v in versions.items()}


def _inputs(rules: RuleSet) -> list[str]:
    return [rules.table, *[lk.table for lk in rules.lookups]]


def _replace_table_partition(lake: Lake, name: str, df: DataFrame, table: str) -> int:
    if lake.exists(name):
        return lake.write(name, df, mode="overwrite", replace_where=f"table_name = {sql_literal(table)}")
    return lake.write(name, df, partition_by=["table_name"])


def run_rules(lake: Lake, table: str, user: Any = "system", rules_dir=RULES_DIR,
              progress: Progress | None = None) -> QualityRun:
    """Evaluate every rule of *table* and write its results and summary; then screen when the
    rule set has a ``screening`` section."""
    progress = progress or (lambda message, fraction: None)
    rules = rule_set_for(table, rules_dir)
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    run_id = new_run_id("rules")
    progress(f"{rules.table}: reading", 0.05)
    versions, frames = pin(lake, _inputs(rules))
    enriched = enrich(frames[rules.table], rules, frames)
    progress(f"{rules.table}: evaluating {len(rules.rules)} rules", 0.15)
    results = evaluate(enriched, rules).withColumn("run_id", F.lit(run_id))
    outputs = {RESULTS: _replace_table_partition(lake, RESULTS, results, rules.table)}
    progress(f"{rules.table}: summary", 0.6)
    written = lake.read(RESULTS, version=outputs[RESULTS]).filter(F.col("table_name") == rules.table)
    summary = summarise(written).withColumn("run_id", F.lit(run_id)).withColumn(
        "evaluated_at", F.lit(started).cast("timestamp"))
    outputs[SUMMARY] = lake.write(SUMMARY, summary)
    totals = (lake.read(SUMMARY, version=outputs[SUMMARY]).filter(F.col("run_id") == run_id)
              .agg(*[F.sum(c).alias(c) for c in ("evaluated", "passed", "failed", "missing")]).collect()[0].asDict())
    counts: dict[str, Any] = {k: int(v or 0) for k, v in totals.items()} | {"rules": len(rules.rules)}
    if rules.screening:
        progress(f"{rules.table}: outliers and fraud score", 0.7)
        outputs.update(_screen(lake, rules, enriched, outputs[RESULTS], counts))
    run = QualityRun(run_id, "rules", rules.table, time.perf_counter() - t0, versions, outputs, counts)
    _log_run(lake, run, user, started)
    progress(f"{rules.table}: done", 1.0)
    return run


def unit_error_flags(results: DataFrame, rules: RuleSet) -> DataFrame:
    """(record_key, period) of records failing any rule tagged ``unit_error``."""
    ids = [r.id for r in rules.tagged("unit_error")]
    if not ids:
        return results.limit(0).select("record_key", "period")
    return (results.filter(F.col("rule_id").isin(ids) & (F.col("status") == "fail"))
            .select("record_key", "period").distinct())


def screening_records(enriched: DataFrame, flags: DataFrame, rules: RuleSet) -> DataFrame:
    """The screening input: survey values with unit-error records blanked."""
    p = scr.settings(rules.screening)
    key = F.concat_ws("|", *[F.col(k).cast("string") for k in rules.keys])
    flagged = flags.withColumn("_unit_error", F.lit(True))
    df = enriched.withColumn("record_key", key).join(flagged, ["record_key", "period"], "left")
    value = F.col("revenue_10k").cast("double") * F.lit(10000.0)
    return df.select(*[F.coalesce(F.col(c), F.lit("?")).alias(c) for c in p["group_by"]],
                     "credit_code", "period",
                     F.when(F.col("_unit_error").isNull(), value).alias("value"),
                     F.when(F.col("employment").between(0, 100000), F.col("employment")).alias("employment"),
                     "vat_sales", "si_headcount")


def _screen(lake: Lake, rules: RuleSet, enriched: DataFrame, results_version: int,
            counts: dict[str, Any]) -> dict[str, int]:
    results = lake.read(RESULTS, version=results_version).filter(F.col("table_name") == rules.table)
    records = screening_records(enriched, unit_error_flags(results, rules), rules)
    # Materialised once (cache() does nothing on Sail): the robust statistics and the
    # grouped screening each read it, and recomputing it would redo the lookups' joins.
    out = {SCREENING_INPUT: lake.write(SCREENING_INPUT, records, mode="overwrite")}
    p = scr.settings(rules.screening)
    staged = lake.read(SCREENING_INPUT, version=out[SCREENING_INPUT])
    out[SCREENING] = lake.write(SCREENING, scr.screen(staged, p), mode="overwrite")
    scores = lake.read(SCREENING, version=out[SCREENING]).toPandas()
    queue = scr.fraud_queue(scores, gap_z_flag=p["fraud"]["gap_z_flag"])
    counts["respondents"] = len(queue)
    counts["hb_outliers"] = int(scores["hb_outlier"].sum())
    counts["z_outliers"] = int(scores["z_outlier"].sum())
    queue = queue.head(int(p["fraud"]["queue_size"])) if p["fraud"].get("queue_size") else queue
    out[FRAUD_QUEUE] = lake.write(FRAUD_QUEUE, lake.spark.createDataFrame(queue), mode="overwrite")
    return out


def run_all(lake: Lake, user: Any = "system", rules_dir=RULES_DIR, progress: Progress | None = None) -> list[QualityRun]:
    """Every rule file whose table is in the lake, in file order."""
    return [run_rules(lake, name, user, rules_dir, progress)
            for name in all_rule_sets(rules_dir) if lake.exists(name)]


# ---- reading results (the app and notebooks) -----------------------------------------

def latest_summary(lake: Lake) -> pd.DataFrame:
    """The latest run's summary per table: table, rule, severity, period, counts, pass rate."""
    if not lake.exists(SUMMARY):
        return pd.DataFrame(columns=["table_name", "rule_id", "severity", "period", "evaluated", "passed",
                                     "failed", "missing", "pass_rate", "run_id"])
    s = lake.read(SUMMARY)
    latest = s.groupBy("table_name").agg(F.max("evaluated_at").alias("evaluated_at"))
    pdf = s.join(latest, ["table_name", "evaluated_at"]).toPandas()
    assessed = pdf["passed"] + pdf["failed"]
    pdf["pass_rate"] = (pdf["passed"] / assessed.where(assessed > 0)).astype(float)
    return pdf.sort_values(["table_name", "rule_id", "period"]).reset_index(drop=True)


def failing_records(lake: Lake, table: str, rule_id: str | None = None, period=None, limit: int = 1000) -> pd.DataFrame:
    """Failed outcomes of *table* (optionally one rule and one period), with the values looked at."""
    if not lake.exists(RESULTS):
        return pd.DataFrame(columns=["rule_id", "severity", "record_key", "period", "detail"])
    df = lake.read(RESULTS).filter((F.col("table_name") == table) & (F.col("status") == "fail"))
    if rule_id:
        df = df.filter(F.col("rule_id") == rule_id)
    if period is not None:
        df = df.filter(F.col("period") == F.lit(pd.Timestamp(period).date()))
    return (df.select("rule_id", "severity", "record_key", "period", "detail")
            .orderBy("period", "rule_id", "record_key").limit(limit).toPandas())


def quality_runs(lake: Lake) -> pd.DataFrame:
    if not lake.exists(RUNS):
        return pd.DataFrame(columns=[f.name for f in RUNS_SCHEMA])
    return lake.read(RUNS).orderBy(F.desc("started_at")).toPandas()


# ---- fraud review ---------------------------------------------------------------------

def fraud_queue(lake: Lake) -> pd.DataFrame:
    """The ranked queue with each respondent's latest decision (empty until screened)."""
    if not lake.exists(FRAUD_QUEUE):
        return pd.DataFrame()
    queue = lake.read(FRAUD_QUEUE).toPandas()
    decisions = decisions_frame(lake)
    if decisions.empty:
        queue["decision"] = None
        return queue
    last = decisions.sort_values("decided_at").drop_duplicates("credit_code", keep="last")
    return queue.merge(last[["credit_code", "decision", "user", "decided_at"]], on="credit_code", how="left")


def decisions_frame(lake: Lake) -> pd.DataFrame:
    if not lake.exists(FRAUD_DECISIONS):
        return pd.DataFrame(columns=[f.name for f in DECISIONS_SCHEMA])
    return lake.read(FRAUD_DECISIONS).toPandas()


def decide(lake: Lake, credit_code: str, decision: str, user: Any, comment: str = "") -> int:
    """Mark a respondent in the queue as confirmed or cleared; appended, the latest mark counts."""
    if decision not in DECISIONS:
        raise QualityError(f"decision {decision!r} not allowed; allowed: {', '.join(DECISIONS)}")
    if decision == "confirmed" and not comment.strip():
        raise QualityError("confirming suspected fraud needs a comment saying what the evidence is", "needs_comment")
    queue = lake.read(FRAUD_QUEUE).filter(F.col("credit_code") == credit_code).collect() \
        if lake.exists(FRAUD_QUEUE) else []
    if not queue:
        raise QualityError(f"{credit_code} is not in the fraud review queue", "not_in_queue", code=credit_code)
    runs = quality_runs(lake)
    run_id = str(runs["run_id"].iloc[0]) if not runs.empty else ""
    row = {"credit_code": credit_code, "decision": decision, "comment": comment.strip(), "user": _username(user),
           "decided_at": datetime.now(timezone.utc), "queue_run_id": run_id,
           "peak_score": float(queue[0]["peak_score"])}
    return lake.write(FRAUD_DECISIONS, lake.spark.createDataFrame(pa.Table.from_pylist([row], schema=DECISIONS_SCHEMA)))


def respondent_series(lake: Lake, credit_code: str) -> pd.DataFrame:
    """One enterprise's series across sources (survey, VAT, social insurance) with its scores, by month."""
    if not lake.exists(SCREENING):
        return pd.DataFrame()
    return (lake.read(SCREENING).filter(F.col("credit_code") == credit_code).orderBy("period").toPandas())


# ---- editing and imputation -------------------------------------------------------------

PANEL = "quality.survey_panel"
EDITS = "quality.edits"
SURVEY = "silver.survey_returns"
EDIT_COLUMNS = ("revenue", "employment")
EDITS_SCHEMA = pa.schema([
    ("edit_id", pa.string()), ("batch_id", pa.string()), ("credit_code", pa.string()), ("period", pa.date32()),
    ("column", pa.string()), ("before", pa.float64()), ("after", pa.float64()), ("method", pa.string()),
    ("reason", pa.string()), ("user", pa.string()), ("edited_at", pa.timestamp("us", tz="UTC")),
])


def _manual_edits(lake: Lake) -> DataFrame:
    """The latest manual value per cell (a later edit of the same cell wins)."""
    if not lake.exists(EDITS):
        return lake.spark.createDataFrame([], "credit_code string, period date, column string, after double")
    from pyspark.sql.window import Window

    w = Window.partitionBy("credit_code", "period", "column").orderBy(F.desc("edited_at"))
    return (lake.read(EDITS).filter(F.col("method") == "manual").withColumn("_n", F.row_number().over(w))
            .filter("_n = 1").select("credit_code", "period", "column", "after"))


def build_panel(lake: Lake, user: Any = "system", rules_dir=RULES_DIR, progress: Progress | None = None) -> QualityRun:
    """Impute every failed or missing cell of the survey panel and write it as a new version of
    ``quality.survey_panel``; log in ``quality.edits`` every imputed cell that is new or whose
    value or method changed since its last logged edit.

    The survey's rule results come first: when there are none, or they were computed on an
    older version of the survey returns, the rules are run here (a first click on the Editing
    page, or the pipeline's ``quality_survey_panel`` job, needs nothing else).
    Statisticians' manual edits are re-applied over the imputations.
    """
    from workbench.quality import editing
    from workbench.quality.validate import failing_cells, lookup_frames

    progress = progress or (lambda message, fraction: None)
    rules = rule_set_for(SURVEY, rules_dir)
    p = editing.settings(rules.imputation)
    if rule_results_stale(lake, rules.table):
        run_rules(lake, rules.table, user, rules_dir,
                  progress=lambda message, fraction: progress(message, 0.5 * fraction))
        inner = progress
        progress = lambda message, fraction: inner(message, 0.5 + 0.5 * fraction)  # noqa: E731 - rebinds the callback the rest of the function reports to
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    batch = new_run_id("imputation")
    tables = _inputs(rules) + ["silver.survey_sample", "silver.enterprises", RESULTS]
    versions, frames = pin(lake, tables)
    results = frames[RESULTS].filter(F.col("table_name") == rules.table)
    if not results.limit(1).collect():
        raise QualityError(f"no rule results for {rules.table}: run `workbench quality run {rules.short_name}` first",
                           "no_results", table=rules.table, short=rules.short_name)
    progress("panel: sample units x months", 0.1)
    survey = frames[rules.table]
    grid = editing.sample_grid(frames["silver.survey_sample"], frames["silver.enterprises"], survey.select("period"))
    failing = failing_cells(results, rules, tuple(p["severities"]))
    keys = grid.unionByName(survey.select("credit_code", F.col("period").cast("date").alias("period")))
    inputs = editing.panel_inputs(grid, survey, lookup_frames(rules, frames, within=keys), failing, rules.keys,
                                  p["group_by"])
    progress("panel: imputing", 0.3)
    panel = editing.apply_manual(editing.impute(inputs, p), _manual_edits(lake))
    panel = panel.withColumn("batch_id", F.lit(batch))
    out = {PANEL: lake.write(PANEL, panel, mode="overwrite") if lake.exists(PANEL)
           else lake.write(PANEL, panel, partition_by=None)}
    progress("panel: change log", 0.8)
    written = lake.read(PANEL, version=out[PANEL])
    log = editing.change_log(written).select(
        F.concat_ws(":", F.lit(batch), "credit_code", F.col("period").cast("string"), "column").alias("edit_id"),
        F.lit(batch).alias("batch_id"), "credit_code", F.col("period").cast("date").alias("period"), "column",
        F.col("before").cast("double"), F.col("after").cast("double"), "method", "reason",
        F.lit(_username(user)).alias("user"), F.lit(started).cast("timestamp").alias("edited_at"))
    log = editing.new_imputations(log, lake.read(EDITS) if lake.exists(EDITS) else None)
    out[EDITS] = lake.write(EDITS, log)
    flags = written.groupBy("revenue_flag").count().collect()
    counts = {f"revenue_{r['revenue_flag']}": int(r["count"]) for r in flags}
    counts["nonrespondent_rows"] = written.filter(F.col("response") == "nonrespondent").count()
    run = QualityRun(batch, "imputation", PANEL, time.perf_counter() - t0, versions, out, counts)
    _log_run(lake, run, user, started)
    progress("panel: done", 1.0)
    return run


def latest_run(lake: Lake, kind: str, table: str) -> QualityRun | None:
    """The newest ``quality.runs`` entry of *kind* ("rules", "imputation") for *table*, or None."""
    if not lake.exists(RUNS):
        return None
    rows = (lake.read(RUNS).filter((F.col("kind") == kind) & (F.col("table_name") == table))
            .orderBy(F.desc("started_at")).limit(1).collect())
    if not rows:
        return None
    r = rows[0]
    return QualityRun(r["run_id"], r["kind"], r["table_name"], float(r["seconds"] or 0.0), json.loads(r["inputs_json"]),
                      json.loads(r["outputs_json"]), json.loads(r["counts_json"]))


def rule_results_stale(lake: Lake, table: str) -> bool:
    """True when *table* has no rule results, or they were computed on an older version of it."""
    run = latest_run(lake, "rules", table)
    return run is None or not lake.exists(RESULTS) or run.inputs.get(table) != lake.version(table)


@dataclass(frozen=True)
class PanelStatus:
    """Which version of ``quality.survey_panel`` exists and when it was written (UTC)."""

    version: int
    written_at: datetime
    operation: str


def panel_status(lake: Lake) -> PanelStatus | None:
    """The survey panel's latest Delta version and commit time, or None when it was never built."""
    if not lake.exists(PANEL):
        return None
    last = lake.history(PANEL, 1)[0]
    return PanelStatus(int(last["version"]), datetime.fromtimestamp(last["timestamp"] / 1000, timezone.utc),
                       str(last.get("operation", "")))


def _panel_row(lake: Lake, credit_code: str, period) -> dict[str, Any]:
    if not lake.exists(PANEL):
        raise QualityError("no survey panel yet: build it first (Editing page, or workbench quality impute)", "no_panel")
    day = pd.Timestamp(period).date()
    rows = lake.read(PANEL).filter((F.col("credit_code") == credit_code) & (F.col("period") == F.lit(day))).collect()
    if not rows:
        raise QualityError(f"{credit_code} {day} is not in the survey panel", "not_in_panel", code=credit_code,
                           period=str(day)[:7])
    return rows[0].asDict()


def _record_edit(lake: Lake, row: dict[str, Any], column: str, value: float, method: str, reason: str,
                 user: Any) -> int:
    now = datetime.now(timezone.utc)
    edit_id = f"e{now.strftime('%Y%m%dt%H%M%S')}_{uuid.uuid4().hex[:6]}"
    log = {"edit_id": edit_id, "batch_id": edit_id, "credit_code": row["credit_code"], "period": row["period"],
           "column": column, "before": None if row[column] is None else float(row[column]), "after": float(value),
           "method": method, "reason": reason.strip(), "user": _username(user), "edited_at": now}
    lake.write(EDITS, lake.spark.createDataFrame(pa.Table.from_pylist([log], schema=EDITS_SCHEMA)))
    updated = dict(row)
    updated[column] = float(value)
    updated[f"{column}_flag"] = "edited" if method == "manual" else "imputed"
    updated[f"{column}_method"] = method
    updated["batch_id"] = edit_id
    schema = lake.read(PANEL).schema
    return lake.merge(PANEL, lake.spark.createDataFrame([tuple(updated[f.name] for f in schema.fields)], schema),
                      keys=["credit_code", "period"])


def edit_cell(lake: Lake, credit_code: str, period, column: str, value: float, reason: str, user: Any) -> int:
    """A statistician's new value for one cell: logged (before, after, reason, user) and merged
    into the panel as a new Delta version. A reason is required."""
    if column not in EDIT_COLUMNS:
        raise QualityError(f"column {column!r} cannot be edited; editable: {', '.join(EDIT_COLUMNS)}")
    if not reason or not reason.strip():
        raise QualityError("an edit needs a reason", "needs_reason")
    if value is None or not pd.notna(value) or float(value) < 0:
        raise QualityError(f"{value!r} is not a valid {column}: give a number >= 0", "bad_value", value=value, column=column)
    return _record_edit(lake, _panel_row(lake, credit_code, period), column, value, "manual", reason, user)


def impute_cell(lake: Lake, credit_code: str, period, column: str, user: Any, reason: str = "",
                rules_dir=RULES_DIR) -> tuple[float, str, int]:
    """Impute one cell now (the unit's group re-imputed with that cell treated as failed);
    returns (value, method, panel version)."""
    from workbench.quality import editing

    if column not in EDIT_COLUMNS:
        raise QualityError(f"column {column!r} cannot be imputed; allowed: {', '.join(EDIT_COLUMNS)}")
    row = _panel_row(lake, credit_code, period)
    rules = rule_set_for(SURVEY, rules_dir)
    p = editing.settings(rules.imputation)
    cond = None
    for c in p["group_by"]:
        term = F.col(c) == row[c]
        cond = term if cond is None else cond & term
    group = lake.read(PANEL).filter(cond).toPandas()
    group["revenue_fail"] = group["revenue_flag"] == "imputed"
    group["employment_fail"] = group["employment_flag"] == "imputed"
    target = (group["credit_code"] == credit_code) & (pd.to_datetime(group["period"]) == pd.Timestamp(row["period"]))
    group.loc[target, f"{column}_fail"] = True
    out = editing.impute_group(group, p)
    hit = out[(out["credit_code"] == credit_code) & (pd.to_datetime(out["period"]) == pd.Timestamp(row["period"]))]
    value, method = hit[column].iloc[0], hit[f"{column}_method"].iloc[0]
    if not pd.notna(value):
        raise QualityError(f"no imputation method could fill {column} of {credit_code} {row['period']}", "no_method",
                           column=column, code=credit_code, period=str(row["period"])[:7])
    version = _record_edit(lake, row, column, float(value), str(method), reason or "imputed on request", user)
    return float(value), str(method), version


def edits_frame(lake: Lake, credit_code: str | None = None, limit: int = 1000, manual_only: bool = False) -> pd.DataFrame:
    """The change log, newest first."""
    if not lake.exists(EDITS):
        return pd.DataFrame(columns=[f.name for f in EDITS_SCHEMA])
    df = lake.read(EDITS)
    if credit_code:
        df = df.filter(F.col("credit_code") == credit_code)
    if manual_only:
        df = df.filter(F.col("batch_id") == F.col("edit_id"))
    return df.orderBy(F.desc("edited_at"), "credit_code", "period").limit(limit).toPandas()
