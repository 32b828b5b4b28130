"""All data access and caching for the app (pages never read the lake themselves).

Caching rules:

* the engine-backed ``Lake`` is a resource, one per lake root;
* every read is cached by ``(root, table, version)``. The current versions come
  from ``table_versions()``, which lists the Delta logs on every script run (a
  directory listing, no engine). When a job commits, the version changes and the
  next run reads afresh: no stale data, and no cache clearing to forget;
* nothing here creates widgets.
"""

from __future__ import annotations

import os
import re

import pandas as pd
import streamlit as st

from workbench import access, catalog
from workbench.config import Settings, load_settings
from workbench.formatting import bilingual
from workbench.i18n import MESSAGES, translate
from workbench.lake import Lake, TableInfo

PREVIEW_ROWS = 1000
_LOG_FILE = re.compile(r"^(\d{20})\.json$")


def settings() -> Settings:
    return load_settings()


def root() -> str:
    return settings().lake_root


@st.cache_resource(show_spinner=False)
def _lake_for(lake_root: str) -> Lake:
    return Lake(lake_root, settings=load_settings())


def lake() -> Lake:
    return _lake_for(root())


def table_versions(lake_root: str | None = None) -> dict[str, int]:
    """Every table's latest Delta version, from the log file names (cheap, uncached)."""
    lake_root = lake_root or root()
    versions: dict[str, int] = {}
    for name in _lake_for(lake_root).table_names():
        log_dir = os.path.join(lake_root, *name.split("."), "_delta_log")
        numbers = [int(m.group(1)) for f in os.listdir(log_dir) if (m := _LOG_FILE.match(f))]
        if numbers:
            versions[name] = max(numbers)
    return versions


@st.cache_data(show_spinner=False, max_entries=2000)
def _describe(lake_root: str, name: str, version: int) -> TableInfo:
    return _lake_for(lake_root).describe(name)


def tables() -> list[TableInfo]:
    """TableInfo for every table, each cached by its version."""
    r = root()
    return [_describe(r, name, v) for name, v in table_versions(r).items()]


def tables_frame(infos: list[TableInfo], lang: str) -> pd.DataFrame:
    """The table list as shown on Home and in the catalogue."""
    rows = []
    for i in infos:
        e = catalog.entry(i.name)
        rows.append({
            "table": i.name,
            "title": e.title(lang),
            "layer": translate(f"layer.{i.layer}", lang) if f"layer.{i.layer}" in MESSAGES else i.layer,
            "owner": bilingual(e.owner, lang),
            "version": i.version,
            "rows": i.rows,
            "columns": len(i.columns),
            "last_write": pd.Timestamp(i.last_modified, unit="s").floor("s") if i.last_modified else pd.NaT,
        })
    return pd.DataFrame(rows, columns=["table", "title", "layer", "owner", "version", "rows", "columns", "last_write"])


def _version(name: str) -> int | None:
    return table_versions().get(name)


# Home's summaries: each reads one table and is cached by that table's version.
_SUMMARIES = {
    "freshness": (catalog.LOADS_TABLE, catalog.source_freshness),
    "indicators": (catalog.INDICATORS_TABLE, catalog.indicators),
    "quality": (catalog.QUALITY_TABLE, catalog.open_quality_issues),
    "reviews": (catalog.RUNS_TABLE, catalog.runs_waiting_for_review),
}


@st.cache_data(show_spinner=False, max_entries=200)
def _summary(lake_root: str, kind: str, version: int):
    return _SUMMARIES[kind][1](_lake_for(lake_root))


def _cached_summary(kind: str):
    version = _version(_SUMMARIES[kind][0])
    return None if version is None else _summary(root(), kind, version)


def freshness() -> pd.DataFrame | None:
    """Last delivery and last load per source; None until workbench.loads exists."""
    return _cached_summary("freshness")


def indicators() -> pd.DataFrame | None:
    return _cached_summary("indicators")


def open_quality_issues() -> int | None:
    return _cached_summary("quality")


def runs_waiting_for_review() -> int | None:
    return _cached_summary("reviews")


@st.cache_data(show_spinner=False, max_entries=200)
def history(lake_root: str, name: str, version: int) -> pd.DataFrame:
    return catalog.history_frame(_lake_for(lake_root), name)


@st.cache_data(show_spinner=False, max_entries=200)
def rows_over_versions(lake_root: str, name: str, version: int) -> pd.DataFrame:
    return catalog.rows_over_versions(_lake_for(lake_root), name)


@st.cache_data(show_spinner=False, max_entries=200)
def preview(lake_root: str, name: str, version: int, column: str | None = None,
            contains: str | None = None, exact: bool = False) -> pd.DataFrame:
    """Up to 1,000 rows of *name* at *version*; the filter runs in the engine before the limit."""
    from pyspark.sql import functions as F

    df = _lake_for(lake_root).read(name, version)
    if column and contains:
        value = F.col(column).cast("string")
        df = df.filter(value == contains if exact else value.contains(contains))
    return df.limit(PREVIEW_ROWS).toPandas()


def run_author(table: str) -> str | None:
    """Who ran the run behind ``runs.<run_id>.<output>`` (None for other tables or an unknown run)."""
    run_id = catalog.run_id_of(table)
    if run_id is None:
        return None
    return _author(run_id)


def _author(run_id: str) -> str | None:
    try:
        return _run(root(), run_id, _runs_key())[0].user
    except Exception:  # no such run recorded: the rule then allows reviewers only
        return None


def release_preview(name: str, user) -> pd.DataFrame:
    """Rows of ``release.<series>`` that *user* may read now, through the release reader.

    Not cached: an embargo lifts with the clock, not with a table version.
    """
    from workbench.disclosure.reader import ReleaseReader

    return catalog.release_preview(ReleaseReader(lake()), name, user, limit=PREVIEW_ROWS)


@st.cache_data(show_spinner=False, max_entries=200)
def distinct_values(lake_root: str, name: str, version: int, column: str, limit: int = 200) -> list[str]:
    """Distinct values of a column (e.g. quarantine reasons), most frequent first."""
    from pyspark.sql import functions as F

    df = _lake_for(lake_root).read(name, version)
    rows = df.groupBy(column).count().orderBy(F.desc("count")).limit(limit).collect()
    return [str(r[column]) for r in rows if r[column] is not None]


@st.cache_data(show_spinner=False, max_entries=200)
def grouped_counts(lake_root: str, name: str, version: int, column: str) -> pd.DataFrame:
    """Row counts per value of *column* (quarantine rows per reason)."""
    from pyspark.sql import functions as F

    df = _lake_for(lake_root).read(name, version)
    return df.groupBy(column).count().orderBy(F.desc("count")).toPandas()


# ---- runs, reviews and releases ---------------------------------------------------
# Keyed by the versions of workbench.runs and workbench.audit: a new run or a new
# review decision changes a version, so every page sees it on its next run.

def _runs_key() -> tuple[int | None, int | None, int | None]:
    from workbench.runs.registry import RUNS
    from workbench.runs.release import RELEASES
    from workbench.runs.review import AUDIT

    return _version(RUNS), _version(AUDIT), _version(RELEASES)


@st.cache_data(show_spinner=False, max_entries=50)
def _runs(lake_root: str, key: tuple) -> pd.DataFrame:
    from workbench.runs.registry import list_runs
    from workbench.runs.review import states

    lk = _lake_for(lake_root)
    current = states(lk)
    rows = [{"run_id": r.run_id, "title": r.title, "kind": r.kind, "series": r.series, "user": r.user,
             "state": current.get(r.run_id, "draft"), "started_at": r.started_at,
             "seconds": (r.ended_at - r.started_at).total_seconds(), "metrics": r.metrics, "params": r.params,
             "inputs": r.inputs}
            for r in list_runs(lk)]
    # params and metrics ride along so a runs list can title and label every run without
    # one lookup per run (a lake with a year of runs made the Runs page read each of them)
    return pd.DataFrame(rows, columns=["run_id", "title", "kind", "series", "user", "state", "started_at",
                                       "seconds", "metrics", "params", "inputs"])


def runs(user) -> pd.DataFrame:
    """The runs *user* may open (workbench.access: their own; every run for a reviewer) with
    their current review state, newest first (empty frame if none).

    A run the user may not open is not listed at all: its title, parameters and metrics
    describe figures that have not been through disclosure control, and what was
    released of it is on Dissemination for everyone.
    """
    every = _runs(root(), _runs_key())
    return every[[access.may_open_run(user, author) for author in every["user"]]].reset_index(drop=True)


@st.cache_data(show_spinner=False, max_entries=200)
def _run(lake_root: str, run_id: str, key: tuple):
    from workbench.runs.registry import get_run
    from workbench.runs.review import audit_trail

    lk = _lake_for(lake_root)
    return get_run(lk, run_id), audit_trail(lk, run_id)


def run(run_id: str, user):
    """(Run, audit entries) for one run; :class:`workbench.access.AccessDenied` unless *user* may open it."""
    access.check_run(user, run_id, _author(run_id))
    return _run(root(), run_id, _runs_key())


@st.cache_data(show_spinner=False, max_entries=200)
def _run_output(lake_root: str, run_id: str, output: str) -> pd.DataFrame:
    from workbench.runs.registry import read_output

    return read_output(_lake_for(lake_root), run_id, output).limit(PREVIEW_ROWS).toPandas()


def run_output(run_id: str, output: str, user) -> pd.DataFrame:
    """A run's raw output, pinned at the version the run wrote (it never changes), for a user
    the access rule lets open the run; :class:`workbench.access.AccessDenied` for anyone else."""
    access.check_run(user, run_id, _author(run_id))
    return _run_output(root(), run_id, output)


@st.cache_data(show_spinner=False, max_entries=50)
def _releases(lake_root: str, key: tuple) -> pd.DataFrame:
    from workbench.runs.release import list_releases

    rows = [{"series": r.series, "vintage": r.vintage, "run_id": r.run_id, "release_date": r.release_date,
             "embargo_until": r.embargo_until, "released_by": r.released_by, "rows": r.rows,
             "withdrawn": r.withdrawn} for r in list_releases(_lake_for(lake_root))]
    return pd.DataFrame(rows, columns=["series", "vintage", "run_id", "release_date", "embargo_until",
                                       "released_by", "rows", "withdrawn"])


def releases() -> pd.DataFrame:
    return _releases(root(), _runs_key())


@st.cache_data(show_spinner=False, max_entries=2000)
def _released_run(lake_root: str, run_id: str, output: str) -> tuple[str, dict, list[str]]:
    from workbench.runs.registry import get_run
    from workbench.runs.release import covered_periods

    lk = _lake_for(lake_root)
    run = get_run(lk, run_id)
    return run.kind, run.params, covered_periods(lk, run, output)


def released_run(run_id: str, output: str) -> tuple[str, dict, list[str]]:
    """(kind, parameters, reference periods covered) of a released run's output: what a release
    is of and when, for Dissemination. Cached per run: a released run and its output never change."""
    return _released_run(root(), run_id, output)


# ---- quality: rules, fraud screening, editing ------------------------------------------
# Each read is keyed by the versions of the quality tables it reads, so a new rule
# run, decision or edit is seen on the next page run.

def _quality_key(*names: str) -> tuple:
    versions = table_versions()
    return tuple(versions.get(n) for n in names)


@st.cache_data(show_spinner=False, max_entries=20)
def _quality_summary(lake_root: str, key: tuple) -> pd.DataFrame:
    from workbench.quality import store

    return store.latest_summary(_lake_for(lake_root))


def quality_summary() -> pd.DataFrame:
    """The latest rule run per table: counts and pass rate per rule and period."""
    from workbench.quality import store

    return _quality_summary(root(), _quality_key(store.SUMMARY))


@st.cache_data(show_spinner=False, max_entries=200)
def _failing(lake_root: str, key: tuple, table: str, rule_id: str | None, period) -> pd.DataFrame:
    from workbench.quality import store

    return store.failing_records(_lake_for(lake_root), table, rule_id, period, limit=PREVIEW_ROWS)


def failing_records(table: str, rule_id: str | None = None, period=None) -> pd.DataFrame:
    from workbench.quality import store

    return _failing(root(), _quality_key(store.RESULTS), table, rule_id, period)


@st.cache_data(show_spinner=False, max_entries=20)
def _fraud_queue(lake_root: str, key: tuple) -> pd.DataFrame:
    from workbench.quality import store

    return store.fraud_queue(_lake_for(lake_root))


def fraud_queue() -> pd.DataFrame:
    from workbench.quality import store

    return _fraud_queue(root(), _quality_key(store.FRAUD_QUEUE, store.FRAUD_DECISIONS))


@st.cache_data(show_spinner=False, max_entries=200)
def _respondent_series(lake_root: str, key: tuple, credit_code: str) -> pd.DataFrame:
    from workbench.quality import store

    return store.respondent_series(_lake_for(lake_root), credit_code)


def respondent_series(credit_code: str) -> pd.DataFrame:
    from workbench.quality import store

    return _respondent_series(root(), _quality_key(store.SCREENING), credit_code)


@st.cache_data(show_spinner=False, max_entries=50)
def _panel_cells(lake_root: str, key: tuple, flags: tuple[str, ...]) -> pd.DataFrame:
    from pyspark.sql import functions as F

    from workbench.quality import store

    lk = _lake_for(lake_root)
    if not lk.exists(store.PANEL):
        return pd.DataFrame()
    df = lk.read(store.PANEL).filter(F.col("revenue_flag").isin(list(flags)) | F.col("employment_flag").isin(list(flags)))
    return df.orderBy("credit_code", "period").limit(PREVIEW_ROWS).toPandas()


def panel_cells(flags: tuple[str, ...] = ("imputed", "failed", "edited")) -> pd.DataFrame:
    """Panel rows with an imputed, failed or edited cell (up to 1,000)."""
    from workbench.quality import store

    return _panel_cells(root(), _quality_key(store.PANEL), tuple(flags))


@st.cache_data(show_spinner=False, max_entries=50)
def _edits(lake_root: str, key: tuple, manual_only: bool) -> pd.DataFrame:
    from workbench.quality import store

    return store.edits_frame(_lake_for(lake_root), limit=PREVIEW_ROWS, manual_only=manual_only)


def edits(manual_only: bool = False) -> pd.DataFrame:
    from workbench.quality import store

    return _edits(root(), _quality_key(store.EDITS), manual_only)


# ---- nowcasting ---------------------------------------------------------------------
# The two gold tables the Nowcast page needs, keyed by their Delta versions (a few
# thousand rows; the models run on pandas).

@st.cache_data(show_spinner=False, max_entries=20)
def _nowcast_inputs(lake_root: str, key: tuple) -> tuple[pd.DataFrame, pd.DataFrame]:
    lk = _lake_for(lake_root)
    return (lk.read("gold.indicators_monthly", key[0]).toPandas(), lk.read("gold.targets", key[1]).toPandas())


@st.cache_data(show_spinner=False, max_entries=20)
def _series_units(lake_root: str, version: int) -> dict[str, str]:
    from workbench.formatting import unit_code

    df = _lake_for(lake_root).read("gold.targets", version)
    if "unit" not in df.columns:
        return {}
    targets = df.select("series", "unit").distinct().toPandas()
    return {s: unit_code(u) for s, u in zip(targets["series"], targets["unit"]) if unit_code(u)}


def series_unit(series: str) -> str:
    """The unit code a published series is published in (gold.targets' ``unit``: 亿元 ->
    ``100m_yuan``), "" when unknown or before gold.targets exists. The Nowcast page and a
    nowcast run's metrics on Runs and Compare show levels in it."""
    version = _version("gold.targets")
    return "" if version is None else _series_units(root(), version).get(series, "")


def nowcast_inputs() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]] | None:
    """(gold.indicators_monthly, gold.targets, their versions) or None until both exist."""
    versions = {t: _version(t) for t in ("gold.indicators_monthly", "gold.targets")}
    if None in versions.values():
        return None
    indicators, targets = _nowcast_inputs(root(), tuple(versions.values()))
    return indicators, targets, versions


@st.cache_data(show_spinner=False, max_entries=20)
def _nowcast(lake_root: str, key: tuple, spec_json: str):
    import json

    from workbench.methods.nowcast.run import NowcastSpec, run_nowcast
    from workbench.methods.nowcast.runs import prepared_inputs

    spec = NowcastSpec.from_dict(json.loads(spec_json))
    indicators, targets = _nowcast_inputs(lake_root, key)
    return run_nowcast(*prepared_inputs(indicators, targets, spec), spec)


def nowcast(spec, versions: dict[str, int]):
    """The page's :class:`NowcastResult` for *spec* on the gold tables at *versions* (cached: the
    track record behind the intervals is a backtest)."""
    import json

    return _nowcast(root(), tuple(versions.values()), json.dumps(spec.as_dict(), sort_keys=True))


# ---- online price indices -----------------------------------------------------------
# Keyed by the Delta version of silver.prices_daily (and gold.targets for the official
# CPI); the classification is cached apart so changing method or window reuses it.

@st.cache_data(show_spinner=False, max_entries=5)
def _price_classes(lake_root: str, version: int) -> pd.DataFrame:
    from workbench.methods.prices import elementary
    from workbench.methods.prices.online import classify_items
    from workbench.methods.prices.settings import load_price_settings

    settings = load_price_settings()
    q = elementary.quotes(_lake_for(lake_root).read("silver.prices_daily", version), settings.timezone)
    return classify_items(q, settings)


@st.cache_data(show_spinner=False, max_entries=20)
def _online_index(lake_root: str, version: int, frequency: str, method: str, window: int, splice: str,
                  _progress=None):
    from workbench.methods.prices.online import online_index

    # _progress (not part of the cache key): called only when the index is computed afresh
    if _progress is not None:
        _progress("classify", 0.1)
    classes = _price_classes(lake_root, version)
    if _progress is not None:
        _progress("index", 0.5)
    return online_index(_lake_for(lake_root).read("silver.prices_daily", version), frequency=frequency,
                        method=method, window=window, splice=splice, classification=classes)


def price_classification() -> pd.DataFrame | None:
    """The online items classified to COICOP groups (the first, longer half of a cold Online
    prices page: every quote read and classified), or None until silver.prices_daily exists.
    The page calls it as its own step, so its progress shows which step runs; the index then
    finds it cached."""
    version = _version("silver.prices_daily")
    return None if version is None else _price_classes(root(), version)


def online_index(frequency: str, method: str, window: int, splice: str, progress=None):
    """The online price index (``workbench.methods.prices.online.OnlineIndex``) or None
    until silver.prices_daily exists. *progress(step, fraction)* hears which step runs
    (``classify``, then ``index``) when it is not cached."""
    version = _version("silver.prices_daily")
    if version is None:
        return None
    return _online_index(root(), version, frequency, method, int(window), splice, _progress=progress)


@st.cache_data(show_spinner=False, max_entries=20)
def _official_cpi(lake_root: str, version: int) -> pd.DataFrame:
    from workbench.methods.prices.online import official_cpi as official

    return official(_lake_for(lake_root).read("gold.targets", version).toPandas())


def official_cpi() -> pd.DataFrame | None:
    """Official CPI changes by month (latest vintage) from gold.targets, or None."""
    version = _version("gold.targets")
    return None if version is None else _official_cpi(root(), version)


# ---- estimates, small areas, seasonal adjustment --------------------------------------
# The survey inputs of one period, keyed by the tables' versions; the estimates themselves
# are cached by (versions, period, parameters) so a page rerun does not recompute them.

def estimate_versions() -> dict[str, int] | None:
    """Versions of the tables a survey run reads (the quality panel when it exists), or None."""
    from workbench.methods.estimate.runs import PANEL, inputs_for

    versions = table_versions()
    wanted = inputs_for(PANEL in versions)
    return {t: versions[t] for t in wanted} if all(t in versions for t in wanted) else None


@st.cache_data(show_spinner=False, max_entries=20)
def _estimate_periods(lake_root: str, version: int) -> list[str]:
    from pyspark.sql import functions as F

    df = _lake_for(lake_root).read("gold.enterprise_month", version).filter(F.col("has_survey"))
    rows = df.select("period").distinct().collect()
    return sorted((str(r["period"])[:7] for r in rows), reverse=True)


def estimate_periods() -> list[str]:
    """Months with survey returns, newest first."""
    v = _version("gold.enterprise_month")
    return [] if v is None else _estimate_periods(root(), v)


@st.cache_data(show_spinner=False, max_entries=20)
def _estimate_frames(lake_root: str, key: tuple, period: str):
    from workbench.methods.estimate.runs import period_frames

    lk = _lake_for(lake_root)
    return period_frames({t: lk.read(t, v) for t, v in key}, period)


def estimate_frames(versions: dict[str, int], period: str):
    """(sample, register, panel or None) of *period* at the pinned versions."""
    return _estimate_frames(root(), tuple(sorted(versions.items())), period)


@st.cache_data(show_spinner=False, max_entries=50)
def _survey_estimates(lake_root: str, key: tuple, period: str, params_json: str):
    import json

    from workbench.methods.estimate.survey import estimation_frame, survey_estimates

    p = json.loads(params_json)
    sample, register, panel = _estimate_frames(lake_root, key, period)
    return survey_estimates(estimation_frame(sample, register, p["variable"], panel), register, p)


def survey_estimates(versions: dict[str, int], period: str, params: dict):
    """The library's SurveyEstimates (table, weight diagnostics, values used, problems), cached."""
    import json

    return _survey_estimates(root(), tuple(sorted(versions.items())), period, json.dumps(params, sort_keys=True))


@st.cache_data(show_spinner=False, max_entries=20)
def _panel_status(lake_root: str, version: int):
    from workbench.quality import store

    return store.panel_status(_lake_for(lake_root))


def panel_status():
    """The edited survey panel's latest version and write time (PanelStatus), or None."""
    from workbench.quality import store

    version = _version(store.PANEL)
    return None if version is None else _panel_status(root(), version)


@st.cache_data(show_spinner=False, max_entries=50)
def _small_areas(lake_root: str, key: tuple, period: str, params_json: str) -> pd.DataFrame:
    import json

    from workbench.methods.estimate.survey import estimation_frame, small_area_estimates

    p = json.loads(params_json)
    sample, register, panel = _estimate_frames(lake_root, key, period)
    frame = estimation_frame(sample, register, p["variable"], panel)
    return pd.DataFrame(small_area_estimates(frame, register, p["area"], p.get("covariate", "si_headcount"),
                                             p["method"], p["benchmark"] or None, model=p.get("model", "FH"),
                                             covariates=p.get("covariates")))


def small_areas(versions: dict[str, int], period: str, params: dict) -> pd.DataFrame:
    import json

    return _small_areas(root(), tuple(sorted(versions.items())), period, json.dumps(params, sort_keys=True))


@st.cache_data(show_spinner=False, max_entries=20)
def _indicators_frame(lake_root: str, version: int) -> pd.DataFrame:
    return (_lake_for(lake_root).read("gold.indicators_monthly", version)
            .select("indicator", "month", "value", "available_date").toPandas())


def indicator_versions() -> dict[str, int] | None:
    v = _version("gold.indicators_monthly")
    return None if v is None else {"gold.indicators_monthly": v}


def indicators_frame() -> pd.DataFrame | None:
    v = _version("gold.indicators_monthly")
    return None if v is None else _indicators_frame(root(), v)


@st.cache_data(show_spinner=False, max_entries=20)
def _targets_frame(lake_root: str, version: int) -> pd.DataFrame:
    return (_lake_for(lake_root).read("gold.targets", version)
            .select("series", "area_code", "ref_period", "release_date", "vintage", "value").toPandas())


def published_series_names() -> list[str]:
    """Published series of gold.targets that can be seasonally adjusted ([] until it exists)."""
    from workbench.methods.seasonal.runs import published_series_names as names

    v = _version("gold.targets")
    return [] if v is None else names(_targets_frame(root(), v))


@st.cache_data(show_spinner=False, max_entries=50)
def _seasonal(lake_root: str, table: str, version: int, name: str, spec_json: str) -> dict:
    import json

    from workbench.methods.seasonal import X13Spec
    from workbench.methods.seasonal.runs import TARGETS, indicator_series, published_series, seasonal_outputs

    series = (published_series(_targets_frame(lake_root, version), name) if table == TARGETS
              else indicator_series(_indicators_frame(lake_root, version), name))
    out = seasonal_outputs(series, X13Spec.from_dict(json.loads(spec_json)))
    res = out.pop("_result")
    out["quality"] = res.quality
    out.update(refusal=res.refusal, filled=res.filled, dropped=res.dropped, method=res.method,
               fallback_reason=res.diagnostics.get("fallback_reason", ""))
    return out


def seasonal(table: str, name: str, spec: dict) -> tuple[dict, dict[str, int]] | None:
    """X-13 (or STL fallback) outputs for one series of *table* and spec, cached by the table version,
    and the version read (so a submitted run pins what the page showed)."""
    import json

    v = _version(table)
    if v is None:
        return None
    return _seasonal(root(), table, v, name, json.dumps(spec, sort_keys=True)), {table: v}


@st.cache_data(show_spinner=False, max_entries=20)
def _enterprise_names(lake_root: str, version: int) -> dict[str, str]:
    df = _lake_for(lake_root).read("silver.enterprises", version).select("credit_code", "name")
    return {r["credit_code"]: r["name"] for r in df.collect()}


def enterprise_names() -> dict[str, str]:
    """Credit code -> registered name, from silver.enterprises ({} until it exists)."""
    v = _version("silver.enterprises")
    return {} if v is None else _enterprise_names(root(), v)


@st.cache_data(show_spinner=False, max_entries=200)
def rows_with_values(lake_root: str, name: str, version: int, column: str, values: tuple[str, ...]) -> pd.DataFrame:
    """Up to 1,000 rows of *name* whose *column* is one of *values* (quarantine rows of one cause)."""
    from pyspark.sql import functions as F

    df = _lake_for(lake_root).read(name, version).filter(F.col(column).isin(list(values)))
    return df.limit(PREVIEW_ROWS).toPandas()


# ---- dissemination: releases, their files and suppression reports -----------------------
# The list is keyed like the runs (a new release or withdrawal changes a version); a
# vintage's files never change once released, so they are cached by release id.

@st.cache_data(show_spinner=False, max_entries=50)
def _release_records(lake_root: str, key: tuple) -> list:
    from workbench.disclosure.reader import ReleaseReader

    return ReleaseReader(_lake_for(lake_root)).releases()


def release_records() -> list:
    """Every recorded vintage (workbench.runs.release.Release), read with delta-rs."""
    return _release_records(root(), _runs_key())


@st.cache_data(show_spinner=False, max_entries=200)
def _release_file(lake_root: str, release_id: str, fmt: str, lang: str = "zh"):
    from workbench.disclosure.export import export
    from workbench.disclosure.reader import ReleaseReader
    from workbench.disclosure.settings import load_disclosure_settings

    reader = ReleaseReader(_lake_for(lake_root))
    rel = next(r for r in reader.releases() if r.release_id == release_id)
    # the run's period and variable: an estimates table carries neither column itself
    return export(reader.rows(rel).to_pandas(), rel, fmt, load_disclosure_settings().sdmx, reader.context(rel), lang)


def release_file(release_id: str, fmt: str, lang: str = "zh"):
    """One vintage as an export (file name, bytes, MIME type) with names and metadata in *lang*;
    the page checks visibility first."""
    return _release_file(root(), release_id, fmt, lang)


@st.cache_data(show_spinner=False, max_entries=200)
def _suppression_report(lake_root: str, release_id: str, version: int) -> pd.DataFrame:
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    from workbench.disclosure.gate import REPORTS

    dt = DeltaTable(_lake_for(lake_root).path(REPORTS), version=version)
    return dt.to_pyarrow_dataset().to_table(filter=pc.field("release_id") == release_id).to_pandas()


def suppression_report(release_id: str) -> pd.DataFrame | None:
    """What was suppressed in one vintage and why (None when the release had no disclosure control)."""
    from workbench.disclosure.gate import REPORTS

    v = _version(REPORTS)
    return None if v is None else _suppression_report(root(), release_id, v)
