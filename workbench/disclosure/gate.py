"""The release gate: a table that needs disclosure control is published only protected.

:func:`disclosure_gate` is called by :func:`workbench.runs.release.release_run`
before anything is written. For a run whose kind is listed under ``[tables.*]`` in
``conf/disclosure.toml`` it

1. reads the microdata the run read, at the run's pinned Delta version, and computes
   the cell statistics in the engine;
2. checks that the run's output is exactly that table (a table that does not match
   its microdata cannot be protected by rules computed on the microdata);
3. applies the primary rules and secondary suppression, then audits the pattern
   again (min/max LPs of every suppressed cell over the published system) and
   refuses the release if any suppressed cell can be narrowed below the protection;
4. returns the protected table (suppressed values null, ``conf_status`` F/C/D as in
   SDMX: free, confidential, secondary confidentiality) and the suppression report,
   stored in ``workbench.disclosure_reports`` once the release has an id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame

from workbench.disclosure.cells import equation_matrix, equations
from workbench.disclosure.secondary import audit
from workbench.disclosure.settings import DisclosureSettings, TableSpec, load_disclosure_settings
from workbench.disclosure.tables import finest_stats, nonnegative, protect_cells, release_cells, table_params
from workbench.lake import Lake

REPORTS = "workbench.disclosure_reports"
REPORTS_SCHEMA = pa.schema([
    ("release_id", pa.string()), ("series", pa.string()), ("vintage", pa.int64()), ("run_id", pa.string()),
    ("period", pa.string()), ("measure", pa.string()), ("cell", pa.string()), ("status", pa.string()),
    ("rules", pa.string()), ("contributors", pa.int64()), ("lower_ratio", pa.float64()),
    ("upper_ratio", pa.float64()),
])
STATUS_FREE, STATUS_PRIMARY, STATUS_SECONDARY = "F", "C", "D"
VALUE_RTOL = 1e-9


class DisclosureError(ValueError):
    """A release refused by disclosure control.

    Like :class:`workbench.runs.review.ReviewError`, a refusal a page says in its reader's
    language carries its *rule* (``review.rule.<rule>`` in ``workbench.i18n``) and *facts*; the
    message is the English sentence for logs and the command line."""

    def __init__(self, message: str, rule: str = "other", **facts: Any) -> None:
        super().__init__(message)
        self.rule = rule
        self.facts = facts


@dataclass
class Control:
    """A protected table, its suppression report and a summary for the release record."""

    table: DataFrame
    report: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def store(self, lake: Lake, release_id: str, series: str, vintage: int, run_id: str) -> None:
        rows = self.report.assign(release_id=release_id, series=series, vintage=vintage, run_id=run_id)
        lake.append_arrow(REPORTS, pa.Table.from_pandas(rows[REPORTS_SCHEMA.names], schema=REPORTS_SCHEMA,
                                                        preserve_index=False))


def spec_for(kind: str, settings: DisclosureSettings | None = None) -> TableSpec | None:
    return (settings or load_disclosure_settings()).tables.get(kind)


def releasable(kind: str, settings: DisclosureSettings | None = None) -> bool:
    """Whether runs of *kind* may be released at all: a table kind, an estimate kind or an exempt
    kind of ``conf/disclosure.toml``. A kind listed nowhere (a nowcast) is refused by the gate."""
    settings = settings or load_disclosure_settings()
    return (spec_for(kind, settings) is not None or kind in settings.release.estimates
            or kind in settings.release.exempt_kinds)


def verify_pattern(cells: pd.DataFrame, spec: TableSpec, protection: float) -> pd.DataFrame:
    """Audit a suppression pattern table by table; raise DisclosureError if any cell is too narrow.

    *cells* has the keys, ``total`` and ``suppressed``. Returns it with ``lower`` and ``upper``.
    """
    out = []
    for (period, measure), group in cells.groupby(["period", "measure"], sort=True):
        group = group.reset_index(drop=True)
        values = group["total"].to_numpy(dtype=float)
        A = equation_matrix(len(group), equations(group, spec.geography, spec.category))
        lower, upper, _ = audit(values, A, group["suppressed"].to_numpy(dtype=bool), nonnegative=nonnegative(group))
        d = protection * np.abs(values)
        slack = 1e-6 * (np.abs(values) + 1.0)
        narrow = group["suppressed"].to_numpy() & ((upper < values + d - slack) | (lower > values - d + slack))
        if narrow.any():
            k = int(np.flatnonzero(narrow)[0])
            key = " / ".join(str(group.loc[k, c]) for c in spec.keys)
            raise DisclosureError(
                f"disclosure audit failed: {int(narrow.sum())} suppressed cell(s) of {measure} {period} can be "
                f"derived to within {protection:.0%} from the published margins (first: {key}); release refused")
        out.append(group.assign(lower=lower, upper=upper))
    return pd.concat(out, ignore_index=True) if out else cells.assign(lower=np.nan, upper=np.nan)


def _check_output(output: pd.DataFrame, cells: pd.DataFrame, spec: TableSpec) -> None:
    keys = ["period", "measure", *spec.keys]
    missing = [c for c in [*keys, "value"] if c not in output.columns]
    if missing:
        raise DisclosureError(f"the output lacks column(s) {missing} of a {spec.kind} table; release refused")
    joined = output[keys + ["value"]].astype({k: str for k in keys}).merge(
        cells[keys + ["total"]].astype({k: str for k in keys}), on=keys, how="outer", indicator=True)
    if (joined["_merge"] != "both").any() or len(joined) != len(output):
        raise DisclosureError("the output's cells are not the cells of its microdata; release refused")
    value, total = joined["value"].fillna(0).to_numpy(float), joined["total"].to_numpy(float)
    if not np.allclose(value, total, rtol=VALUE_RTOL, atol=1e-6):
        raise DisclosureError("the output's values do not match its microdata at the pinned version; "
                              "release refused")


def disclosure_gate(lake: Lake, run, output: str, published: DataFrame,
                    settings: DisclosureSettings | None = None) -> Control | None:
    """Protect *published* (the run's output) if its kind needs disclosure control; else None."""
    settings = settings or load_disclosure_settings()
    spec = spec_for(run.kind, settings)
    if spec is None:
        hidden = settings.release.estimates.get(run.kind)
        if hidden is not None:
            return protect_estimates(lake, run, published, hidden, settings.rules.min_frequency)
        if run.kind in settings.release.exempt_kinds:
            return None
        # said to a supervisor by its rule (what to do); the sentence is for the methodologist's log
        raise DisclosureError(
            f"run kind {run.kind!r} has no disclosure rule: list it under [tables.*] or [release.estimates] "
            "in conf/disclosure.toml, or in [release].exempt_kinds if its output holds no single enterprise's "
            "value; release refused", "kind_not_releasable", kind=run.kind, run=run.run_id)
    if spec.microdata not in run.inputs:
        raise DisclosureError(f"run {run.run_id} did not record its microdata {spec.microdata}; "
                              "disclosure control needs it; release refused")
    started = time.perf_counter()
    rules = settings.rules
    measures, first, last = table_params(run.params, spec)
    micro = lake.read(spec.microdata, version=run.inputs[spec.microdata])
    cells = release_cells(finest_stats(micro, spec, measures, first, last, depth=max(2, rules.dominance_n)), spec)
    frame = published.toPandas()
    _check_output(frame, cells, spec)
    protected = protect_cells(cells, spec, rules)
    verified = verify_pattern(protected, spec, rules.protection)
    keys = ["period", "measure", *spec.keys]
    status = verified[keys].copy()
    status["conf_status"] = np.where(verified["primary"], STATUS_PRIMARY,
                                     np.where(verified["secondary"], STATUS_SECONDARY, STATUS_FREE))
    frame = frame.merge(status, on=keys, how="left")
    frame["value"] = frame["value"].where(frame["conf_status"] == STATUS_FREE, None)
    table = lake.spark.createDataFrame(frame)
    hidden = verified[verified["suppressed"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = (hidden["lower"] / hidden["total"]).replace([np.inf, -np.inf], np.nan)
        upper = (hidden["upper"] / hidden["total"]).replace([np.inf, -np.inf], np.nan)
    report = pd.DataFrame({
        "period": hidden["period"].astype(str), "measure": hidden["measure"].astype(str),
        "cell": [" / ".join(str(r[c]) for c in spec.keys) for _, r in hidden.iterrows()],
        "status": np.where(hidden["primary"], "primary", "secondary"),
        "rules": np.where(hidden["primary"], hidden["rules"], "protects a confidential cell"),
        "contributors": hidden["n"].astype("int64"), "lower_ratio": lower.astype(float),
        "upper_ratio": upper.astype(float)})
    fired = verified.loc[verified["primary"], "rules"].str.split(",").explode().value_counts()
    summary = {
        "kind": spec.kind, "cells": int(len(verified)), "tables": int(verified.groupby(["period", "measure"]).ngroups),
        "primary": int(verified["primary"].sum()), "secondary": int(verified["secondary"].sum()),
        "by_rule": {str(k): int(v) for k, v in fired.items()},
        "rules": {"min_frequency": rules.min_frequency, "dominance": [rules.dominance_n, rules.dominance_k],
                  "p_percent": rules.p_percent, "protection": rules.protection, "cost": rules.cost},
        "narrowest_interval": float(min((1 - lower).min(), (upper - 1).min())) if len(hidden) else None,
        "audit": "passed", "milps": int(verified.groupby(["period", "measure"])["milps"].first().sum()),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return Control(table=table, report=report, summary=summary)


def protect_estimates(lake: Lake, run, published: DataFrame, columns: tuple[str, ...], min_units: int) -> Control:
    """Estimates by domain or area: hide *columns* on rows resting on fewer than *min_units*
    sampled units (``n``), status C. Domain totals add up to the published total, so a
    single hidden row could be solved back from the others: then the row with the next
    fewest units is hidden too (status D). The ``total`` row itself stays."""
    started = time.perf_counter()
    frame = published.toPandas()
    if "n" not in frame.columns:
        raise DisclosureError(f"the output of run {run.run_id} ({run.kind}) has no column n (sampled units per "
                              "row); its estimates cannot be checked; release refused")
    label = "domain" if "domain" in frame.columns else "area"
    parts = frame[label].astype(str) != "total"
    primary = parts & (frame["n"] < min_units)
    secondary = pd.Series(False, index=frame.index)
    if int(primary.sum()) == 1 and int((parts & ~primary).sum()) > 0:
        secondary[frame.loc[parts & ~primary, "n"].idxmin()] = True
    frame["conf_status"] = np.where(primary, STATUS_PRIMARY, np.where(secondary, STATUS_SECONDARY, STATUS_FREE))
    shown = [c for c in columns if c in frame.columns]
    frame.loc[primary | secondary, shown] = np.nan
    hidden = frame[primary | secondary]
    report = pd.DataFrame({
        "period": str(run.params.get("period", "")), "measure": str(run.params.get("variable", "")),
        "cell": hidden[label].astype(str).to_numpy(),
        "status": np.where(primary[hidden.index], "primary", "secondary"),
        "rules": np.where(primary[hidden.index], f"n<{min_units}", "protects a confidential cell"),
        "contributors": hidden["n"].astype("int64").to_numpy(), "lower_ratio": np.nan, "upper_ratio": np.nan})
    summary = {"kind": run.kind, "cells": int(len(frame)), "tables": 1, "primary": int(primary.sum()),
               "secondary": int(secondary.sum()), "by_rule": {f"n<{min_units}": int(primary.sum())},
               "rules": {"min_units": min_units, "hidden_columns": shown}, "audit": "passed",
               "seconds": round(time.perf_counter() - started, 2)}
    return Control(table=lake.spark.createDataFrame(frame), report=report, summary=summary)
