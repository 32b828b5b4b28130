"""Run display pieces shared by the Runs, Compare and Review pages (UI only)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from workbench.access import AccessDenied
from workbench.app import data, widgets
from workbench.app.session import lang, page_for, t
from workbench.runs import registry, review


@dataclass(frozen=True)
class ReviewAction:
    """What a Review page button asked for, with the values of the moment it was clicked.

    *verb* is approve, reject, withdraw or release; *comment* is the review comment or
    the reason for a withdrawal; *series*, *output* and *embargo_until* (UTC) are a
    release's; *release_date* is the city's calendar day it becomes public.
    """

    verb: str
    run_id: str
    comment: str = ""
    series: str = ""
    output: str = ""
    embargo_until: datetime | None = None
    release_date: date | None = None


def embargo_instant(day: date, clock: time, zone: str) -> datetime:
    """The UTC instant of wall-clock *day* *clock* in the city's time zone *zone*.

    Supervisors enter an embargo as the city's clock reads it (09:30 in G City); the
    lake keeps instants in UTC.
    """
    return datetime.combine(day, clock, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def local_times(frame: pd.DataFrame, columns: list[str], zone: str) -> pd.DataFrame:
    """*frame* with the UTC timestamp *columns* shown as the city's wall-clock time (for display)."""
    out = frame.copy()
    for column in columns:
        if column in out.columns:
            out[column] = pd.to_datetime(out[column], utc=True).dt.tz_convert(zone).dt.tz_localize(None)
    return out


def city_clock(instant: Any, seconds: bool = False) -> str:
    """An instant (kept in UTC by the lake) as the city's wall clock reads it: ``2026-09-16 09:30``."""
    stamp = pd.Timestamp(instant)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return stamp.tz_convert(data.settings().lake.local_timezone).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))


def default_comparison(runs: pd.DataFrame, first: str | None = None) -> list[str]:
    """The runs Compare opens with: a run and the run of the same kind and series made just
    before it.

    The run is *first* (a linked run) or else the newest run that has such a
    predecessor; a single run when there is none. Two unrelated runs (a nowcast beside
    a survey estimate) share no parameter or output worth comparing, so the default
    never mixes kinds or series.
    """
    if runs.empty:
        return []
    ordered = runs.assign(series=runs["series"].fillna("")).sort_values("started_at", ascending=False,
                                                                        kind="stable", ignore_index=True)
    candidates = [first] if first in set(ordered["run_id"]) else ordered["run_id"].tolist()
    for run_id in candidates:
        at = ordered.index[ordered["run_id"] == run_id][0]
        row = ordered.loc[at]
        before = ordered.loc[at + 1:]
        before = before[(before["kind"] == row["kind"]) & (before["series"] == row["series"])]
        if not before.empty:
            return [run_id, before["run_id"].iloc[0]]
    return candidates[:1]


def state_label(state: str, language: str | None = None) -> str:
    from workbench.i18n import translate

    return translate(f"state.{state}", language or lang())


def _catalogued(prefix: str, name: object, fallback: Callable[[str], str] | None = None,
                language: str | None = None) -> str:
    # *language* is bound when the page runs: a select box's format_func is also called
    # outside the script (AppTest), where the session's language is not known.
    from workbench.i18n import MESSAGES, translate

    text = "" if name is None or (isinstance(name, float) and pd.isna(name)) else str(name)
    key = f"{prefix}.{text}"
    if key in MESSAGES:
        return translate(key, language or lang())
    return fallback(text) if fallback else text


def kind_label(kind: str, language: str | None = None) -> str:
    """A run kind (``nowcast``) in the UI language (``即时预测``); an unknown kind stays itself."""
    return _catalogued("runkind", kind, language=language)


def bound(fn: Callable[..., str]) -> Callable[[Any], str]:
    """*fn* with the page's language of this run, for a select box's format_func."""
    language = lang()
    return lambda value: fn(value, language)


def action_label(action: str) -> str:
    """An audit action (``record``, ``approve``) in the UI language."""
    return _catalogued("runaction", action)


def output_label(name: str, language: str | None = None) -> str:
    """A run output's name (``nowcasts``) in the UI language."""
    from workbench.formatting import column_title

    language = language or lang()
    return _catalogued("runoutput", name, lambda n: column_title(n, language), language)


# Kinds whose outputs name their columns in a page's catalogue first: a nowcast's ``n`` is
# backtest periods and its ``point`` a forecast, not the register's sampled units or values;
# a seasonal adjustment's ``variable`` is a regression term, not a nowcast's new data.
_KIND_COLUMNS = {"nowcast": "nowcast.col", "seasonal_adjustment": "sa.col"}
# ... and the code words of their outputs (X-13's regression groups and terms, its statistics)
_KIND_VALUES = {"seasonal_adjustment": ("sa.term", "runparam"),
                # how a nowcast's interval was made: from past errors or the model's own
                "nowcast": ("nowcast.interval",)}
# X-13's ARIMA coefficients: MA-Nonseasonal-01, AR-Seasonal-12
_ARIMA_TERM = re.compile(r"^(?P<part>AR|MA)-(?P<season>Nonseasonal|Seasonal)-(?P<lag>\d+)$")


def column_label(name: str, language: str | None = None, kind: str | None = None) -> str:
    """The heading of a column of a run table or output: the kind's own catalogue entry, else
    the registry's label with its unit, else the catalogue's (``runcol.``, then the Nowcast
    page's ``nowcast.col.``), else the name."""
    from workbench.formatting import registry
    from workbench.i18n import MESSAGES, translate

    language = language or lang()
    own = _KIND_COLUMNS.get(kind or "")
    if own and f"{own}.{name}" in MESSAGES:
        return translate(f"{own}.{name}", language)
    var = registry().column(name)
    if var is not None:
        return var.heading(language)
    if f"runcol.{name}" in MESSAGES:
        return translate(f"runcol.{name}", language)
    return name


# Titles the pages used to generate in English ("Nowcast retail_sales 2026-09"); a title a
# user typed is content and is shown as typed.
_GENERATED = re.compile(r"^(Nowcast|Survey estimate|Seasonal adjustment) \S+( \S+)?$")


def run_title(kind: str, title: str, params: dict | None = None, series: str | None = None,
              language: str | None = None) -> str:
    """The title shown for a run: a generated one (the registry's default, the kind itself, or
    a page's former English default) is rebuilt in the UI language from the kind and the
    parameters (``即时预测 retail_sales 2026年9月``); a typed one stays as typed."""
    from workbench.formatting import format_date, format_month
    from workbench.i18n import translate

    language = language or lang()
    title = title or ""
    if title and title != kind and not title.startswith(f"{kind} ") and not _GENERATED.match(title):
        return title
    params = params or {}
    # what the run is about: an estimated variable, an indicator or a published series, by name
    # (a seasonal adjustment of retail sales is titled so, not sa_retail_sales)
    what = next((params[k] for k in ("variable", "indicator", "series") if isinstance(params.get(k), str)), None) \
        or series
    detail = []
    if what:
        detail.append(value_text(str(what), language))
    period = params.get("period") or params.get("first")
    if period:
        detail.append(format_month(period, language))
    elif _GENERATED.match(title) and len(title.split()) > 2 and re.fullmatch(r"\d{4}-\d{2}", title.split()[-1]):
        detail.append(format_month(title.split()[-1], language))
    # what tells two runs of one kind apart at a glance: the domains estimated, the nowcast date
    if isinstance(params.get("domain"), str) and params["domain"]:
        detail.append(translate("runtitle.by", language, dimension=column_label(params["domain"], language)))
    if isinstance(params.get("asof"), str) and params["asof"]:
        detail.append(translate("runtitle.asof", language, date=format_date(params["asof"][:10], language)))
    return translate("runtitle.generated", language, kind=kind_label(kind, language), detail=" ".join(detail)).strip()


# Parameters that say when a run's figures are, not what they are of: a series' title leaves them out.
_WHEN = ("period", "first", "last", "asof")


def series_title(kind: str, params: dict | None, series: str, language: str | None = None) -> str:
    """A release series by name in the UI language (季节调整 增值税销售额合计): what its runs are
    of, from the kind and the parameters that stay across vintages; not its identifier."""
    about = {k: v for k, v in (params or {}).items() if k not in _WHEN}
    return run_title(kind, "", about, None, language) or series


def runs_shown(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs list for display: kind, state and generated titles in the UI language."""
    out = runs[[c for c in RUN_COLUMNS if c in runs.columns]].copy()
    if out.empty:
        return out
    params = runs["params"] if "params" in runs else pd.Series([None] * len(runs), index=runs.index)
    out["title"] = [run_title(k, ti, p, s) for k, ti, p, s in zip(out["kind"], out["title"], params, out["series"])]
    out["kind"] = out["kind"].map(kind_label)
    out["state"] = out["state"].map(state_label)
    if "series" in out:  # the published series by name; a run that publishes none shows a dash
        out["series"] = out["series"].map(lambda s: value_text(s) if isinstance(s, str) and s else "—")
    if "seconds" in out:  # to a tenth of a second, as the Jobs summary shows durations
        out["seconds"] = out["seconds"].astype(float).round(1)
    if "started_at" in out:  # the city's wall clock, to the minute (the lake keeps UTC)
        out["started_at"] = out["started_at"].map(lambda at: city_clock(at) if pd.notna(at) else "—")
    return out


RUN_COLUMNS = ("run_id", "title", "kind", "series", "user", "state", "started_at", "seconds")


def runs_table(runs: pd.DataFrame, key: str) -> None:
    """The runs list with its headings in the UI language."""
    widgets.table(runs_shown(runs), key, column_config={c: t(f"runcol.{c}") for c in RUN_COLUMNS})


def run_label(runs: pd.DataFrame, run_id: str, language: str | None = None) -> str:
    # A keyed select box keeps its selection by key (Streamlit 1.67), so the label may be in
    # the UI language: the selected value is the run id.
    row = runs.set_index("run_id").loc[run_id]
    title = run_title(row["kind"], row["title"], row.get("params"), row.get("series"), language)
    return f"{title} · {row['user']} · {run_id}"


def run_headings(runs: pd.DataFrame, run_ids: list[str], language: str | None = None) -> dict[str, str]:
    """Each run's title, for a column heading or a chart legend; runs whose titles coincide
    (the same settings run twice) are told apart by their run ids beside it."""
    language = language or lang()
    rows = runs.set_index("run_id")
    titles = {r: run_title(rows.loc[r, "kind"], rows.loc[r, "title"], rows.loc[r].get("params"),
                           rows.loc[r].get("series"), language) for r in run_ids}
    shared = {title for title in titles.values() if list(titles.values()).count(title) > 1}
    return {r: f"{title} · {r}" if title in shared else title for r, title in titles.items()}


@dataclass(frozen=True)
class Refusal:
    """A refused action, kept until it is shown and said then in the reader's language: the
    rule that refused it (``ReviewError.rule``, ``QualityError.rule``) with its facts, said by
    ``<catalogue>.<rule>``; and the original sentence, shown verbatim beneath only when no
    catalogued rule says it (a disclosure refusal, a rule file's error, a rule added later)."""

    rule: str
    facts: tuple[tuple[str, Any], ...]
    detail: str
    catalogue: str = "review.rule"

    @classmethod
    def of(cls, exc: Exception, catalogue: str = "review.rule") -> "Refusal":
        return cls(getattr(exc, "rule", "other"), tuple(sorted(getattr(exc, "facts", {}).items())), str(exc),
                   catalogue)

    @property
    def said_by_rule(self) -> bool:
        from workbench.i18n import MESSAGES

        return self.rule != "other" and f"{self.catalogue}.{self.rule}" in MESSAGES

    def text(self, language: str) -> str:
        from workbench.formatting import format_month
        from workbench.i18n import MESSAGES, translate

        if not self.said_by_rule:
            return translate(f"{self.catalogue}.other", language)
        facts = dict(self.facts)
        if "action" in facts:
            facts["action"] = _catalogued("runaction", facts["action"], language=language)
        if "state" in facts:
            facts["state"] = state_label(facts["state"], language)
        if "needs" in facts:
            facts["needs"] = ("、" if language == "zh" else " or ").join(state_label(s, language) for s in facts["needs"])
        for name in ("output", "published", "series_output"):
            if name in facts:
                facts[name] = output_label(facts[name], language)
        for name in ("kind", "series_kind"):
            if name in facts:
                facts[name] = kind_label(facts[name], language)
        for name in ("unit", "series_unit"):  # unit codes (``10k_yuan,persons``) by their names
            if name in facts:
                facts[name] = _listed([_unit_name(u, language) for u in str(facts[name]).split(",")], language)
        for name in ("was", "now"):  # what a series is of: (setting, value) pairs
            if name in facts:
                facts[name] = "; ".join(f"{setting_name(k, language)}: {shown_setting((k,), v, language)}"
                                        for k, v in facts[name]) or "—"
        for name in ("missing", "extra"):  # column names
            if name in facts:
                facts[name] = _listed_raw([column_label(c, language) for c in facts[name]], language) or "—"
        if "column" in facts and f"editing.{facts['column']}" in MESSAGES:
            facts["column"] = translate(f"editing.{facts['column']}", language)
        for name in ("period", "latest"):
            if name in facts:
                facts[name] = format_month(facts[name], language)
        if "earlier_embargo" in facts:  # when a new vintage would be public: at a time, or at once
            facts["embargo"] = (translate("review.rule.public_at", language, at=facts["embargo"]) if facts["embargo"]
                                else translate("review.rule.public_at_once", language))
        return translate(f"{self.catalogue}.{self.rule}", language, **facts)

    def show(self, language: str) -> None:
        widgets.failure(self.text(language), None if self.said_by_rule else self.detail)


def refuse_link(runs: pd.DataFrame) -> bool:
    """When the page's link (``?run=ID``) names a run not among *runs* (the runs this user may
    open), say so and return True: a link to another user's run, or to no run at all, is
    refused in the same words, never silently replaced by another run."""
    wanted = st.query_params.get("run")
    if not wanted or wanted in set(runs["run_id"]):
        return False
    Refusal.of(AccessDenied(f"run {wanted} is not open to this user", "run_refused", run=wanted),
               "access").show(lang())
    return True


def show_run(run_id: str, key: str, user) -> None:
    """Parameters, inputs with versions, code, metrics, audit trail and outputs of one run, if
    the access rule lets *user* open it (else the refusal, said in the UI language)."""
    try:
        run, trail = data.run(run_id, user)
    except AccessDenied as exc:
        Refusal.of(exc, "access").show(lang())
        return
    # Open this run on Runs, or on Compare beside its predecessor: the same ?run=ID a link
    # from outside the app carries (a button, because switching pages in the script sets
    # exactly these query parameters, whatever the current page's were).
    targets = [("runs", "runs.link_open", ":material/history:"),
               ("compare", "runs.link_compare", ":material/compare_arrows:")]
    for col, (name, label, icon) in zip(st.columns([1, 1, 2]), targets):
        target = page_for(name)
        if target is not None and col.button(t(label), key=f"{key}_to_{name}", icon=icon, type="tertiary"):
            st.switch_page(target, query_params={"run": run_id})
    st.caption(t("runs.code", commit=run.code_commit[:10] or "?", dirty=t("runs.dirty") if run.code_dirty else "",
                 version=run.package_version or "?"))
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('runs.params')}**")
        widgets.text_table(settings_frame(run.params, lang()), f"{key}_params",
                           {"name": t("runs.setting"), "value": t("runs.setting_value")})
        st.markdown(f"**{t('runs.inputs')}**")
        widgets.table(pd.DataFrame([{"table": k, "version": v} for k, v in run.inputs.items()]),
                      f"{key}_inputs", column_config={"table": t("common.table"), "version": t("common.version")})
    with right:
        st.markdown(f"**{t('runs.metrics')}**")
        widgets.text_table(metrics_frame(run.metrics, run.params, lang()), f"{key}_metrics",
                           {"name": t("runs.metric"), "value": t("runs.setting_value")})
        if run.warnings:
            st.markdown(f"**{t('runs.warnings')}**")
            for w in run.warnings:
                show_warning(w, lang())
        st.markdown(f"**{t('runs.audit')}**")
        audit = pd.DataFrame([{"at": city_clock(e.at, seconds=True), "user": e.user, "action": action_label(e.action),
                               "state": state_label(e.after) if e.after else "", "comment": e.comment}
                              for e in trail], columns=["at", "user", "action", "state", "comment"])
        widgets.table(audit, f"{key}_audit", column_config={c: t(f"runcol.{c}") for c in audit.columns})
    if run.outputs:
        from workbench.runs.kinds import output_order

        # the output a release publishes first: a seasonal run opens on its adjusted series
        output = widgets.selectbox(st, t("runs.output_pick"), output_order(run.kind, run.outputs),
                                   format_func=bound(output_label), key=f"{key}_output")
        frame = data.run_output(run_id, output, user)
        output_table(frame, f"{key}_output_rows", run.kind, run.params)
        series_chart(frame, {run_id: frame}, key, run.kind, output, run.params)


# Page catalogues that already name a code a run parameter may hold (a nowcast model, a
# target series, a price-index method, a small-area model).
_VALUE_CATALOGUES = ("runvalue", "nowcast.model", "nowcast.series", "prices.method", "sae.model")
# point_<model> and rel_rmse_<model>: one metric per nowcast model or combination
_PER_MODEL = re.compile(r"^(point|rel_rmse)_(.+)$")


def setting_name(name: str, language: str | None = None) -> str:
    """A parameter or metric name for the Runs tables: the catalogue's word, else the
    registry's label (without its unit: the value carries it), else the name."""
    from workbench.formatting import registry
    from workbench.i18n import MESSAGES, translate

    language = language or lang()
    if f"runparam.{name}" in MESSAGES:
        return translate(f"runparam.{name}", language)
    per_model = _PER_MODEL.match(name)
    if per_model:
        return f"{setting_name(per_model.group(1), language)} · {value_text(per_model.group(2), language)}"
    var = registry().column(name)
    return var.label(language) if var is not None else column_label(name, language)


def value_text(value: Any, language: str | None = None) -> str:
    """A parameter value as shown: a code word in the UI language (``raking`` -> ``迭代比例校准``,
    ``employment`` or an indicator -> its registry label, ``2026-08`` -> ``2026年8月``), any
    other word as written, anything else as JSON."""
    from workbench.formatting import format_date, format_month, registry
    from workbench.i18n import translate

    language = language or lang()
    if isinstance(value, str):
        word = code_word(value, language)  # first: ``month`` as a frequency is 月, not the column 月份
        if word != value:
            return word
        reg = registry()
        var = reg.column(value)
        if var is not None:
            return var.label(language)
        if value in reg.indicators or any("*" in p and re.fullmatch(p.replace("*", ".+"), value)
                                          for p in reg.indicators):
            return reg.indicator(value).label(language)
        if value.startswith("sa_") and value_text(value[3:], language) != value[3:]:
            # a seasonally adjusted series is published as sa_<series>
            return translate("runvalue.seasonally_adjusted", language, series=value_text(value[3:], language))
        if re.fullmatch(r"\d{4}-\d{2}|\d{4}-?Q[1-4]", value):
            return format_month(value, language)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}( 00:00:00)?", value):
            return format_date(value[:10], language)
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _flat(mapping: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Nested settings as (path, value) pairs: a seasonal run's ``spec`` shows its fields."""
    out = []
    for name in sorted(mapping):
        value = mapping[name]
        if isinstance(value, dict) and value:
            out += _flat(value, prefix + (str(name),))
        else:
            out.append((prefix + (str(name),), value))
    return out


def _listed(values: list | tuple, language: str) -> str:
    return ("、" if language == "zh" else ", ").join(value_text(v, language) for v in values)


def _listed_raw(words: list | tuple, language: str) -> str:
    return ("、" if language == "zh" else ", ").join(str(w) for w in words)


def _unit_name(code: str, language: str) -> str:
    """A unit code (``10k_yuan``) by its name in *language* (万元); no unit is said so."""
    from workbench.formatting import UNITS
    from workbench.i18n import translate

    unit = UNITS.get(code)
    return unit.label(language) if unit is not None and unit.label(language) else translate("review.no_unit", language)


def shown_setting(path: tuple[str, ...], value: Any, language: str, params: dict[str, Any] | None = None,
                  extra_digits: int = 0) -> str:
    """One parameter or metric value as a statistician reads it: yes/no, a list, a month, a
    code word in the UI language; a number the catalogue knows in its unit and precision (a
    CV as per cent), a run's estimate and standard error in the unit of the variable it
    estimated (*params*' ``variable``: persons, 万元), any other number to four significant
    digits with thousands separators; *extra_digits* more where two different numbers would
    otherwise read the same."""
    from workbench.formatting import format_number, format_value

    if value is None:
        return "—"
    if isinstance(value, bool):
        return translate_word("yes" if value else "no", language)
    if isinstance(value, (list, tuple)):
        return _listed(value, language) if value else "—"
    if isinstance(value, (int, float)):
        var = measured_variable(path[-1], params)
        if var is not None and var.numeric and var.unit:
            return format_value(value, replace(var, decimals=var.places + extra_digits), language)
        return format_number(value, 0, language) if isinstance(value, int) \
            else _significant(value, language, 4 + extra_digits)
    if isinstance(value, dict):
        return "; ".join(f"{setting_name(k, language)}: {shown_setting(path + (k,), v, language, params, extra_digits)}"
                         for k, v in sorted(value.items())) or "—"
    return value_text(value, language)


# Output and metric columns whose values are in the unit of the variable a run estimated
# (its ``variable`` parameter: persons for employment, 万元 for revenue).
_IN_VARIABLE_UNIT = ("estimate", "se", "ci_low", "ci_high", "direct", "eblup", "synthetic", "benchmarked",
                     "direct_se", "eblup_se")


def measured_variable(column: str, params: dict[str, Any] | None):
    """The registry variable whose unit and precision *column*'s numbers are shown in: the
    estimated variable's for an estimate, a standard error or an interval end, else the
    column's own entry (None when the registry does not know it)."""
    from workbench.formatting import Variable, registry

    reg = registry()
    measured = reg.column(str(params.get("variable"))) if params and params.get("variable") else None
    if column in _IN_VARIABLE_UNIT and measured is not None and measured.numeric:
        return measured
    per_model = _PER_MODEL.match(column)
    if per_model and per_model.group(1) == "point" and params and isinstance(params.get("series"), str):
        # a nowcast's level, in the unit its target series is published in (亿元)
        unit = data.series_unit(params["series"])
        return Variable(column, unit=unit) if unit else None
    return reg.column(column)


def settings_frame(params: dict[str, Any], language: str) -> pd.DataFrame:
    """A run's parameters as a two-column table in the UI language: each name as the
    catalogue says it (a nested setting as ``模型设定 · 变换``), each value as
    :func:`shown_setting` shows it, not as JSON."""
    rows = [{"name": " · ".join(setting_name(p, language) for p in path), "value": shown_setting(path, v, language)}
            for path, v in _flat(params)]
    return pd.DataFrame(rows, columns=["name", "value"])


def translate_word(word: str, language: str) -> str:
    from workbench.i18n import translate

    return translate(f"common.{word}", language)


def metrics_frame(metrics: dict[str, Any], params: dict[str, Any], language: str) -> pd.DataFrame:
    """A run's metrics as a two-column table, values as :func:`shown_setting` shows them."""
    rows = [{"name": " · ".join(setting_name(p, language) for p in path),
             "value": shown_setting(path, v, language, params)} for path, v in _flat(metrics)]
    return pd.DataFrame(rows, columns=["name", "value"])


# Two stored numbers are the same setting or metric when they agree to this relative
# tolerance: a run recomputed on the same inputs sums in another order and differs in the
# 15th digit, which is no difference (Compare said 2.8 % and 2.8 % differ). The page says so.
SAME_RELATIVE_TOLERANCE = 1e-9


def same_value(a: Any, b: Any) -> bool:
    """Whether two stored values are the same, numbers within :data:`SAME_RELATIVE_TOLERANCE`."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=SAME_RELATIVE_TOLERANCE, abs_tol=0.0)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def settings_side_by_side(values: dict[str, dict[str, Any]], params: dict[str, dict[str, Any]],
                          language: str) -> pd.DataFrame:
    """Several runs' parameters (or metrics) in one table: a row per setting, a column per
    run, and whether the runs differ in it (compared on the stored values within
    :data:`SAME_RELATIVE_TOLERANCE`, not on the shown text). Values that differ but would read
    the same are shown with as many more digits as tell them apart."""
    flat = {run_id: dict(_flat(v)) for run_id, v in values.items()}
    paths = sorted(set().union(*[f.keys() for f in flat.values()]))
    differs, rows = [], []
    for path in paths:
        stored = [f.get(path) for f in flat.values()]
        apart = any(not same_value(stored[0], v) for v in stored[1:])
        for extra in range(0, 13 if apart else 1):
            shown = [shown_setting(path, v, language, params.get(run_id), extra)
                     for run_id, v in zip(flat, stored)]
            if not apart or len(set(shown)) > 1:
                break
        differs.append(apart)
        rows.append(shown)
    frame = pd.DataFrame(rows, columns=list(flat)) if rows else pd.DataFrame(columns=list(flat))
    frame.insert(0, "differs", differs)
    frame.insert(0, "name", [" · ".join(setting_name(p, language) for p in path) for path in paths])
    return frame


def _significant(value: float, language: str, digits: int = 4) -> str:
    """A number without a catalogued unit: four significant digits, thousands separated."""
    from workbench.formatting import format_number, missing

    if missing(value) or not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    text = format_number(value, decimals, language)
    return text.rstrip("0").rstrip(".") if "." in text else text


# A method's own warning sentences, as the methods write them (in English, for logs and the
# CLI), and the catalogue entry that says each in the UI language. Stored runs keep the
# English text, so the translation is made when a warning is shown, old runs included.
_OWN_WARNINGS = (
    (re.compile(r"^(?P<model>[\w.-]+): fewer than (?P<n>\d+) past errors at horizon (?P<horizon>\d+): the model's own "
                r"interval is shown \(too narrow this far from the release\)$"), "runwarn.few_errors"),
    (re.compile(r"^missing (?P<months>[\d\-, ]+): estimated by X-13's regARIMA model before adjusting$"),
     "runwarn.filled_x13"),
    (re.compile(r"^missing (?P<months>[\d\-, ]+): interpolated \(log-linear\) before adjusting$"),
     "runwarn.filled_interpolated"),
    (re.compile(r"^no values for (?P<months>[\dQ\-, ]+): left out \(before the first or after the last\)$"),
     "runwarn.dropped"),
    # why a series was not seasonally adjusted (workbench.methods.seasonal.adjust.check_series)
    (re.compile(r"^the series has no values$"), "sa.why.no_values"),
    (re.compile(r"^(?P<n>\d+) (?P<unit>months|quarters) with values \((?P<first>\S+) to (?P<last>\S+)\); seasonal "
                r"adjustment needs at least (?P<need>\d+) \((?P<years>\d+) years\): wait for more data or adjust a "
                r"longer series$"), "sa.why.too_short"),
    (re.compile(r"^(?P<n>\d+) (?P<unit>months|quarters) missing in a row \((?P<first>\S+) to (?P<last>\S+)\), more "
                r"than the (?P<most>\d+) that can be estimated: deliver or impute them, or adjust the series from "
                r"(?P<start>\S+) on$"), "sa.why.long_gap"),
    (re.compile(r"^(?P<n>\d+) of (?P<total>\d+) (?P<unit>months|quarters) missing \((?P<months>[^)]*)\), more than "
                r"(?P<share>\d+%): deliver or impute them first$"), "sa.why.many_gaps"),
)
_PERIOD_ARGS = ("first", "last", "start")
# "<model>: <LibraryWarning>: <its text> (n times)": a library's own words
_LIBRARY_WARNING = re.compile(r"^(?P<model>[\w.-]+): (?P<category>[A-Z]\w*(?:Warning|Error)): (?P<text>.*)$")
_TIMES = re.compile(r"^(?P<body>.*) \((?P<n>\d+) times\)$")


def warning_parts(warning: str, language: str) -> tuple[str, str | None]:
    """(what the reader is told in the UI language, the library's own text or None)."""
    from workbench.i18n import translate

    body, times = warning, 1
    counted = _TIMES.match(warning)
    if counted:
        body, times = counted.group("body"), int(counted.group("n"))
    suffix = translate("runwarn.times", language, n=times) if times > 1 else ""
    for pattern, key in _OWN_WARNINGS:
        found = pattern.match(body)
        if found:
            args = found.groupdict()
            if "model" in args:
                args["model"] = value_text(args["model"], language)
            if "months" in args:
                args["months"] = _listed([m.strip() for m in args["months"].split(",")], language)
            if "unit" in args:
                args["unit"] = translate(f"sa.unit.{args['unit']}", language)
            for name in _PERIOD_ARGS:
                if name in args:
                    args[name] = value_text(args[name], language)
            return translate(key, language, **args) + suffix, None
    library = _LIBRARY_WARNING.match(body)
    if library:
        return translate("runwarn.library", language, model=value_text(library.group("model"), language),
                         category=library.group("category")) + suffix, library.group("text")
    return warning, None


def show_warning(warning: str, language: str) -> None:
    """A method's warning in the UI language; a library's own text beside it, verbatim."""
    said, verbatim = warning_parts(warning, language)
    st.warning(said)
    if verbatim:
        st.code(verbatim, language=None)


def code_word(value: object, language: str | None = None, kind: str | None = None) -> object:
    """A model, a method or a target series code said as its name (``bridge`` -> 桥接方程), a
    kind's own code words too (X-13's ``AutoOutlier``, ``MA-Nonseasonal-01``); anything else as
    it is."""
    from workbench.i18n import MESSAGES, translate

    language = language or lang()
    if not isinstance(value, str):
        return value
    for prefix in (*_KIND_VALUES.get(kind or "", ()), *_VALUE_CATALOGUES):
        if f"{prefix}.{value}" in MESSAGES:
            return translate(f"{prefix}.{value}", language)
    arima = _ARIMA_TERM.match(value) if kind == "seasonal_adjustment" else None
    if arima:
        return translate("sa.term.arima", language, part=arima["part"],
                         season=translate(f"sa.term.{arima['season']}", language), lag=int(arima["lag"]))
    return value


def output_table(frame: pd.DataFrame, key: str, kind: str | None = None, params: dict[str, Any] | None = None) -> None:
    """A run's output in the UI language (headings with units, values as shown; an estimate in
    the unit of the variable the run estimated)."""
    language = lang()
    shown = frame.copy()
    for c in shown.columns:
        if shown[c].dtype == object:
            shown[c] = shown[c].map(lambda v: code_word(v, language, kind))
    variables = {c: var for c in frame.columns if c in _IN_VARIABLE_UNIT
                 and (var := measured_variable(c, params)) is not None and var.name != c}
    widgets.formatted_table(shown, key, variables=variables or None,
                            labels={c: column_label(c, kind=kind) for c in frame.columns
                                    if c not in variables})


def chart_frame(long: pd.DataFrame, x: str, y: str, params: dict[str, Any] | None, language: str,
                kind: str | None = None) -> tuple[pd.DataFrame, str]:
    """The rows a run chart draws, as a reader reads them: codes on the x axis by name
    (``660102 中山区``, ``C 制造业``, a model by its name), values on the y axis in the shown
    unit of their variable (万元, not yuan; per cent, not a fraction); and the y axis title with
    that unit. Pure: the chart itself is drawn by :func:`series_chart`."""
    from workbench.formatting import codelist_for, registry

    reg = registry()
    out = long.copy()
    if out[x].dtype == object:
        codelist = codelist_for(x, reg)
        out[x] = out[x].map(lambda c: reg.code_label(codelist, c, language)) if codelist \
            else out[x].map(lambda c: code_word(c, language, kind))
    var = measured_variable(y, params)
    if var is not None and var.numeric and var.unit:
        out[y] = out[y].astype(float) * var.scale
        own = reg.column(y)
        label = own.label(language) if own is not None else var.label(language)
        unit = var.shown_unit.label(language)
        title = (f"{label}（{unit}）" if language == "zh" else f"{label} ({unit})") if unit else label
    else:
        title = column_label(y, language, kind)
    return out, title


def series_chart(sample: pd.DataFrame, frames: dict[str, pd.DataFrame], key: str, kind: str, output: str,
                 params: dict[str, Any] | None = None, names: dict[str, str] | None = None) -> None:
    """A chart of one numeric column against another, one colour per run (and per the
    output's own series column, if it has one). It opens on what the kind declares for the
    output (``workbench.runs.kinds.OUTPUT_CHARTS``: an estimate by domain, an index by
    period), not on whichever columns come first; an output declared a table gets none.
    *names*: what the legend calls each run (its title), else its run id."""
    from workbench.runs.kinds import OUTPUT_CHARTS

    declared = OUTPUT_CHARTS.get((kind, output), "undeclared")
    if declared is None:
        return
    numeric = [c for c in sample.columns if pd.api.types.is_numeric_dtype(sample[c])
               and not pd.api.types.is_bool_dtype(sample[c])]
    if not numeric:
        return
    others = [c for c in sample.columns if c not in numeric] or numeric
    spec = declared if declared != "undeclared" and {declared.x, declared.y} <= set(sample.columns) else None
    if others is numeric and len(numeric) < 2:  # one number and nothing to draw it against
        return
    x_col, y_col = st.columns(2)
    language = lang()
    x = widgets.selectbox(x_col, t("runs.chart_x"), others, index=others.index(spec.x) if spec and spec.x in others else 0,
                        format_func=lambda c: column_label(c, language, kind), key=f"{key}_x_{kind}_{output}")
    # an output of numbers only offers the same columns on both axes: the y axis opens on another
    first_other = next((i for i, c in enumerate(numeric) if c != x), 0)
    y = widgets.selectbox(y_col, t("runs.chart_y"), numeric,
                        index=numeric.index(spec.y) if spec and spec.y in numeric else first_other,
                        format_func=lambda c: column_label(c, language, kind), key=f"{key}_y_{kind}_{output}")
    if x == y:  # a column against itself: a diagonal at best, and the frame below cannot hold it twice
        st.caption(t("runs.chart_same_column"))
        return
    color = spec.color if spec and spec.color in sample.columns and spec.color not in (x, y) else None
    parts = []
    for run_id, f in frames.items():
        if not {x, y} <= set(f.columns):
            continue
        rows = f
        for column, value in (spec.leave_out if spec else ()):
            kept = rows[rows[column].astype(str) != value] if column in rows.columns and x == column else rows
            rows = kept if len(kept) else rows  # a city total alone is drawn, not left out
        parts.append(rows[[x, y] + ([color] if color else [])].assign(run=(names or {}).get(run_id, run_id)))
    if not parts:
        return
    long = pd.concat(parts)
    if color:
        long["line"] = long["run"] + " · " + long[color].astype(str) if len(frames) > 1 else long[color].astype(str)
    else:
        long["line"] = long["run"]
    temporal = x in ("period", "month", "ref_period", "asof") or pd.api.types.is_datetime64_any_dtype(long[x])
    if temporal:
        long[x] = pd.to_datetime(long[x])
    long, y_title = chart_frame(long, x, y, params, lang(), kind)
    mark = alt.Chart(long).mark_line(point=True) if temporal or pd.api.types.is_numeric_dtype(long[x]) \
        else alt.Chart(long).mark_point(size=80, filled=True)
    x_title = column_label(x, kind=kind)
    # month names and separators in the UI language (widgets.chart sets the chart's locale)
    widgets.chart(mark.encode(x=alt.X(f"{x}:{'T' if temporal else 'O'}", title=x_title, sort=None),
                              y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)),
                              color=alt.Color("line:N", title=t("runs.chart_line")),
                              tooltip=[alt.Tooltip(x, title=x_title), alt.Tooltip(y, title=y_title, format=",.4~g"),
                                       alt.Tooltip("line:N", title=t("runs.chart_line"))]))


def identical_runs(runs: pd.DataFrame, kind: str, params: dict[str, Any], inputs: dict[str, int],
                   besides: str | None = None) -> list[tuple[str, str]]:
    """(run id, state) of the runs in *runs* (those the user may open) that are the same computation
    as *kind*, *params* on *inputs* and already stand for it (submitted, approved or released):
    the rule of :func:`workbench.runs.review.identical_runs`, on the page's cached runs list."""
    from workbench.runs.registry import run_fingerprint

    if runs.empty or "inputs" not in runs.columns:
        return []
    wanted = run_fingerprint(kind, params, inputs)
    same = runs[(runs["run_id"] != besides) & runs["state"].isin(review.STANDING)]
    matches = pd.Series([run_fingerprint(k, p or {}, i or {}) == wanted
                         for k, p, i in zip(same["kind"], same["params"], same["inputs"])], index=same.index, dtype=bool)
    same = same[matches].sort_values("started_at")
    return list(zip(same["run_id"], same["state"]))


def show_identical(found: list[tuple[str, str]], key: str) -> None:
    """Say that an identical run exists, with a button that opens it on Runs (``?run=ID``)."""
    if not found:
        return
    run_id, state = found[0]
    with st.container(key=f"{key}_identical"):  # found by the tests
        st.warning(t("review.identical", run=run_id, state=state_label(state)), icon=":material/content_copy:")
        target = page_for("runs")
        if target is not None and st.button(t("review.open_identical", run=run_id), key=f"{key}_open_identical",
                                            icon=":material/history:", type="tertiary"):
            st.switch_page(target, query_params={"run": run_id})


def spec_identical(spec: dict[str, Any], user) -> list[tuple[str, str]]:
    """The standing runs identical to a method page's run spec (inputs as names read at their
    current versions, or as the versions the page computed on)."""
    inputs = spec.get("inputs") or {}
    if isinstance(inputs, (list, tuple)):
        current = data.table_versions()
        if any(name not in current for name in inputs):
            return []
        inputs = {name: current[name] for name in inputs}
    if any(v is None for v in inputs.values()):
        return []
    return identical_runs(data.runs(user), spec["kind"], spec.get("params") or {},
                          {k: int(v) for k, v in inputs.items()})


def publication_preview(frame: pd.DataFrame, params: dict[str, Any], language: str) -> tuple[pd.DataFrame, str, str]:
    """(the rows as the released file shows them, the reference period, the unit) of an output
    about to be published, in *language*: the export's own layers (``prepared_frame``,
    ``published_frame``), so the supervisor sees what the public will read."""
    from workbench import formatting
    from workbench.disclosure.export import TIME_COLUMNS, ReleaseContext, prepared_frame, published_frame, unit_words
    from workbench.i18n import translate

    # a published series (retail sales) is in the unit gold.targets gives it, as the release reader says
    series = params.get("series") if isinstance(params.get("series"), str) else ""
    context = ReleaseContext.from_params(params, data.series_unit(series) if series else "")
    prepared = prepared_frame(frame, context)
    time_column = next((c for c in prepared.columns if c.lower() in TIME_COLUMNS), None)
    period = formatting.reference_period(prepared[time_column], language) if time_column else ""
    return (published_frame(prepared, language, context), period or translate("review.no_period", language),
            unit_words(prepared, context, language) or translate("review.no_unit", language))


def settings_fingerprint(spec: dict[str, Any]) -> str:
    """The kind, parameters and inputs of a run spec as one comparable string."""
    return json.dumps({k: spec.get(k) for k in ("kind", "params", "inputs", "series")}, sort_keys=True, default=str)


def submit_for_review(prefix: str, user, make_run: Callable[[], dict[str, Any]], blocked: str | None = None) -> None:
    """Comment box, submit button and confirmation of a method page.

    *make_run* returns ``registry.run_method``'s arguments (``kind``, ``params``, ``inputs``
    given as versions, ``title``, ``series``) for the results this render drew above; with
    ``result`` (the method's return value the page computed on those versions) the run is
    recorded from it instead of being computed again. *blocked*: why the result shown cannot
    be submitted (the button is disabled and says so), or None.

    A click is acted on here, in the render it starts, never in a button callback: Streamlit
    runs the callback of the render that last drew the button, and a click while the page was
    still computing new settings ran a callback holding the previous results (a nowcast as of
    16 Sep recorded with the comment written for 11 Sep). The button remembers the settings
    and input versions it was drawn beside; the run is recorded only when this render, having
    drawn its results, holds the same ones, else nothing is recorded and the page says why.
    """
    shown = dict(make_run())
    shown_from = settings_fingerprint(shown)

    def note_click(drawn_beside: str) -> None:
        st.session_state[f"{prefix}_submit_drawn_beside"] = drawn_beside

    submitted = st.session_state.get(f"{prefix}_submitted")
    # before submitting a copy: the same kind, parameters and input versions already wait or stand
    show_identical([(r, s) for r, s in spec_identical(dict(shown), user) if r != submitted], prefix)
    if st.session_state.pop(f"{prefix}_clear_comment", False):
        st.session_state[f"{prefix}_comment"] = ""
    st.text_input(t("runs.comment"), key=f"{prefix}_comment")
    clicked = st.button(t("est.submit"), key=f"{prefix}_submit", icon=":material/send:", type="primary",
                        on_click=note_click, args=(shown_from,), disabled=blocked is not None, help=blocked)
    drawn_beside = st.session_state.pop(f"{prefix}_submit_drawn_beside", None)
    if blocked:
        st.caption(blocked)
    elif clicked and drawn_beside != shown_from:
        with st.container(key=f"{prefix}_submit_changed"):  # found by the tests
            st.warning(t("runs.submit_changed"))
    elif clicked:
        lake = data.lake()
        with st.spinner(t("runs.recording"), show_time=True):
            spec = dict(shown)
            result = spec.pop("result", None)
            if result is not None:  # computed (and cached) by the page on exactly these input versions
                run_id = registry.record_result(lake, spec.pop("kind"), spec.pop("params"), spec.pop("inputs"), result,
                                                user=user, **spec)
            else:
                run_id = registry.run_method(lake, spec.pop("kind"), spec.pop("params"), spec.pop("inputs"),
                                             user=user, **spec)
        review.submit(lake, run_id, user, st.session_state.get(f"{prefix}_comment", ""))
        st.session_state[f"{prefix}_submitted"] = run_id
        st.session_state[f"{prefix}_submitted_from"] = shown_from
        # the comment was that run's; the next starts empty. The box is drawn above, so it is
        # emptied before it is drawn again, in the render this one starts.
        st.session_state[f"{prefix}_clear_comment"] = True
        st.rerun()
    # The confirmation belongs to its run: once the settings above no longer are the ones
    # that run was made from, it would describe numbers the page no longer shows.
    if submitted and shown_from == st.session_state.get(f"{prefix}_submitted_from"):
        with st.container(key=f"{prefix}_confirmation"):  # found by the browser tests
            st.success(t("est.submitted", run_id=submitted))
