"""The run registry: what was computed, from which table versions, by which code.

A *method* is a pure function ``fn(inputs, params) -> {output name: DataFrame}``
registered under a kind with :func:`method`. :func:`run_method` resolves each
input table's current Delta version, reads the inputs pinned at those versions,
calls the method and records the run; :func:`reproduce` calls it again on the
same pinned versions and compares outputs. Results computed elsewhere (a
notebook) are recorded with :func:`record_run`.

Tables: ``workbench.runs`` (one row per run), ``workbench.run_outputs`` (one row
per output table ``runs.<run_id>.<output>``), and the audit trail (see review).
"""

from __future__ import annotations

import json
import math
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.auth import User
from workbench.clock import stored_instant
from workbench.lake import Lake
from workbench.runs import kinds
from workbench.runs.code_version import code_version

RUNS = "workbench.runs"
RUN_OUTPUTS = "workbench.run_outputs"

RUNS_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("kind", pa.string()), ("title", pa.string()), ("series", pa.string()),
    ("user", pa.string()), ("started_at", pa.timestamp("us", tz="UTC")), ("ended_at", pa.timestamp("us", tz="UTC")),
    ("code_commit", pa.string()), ("code_dirty", pa.bool_()), ("package_version", pa.string()),
    ("params_json", pa.string()), ("inputs_json", pa.string()), ("metrics_json", pa.string()),
    ("logs", pa.string()), ("warnings_json", pa.string()),
])
OUTPUTS_SCHEMA = pa.schema([("run_id", pa.string()), ("output", pa.string()), ("table_name", pa.string()),
                            ("version", pa.int64()), ("rows", pa.int64())])

MethodFn = Callable[[dict[str, DataFrame], dict[str, Any]], Mapping[str, "DataFrame | pd.DataFrame"]]
# Kinds registered at run time by code outside the package (a test's, a notebook's own method);
# the shipped kinds are listed in workbench.runs.kinds and need no registration.
_METHODS: dict[str, MethodFn] = {}


class RunError(RuntimeError):
    pass


def method(kind: str) -> Callable[[MethodFn], MethodFn]:
    """Register *fn* for a kind of this process only (a test's, a notebook's own method).

    The workbench's own kinds are listed in :data:`workbench.runs.kinds.KINDS` instead, so
    any process can rerun them without importing the module that defines them first.
    """
    if kind in kinds.KINDS:
        raise RunError(f"kind {kind!r} is one of the workbench's own (workbench/runs/kinds.py)")

    def register(fn: MethodFn) -> MethodFn:
        _METHODS[kind] = fn
        return fn
    return register


def methods() -> list[str]:
    """Every kind that can be run and reproduced here: the shipped ones and this process's own."""
    return sorted(set(kinds.KINDS) | set(_METHODS))


def method_for(kind: str) -> MethodFn:
    """The method of *kind*; RunError naming the known kinds when there is none."""
    fn = _METHODS.get(kind) or kinds.load(kind)
    if fn is None:
        raise RunError(f"no method for kind {kind!r}; known kinds: {', '.join(methods())}")
    return fn


@dataclass
class Run:
    run_id: str
    kind: str
    title: str
    series: str | None
    user: str
    started_at: datetime
    ended_at: datetime
    code_commit: str
    code_dirty: bool
    package_version: str
    params: dict[str, Any]
    inputs: dict[str, int]
    metrics: dict[str, Any]
    logs: str
    warnings: list[str]
    outputs: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (table, version)


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("r%Y%m%dt%H%M%S_") + uuid.uuid4().hex[:8]


def _username(user: User | str) -> str:
    return user.username if isinstance(user, User) else str(user)


def _spark_frame(lake: Lake, df: "DataFrame | pd.DataFrame") -> DataFrame:
    if not isinstance(df, pd.DataFrame):
        return df
    if df.empty or any(df[c].isna().all() for c in df.columns if df[c].dtype == object):
        # Spark cannot infer a type from no values (CANNOT_INFER_EMPTY_SCHEMA, a traceback on
        # the page that submitted it): an output with no rows, or a text column with no value,
        # is stored with its text columns as strings
        table = pa.Table.from_pandas(df, preserve_index=False)
        table = table.cast(pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                                      for f in table.schema]))
        from pyspark.sql.pandas.types import from_arrow_schema

        return lake.spark.createDataFrame(table, schema=from_arrow_schema(table.schema))
    return lake.spark.createDataFrame(df)


def record_run(
    lake: Lake,
    kind: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, int],
    outputs: Mapping[str, "DataFrame | pd.DataFrame"],
    metrics: Mapping[str, Any] | None = None,
    *,
    user: User | str,
    title: str = "",
    series: str | None = None,
    logs: str = "",
    warnings: list[str] | None = None,
    started_at: datetime | None = None,
) -> str:
    """Write the outputs under ``runs/<run_id>/`` and record the run as a draft; return its id."""
    for table, version in inputs.items():
        if not isinstance(version, int):
            raise RunError(f"input {table}: record the Delta version read (an int), got {version!r}")
    run_id = new_run_id()
    started = started_at or datetime.now(timezone.utc)
    output_rows = []
    for name, df in outputs.items():
        table = f"runs.{run_id}.{name}"
        version = lake.write(table, _spark_frame(lake, df))
        output_rows.append({"run_id": run_id, "output": name, "table_name": table, "version": version,
                            "rows": lake.row_count(table)})
    code = code_version()
    row = {
        "run_id": run_id, "kind": kind, "title": title or kind, "series": series, "user": _username(user),
        "started_at": started, "ended_at": datetime.now(timezone.utc), **code,
        "params_json": json.dumps(params, ensure_ascii=False, sort_keys=True, default=str),
        "inputs_json": json.dumps(dict(inputs), sort_keys=True),
        "metrics_json": json.dumps(metrics or {}, ensure_ascii=False, sort_keys=True, default=str),
        "logs": logs, "warnings_json": json.dumps(warnings or [], ensure_ascii=False),
    }
    if output_rows:
        lake.write(RUN_OUTPUTS, lake.spark.createDataFrame(pa.Table.from_pylist(output_rows, schema=OUTPUTS_SCHEMA)))
    lake.write(RUNS, lake.spark.createDataFrame(pa.Table.from_pylist([row], schema=RUNS_SCHEMA)))
    from workbench.runs.review import register_draft

    register_draft(lake, run_id)
    return run_id


def run_method(lake: Lake, kind: str, params: Mapping[str, Any], inputs: list[str] | Mapping[str, int | None], *,
               user: User | str, title: str = "", series: str | None = None) -> str:
    """Read *inputs* pinned at their current (or given) versions, run the method, record the run."""
    fn = method_for(kind)
    wanted = dict.fromkeys(inputs) if isinstance(inputs, list) else dict(inputs)
    versions = {t: (v if v is not None else lake.version(t)) for t, v in wanted.items()}
    frames = {t: lake.read(t, version=v) for t, v in versions.items()}
    started = datetime.now(timezone.utc)
    return record_result(lake, kind, params, versions, fn(frames, dict(params)), user=user, title=title,
                         series=series, started_at=started)


def record_result(lake: Lake, kind: str, params: Mapping[str, Any], versions: Mapping[str, int],
                  result: Mapping[str, Any], *, user: User | str, title: str = "", series: str | None = None,
                  started_at: datetime | None = None) -> str:
    """Record what *kind*'s method returned for *params* on the inputs at *versions*.

    For a page that has already called the method (cached) on exactly these versions: the
    run is the same as :func:`run_method`'s, without computing it twice; :func:`reproduce`
    checks it like any other.
    """
    method_for(kind)  # only a kind that can be rerun is recorded as one
    result = dict(result)
    metrics = dict(result.pop("_metrics", None) or {})
    # a method's own warnings (a model that did not converge ...) travel with the run
    warnings = [str(w) for w in result.pop("_warnings", None) or []]
    return record_run(lake, kind, params, dict(versions), result, metrics, user=user, title=title, series=series,
                      warnings=warnings, started_at=started_at)


def _run_from_row(row: Mapping[str, Any]) -> Run:
    return Run(
        run_id=row["run_id"], kind=row["kind"], title=row["title"], series=row["series"], user=row["user"],
        started_at=stored_instant(row["started_at"]), ended_at=stored_instant(row["ended_at"]), code_commit=row["code_commit"],
        code_dirty=bool(row["code_dirty"]), package_version=row["package_version"],
        params=json.loads(row["params_json"]), inputs=json.loads(row["inputs_json"]),
        metrics=json.loads(row["metrics_json"]), logs=row["logs"] or "", warnings=json.loads(row["warnings_json"]),
    )


def run_fingerprint(kind: str, params: Mapping[str, Any], inputs: Mapping[str, int]) -> str:
    """What makes two runs one computation: the kind, the parameters and the input versions (a
    method is a pure function of them), as one comparable string. Parameters compare as they are
    stored (JSON), so a page's date or tuple matches the recorded run's string or list."""
    stored = json.loads(json.dumps(dict(params), ensure_ascii=False, sort_keys=True, default=str))
    return json.dumps({"kind": kind, "params": stored, "inputs": {t: int(v) for t, v in inputs.items()}},
                      sort_keys=True)


def list_runs(lake: Lake) -> list[Run]:
    if not lake.exists(RUNS):
        return []
    runs = [_run_from_row(r.asDict()) for r in lake.read(RUNS).collect()]
    return sorted(runs, key=lambda r: r.started_at, reverse=True)


def get_run(lake: Lake, run_id: str) -> Run:
    if not lake.exists(RUNS):
        raise RunError(f"no run {run_id}: no run has been recorded yet")
    # A Column comparison, never SQL text: the id is a value, whatever characters it holds.
    rows = lake.read(RUNS).filter(F.col("run_id") == F.lit(str(run_id))).collect()
    if not rows:
        raise RunError(f"no run {run_id}")
    # A run and its outputs are written once, by record_run: a second row was added outside it,
    # and taking either one would make the run whichever row the engine happened to read last.
    if len(rows) > 1:
        raise RunError(f"run {run_id} is recorded {len(rows)} times in {RUNS}; a run is recorded once, so the "
                       "others were added outside record_run")
    run = _run_from_row(rows[0].asDict())
    if lake.exists(RUN_OUTPUTS):
        recorded = lake.read(RUN_OUTPUTS).filter(F.col("run_id") == F.lit(str(run_id))).collect()
        counts = Counter(r["output"] for r in recorded)
        for name, times in sorted(counts.items()):
            if times > 1:
                raise RunError(f"run {run_id}: output {name!r} is recorded {times} times in {RUN_OUTPUTS}; a run's "
                               "outputs are written once, so the others were added outside record_run")
        run.outputs = {r["output"]: (r["table_name"], r["version"]) for r in recorded}
    return run


def output_digests(lake: Lake, run: Run) -> dict[str, dict[str, Any]]:
    """Every output of *run* as it is now: its table, version, row count and rows' digest
    (:func:`~workbench.runs.audit_chain.rows_digest`), read through delta-rs. An approval
    records these, and a release publishes an output only while its digest is the approved one."""
    return {name: output_digest(lake, table, version) for name, (table, version) in sorted(run.outputs.items())}


def output_digest(lake: Lake, table: str, version: int) -> dict[str, Any]:
    """One output table at *version*: its name, version, row count and rows' digest."""
    from deltalake import DeltaTable

    from workbench.runs.audit_chain import rows_digest

    rows = DeltaTable(lake.path(table), version=version).to_pyarrow_table()
    return {"table": table, "version": int(version), "rows": rows.num_rows, "rows_sha256": rows_digest(rows)}


def read_output(lake: Lake, run_id: str, output: str) -> DataFrame:
    run = get_run(lake, run_id)
    if output not in run.outputs:
        raise RunError(f"run {run_id} has no output {output!r}; outputs: {', '.join(run.outputs)}")
    table, version = run.outputs[output]
    return lake.read(table, version=version)


@dataclass
class Reproduction:
    run_id: str
    matches: bool
    details: dict[str, str]


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame, rtol: float) -> str:
    if list(a.columns) != list(b.columns):
        return f"columns differ: {list(a.columns)} vs {list(b.columns)}"
    if len(a) != len(b):
        return f"{len(a)} rows vs {len(b)} rows"
    a = a.sort_values(list(a.columns), kind="mergesort").reset_index(drop=True)
    b = b.sort_values(list(b.columns), kind="mergesort").reset_index(drop=True)
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            for i, (u, v) in enumerate(zip(x.astype(float), y.astype(float))):
                if not (math.isclose(u, v, rel_tol=rtol, abs_tol=1e-12) or (math.isnan(u) and math.isnan(v))):
                    return f"column {col} row {i}: {u!r} vs {v!r}"
        elif not x.equals(y):
            i = int((x != y).idxmax())
            return f"column {col} row {i}: {x.iloc[i]!r} vs {y.iloc[i]!r}"
    return ""


def reproduce(lake: Lake, run_id: str, rtol: float = 1e-9) -> Reproduction:
    """Rerun *run_id*'s method on its pinned input versions and compare every output.

    Floats are compared with relative tolerance *rtol* (default 1e-9: the engine's
    aggregation order may differ between runs); everything else exactly.
    """
    run = get_run(lake, run_id)
    try:
        fn = method_for(run.kind)
    except RunError:
        raise RunError(f"run {run_id} was recorded outside a known method ({run.kind}); it cannot be rerun; "
                       f"known kinds: {', '.join(methods())}") from None
    frames = {t: lake.read(t, version=v) for t, v in run.inputs.items()}
    result = dict(fn(frames, dict(run.params)))
    result.pop("_metrics", None)
    result.pop("_warnings", None)
    details = {}
    for name in sorted(set(result) | set(run.outputs)):
        if name not in result or name not in run.outputs:
            details[name] = "output missing on one side"
            continue
        new = result[name] if isinstance(result[name], pd.DataFrame) else result[name].toPandas()
        old = read_output(lake, run_id, name).toPandas()
        details[name] = _frames_equal(old, new, rtol) or "matches"
    return Reproduction(run_id, all(v == "matches" for v in details.values()), details)
