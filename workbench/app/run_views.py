"""Run display pieces shared by the Runs, Compare and Review pages (UI only)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

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


def column_label(name: str, language: str | None = None) -> str:
    """The heading of a column of a run table or output: the registry's label with its unit,
    else the catalogue's (``runcol.``, then the Nowcast page's ``nowcast.col.``), else the name."""
    from workbench.formatting import registry
    from workbench.i18n import MESSAGES, translate

    language = language or lang()
    var = registry().column(name)
    if var is not None:
        return var.heading(language)
    for prefix in ("runcol", "nowcast.col"):
        if f"{prefix}.{name}" in MESSAGES:
            return translate(f"{prefix}.{name}", language)
    return name


# Titles the pages used to generate in English ("Nowcast retail_sales 2026-09"); a title a
# user typed is content and is shown as typed.
_GENERATED = re.compile(r"^(Nowcast|Survey estimate|Seasonal adjustment) \S+( \S+)?$")


def run_title(kind: str, title: str, params: dict | None = None, series: str | None = None,
              language: str | None = None) -> str:
    """The title shown for a run: a generated one (the registry's default, the kind itself, or
    a page's former English default) is rebuilt in the UI language from the kind and the
    parameters (``即时预测 retail_sales 2026年9月``); a typed one stays as typed."""
    from workbench.formatting import format_month, registry
    from workbench.i18n import translate

    language = language or lang()
    title = title or ""
    if title and title != kind and not title.startswith(f"{kind} ") and not _GENERATED.match(title):
        return title
    params = params or {}
    what = next((params[k] for k in ("variable", "indicator") if isinstance(params.get(k), str)), None) or series
    detail = []
    if what:
        var = registry().column(str(what))
        detail.append(var.label(language) if var is not None else str(what))
    period = params.get("period") or params.get("first")
    if period:
        detail.append(format_month(period, language))
    elif _GENERATED.match(title) and len(title.split()) > 2 and re.fullmatch(r"\d{4}-\d{2}", title.split()[-1]):
        detail.append(format_month(title.split()[-1], language))
    return translate("runtitle.generated", language, kind=kind_label(kind, language), detail=" ".join(detail)).strip()


def runs_shown(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs list for display: kind, state and generated titles in the UI language."""
    out = runs.copy()
    if out.empty:
        return out
    params = {r: data.run(r)[0].params for r in out["run_id"]} if "run_id" in out else {}
    out["title"] = [run_title(k, ti, params.get(r), s) for k, ti, r, s in
                    zip(out["kind"], out["title"], out["run_id"], out["series"])]
    out["kind"] = out["kind"].map(kind_label)
    out["state"] = out["state"].map(state_label)
    return out


RUN_COLUMNS = ("run_id", "title", "kind", "series", "user", "state", "started_at", "seconds")


def runs_table(runs: pd.DataFrame, key: str) -> None:
    """The runs list with its headings in the UI language."""
    widgets.table(runs_shown(runs), key, column_config={c: t(f"runcol.{c}") for c in RUN_COLUMNS})


def run_label(runs: pd.DataFrame, run_id: str, language: str | None = None) -> str:
    # A keyed select box keeps its selection by key (Streamlit 1.67), so the label may be in
    # the UI language: the selected value is the run id.
    row = runs.set_index("run_id").loc[run_id]
    title = run_title(row["kind"], row["title"], data.run(run_id)[0].params, row.get("series"), language)
    return f"{title} · {row['user']} · {run_id}"


def show_run(run_id: str, key: str) -> None:
    """Parameters, inputs with versions, code, metrics, audit trail and outputs of one run."""
    run, trail = data.run(run_id)
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
        st.code(json.dumps(run.params, ensure_ascii=False, indent=2, sort_keys=True), language="json")
        st.markdown(f"**{t('runs.inputs')}**")
        widgets.table(pd.DataFrame([{"table": k, "version": v} for k, v in run.inputs.items()]),
                      f"{key}_inputs", column_config={"table": t("common.table"), "version": t("common.version")})
    with right:
        st.markdown(f"**{t('runs.metrics')}**")
        st.code(json.dumps(run.metrics, ensure_ascii=False, indent=2, sort_keys=True), language="json")
        if run.warnings:
            st.markdown(f"**{t('runs.warnings')}**")
            for w in run.warnings:
                st.warning(w)
        st.markdown(f"**{t('runs.audit')}**")
        audit = pd.DataFrame([{"at": e.at, "user": e.user, "action": action_label(e.action),
                               "state": state_label(e.after) if e.after else "", "comment": e.comment}
                              for e in trail], columns=["at", "user", "action", "state", "comment"])
        widgets.table(audit, f"{key}_audit", column_config={c: t(f"runcol.{c}") for c in audit.columns})
    if run.outputs:
        output = st.selectbox(t("runs.output_pick"), sorted(run.outputs), format_func=bound(output_label),
                              key=f"{key}_output")
        frame = data.run_output(data.root(), run_id, output)
        output_table(frame, f"{key}_output_rows")
        series_chart(frame, {run_id: frame}, key)


def param_name(name: str, language: str | None = None) -> str:
    """A parameter or metric name in the UI language (``calibration`` -> ``校准方法``)."""
    return _catalogued("runparam", name, lambda n: column_label(n, language), language)


def value_text(value: Any, language: str | None = None) -> str:
    """A parameter value as shown: a code word in the UI language (``raking`` -> ``迭代比例校准``,
    ``employment`` -> its registry label), anything else as JSON."""
    from workbench.formatting import registry

    if isinstance(value, str):
        var = registry().column(value)
        if var is not None:
            return var.label(language or lang())
        return _catalogued("runvalue", value, lambda v: json.dumps(v, ensure_ascii=False), language)
    return json.dumps(value, ensure_ascii=False, default=str)


def output_table(frame: pd.DataFrame, key: str) -> None:
    """A run's output in the UI language (headings with units, values as shown)."""
    from workbench.i18n import MESSAGES

    shown = frame.copy()
    for c in shown.columns:
        if shown[c].dtype == object:
            shown[c] = shown[c].map(lambda v: t(f"runvalue.{v}") if isinstance(v, str) and f"runvalue.{v}" in MESSAGES
                                    else v)
    widgets.formatted_table(shown, key, labels={c: column_label(c) for c in frame.columns})


def series_chart(sample: pd.DataFrame, frames: dict[str, pd.DataFrame], key: str) -> None:
    """A chart of one numeric column against another column, one colour per run."""
    numeric = [c for c in sample.columns if pd.api.types.is_numeric_dtype(sample[c])]
    if not numeric:
        return
    others = [c for c in sample.columns if c not in numeric] or numeric
    x_col, y_col = st.columns(2)
    x = x_col.selectbox(t("runs.chart_x"), others, format_func=bound(column_label), key=f"{key}_x")
    y = y_col.selectbox(t("runs.chart_y"), numeric, format_func=bound(column_label), key=f"{key}_y")
    long = pd.concat([f[[x, y]].assign(run=run_id) for run_id, f in frames.items() if {x, y} <= set(f.columns)])
    kind = alt.Chart(long).mark_line(point=True) if pd.api.types.is_datetime64_any_dtype(long[x]) or \
        pd.api.types.is_numeric_dtype(long[x]) else alt.Chart(long).mark_point(size=80)
    st.altair_chart(kind.encode(x=alt.X(f"{x}:{'T' if pd.api.types.is_datetime64_any_dtype(long[x]) else 'O'}"),
                                y=alt.Y(f"{y}:Q"), color="run:N", tooltip=[x, y, "run"]),
                    width="stretch")


def settings_fingerprint(spec: dict[str, Any]) -> str:
    """The kind, parameters and inputs of a run spec as one comparable string."""
    return json.dumps({k: spec.get(k) for k in ("kind", "params", "inputs", "series")}, sort_keys=True, default=str)


def submit_for_review(prefix: str, user, make_run: Callable[[], dict[str, Any]], blocked: str | None = None) -> None:
    """Comment box, submit button and confirmation of a method page.

    *make_run* returns ``registry.run_method``'s arguments (``kind``, ``params``,
    ``inputs``, ``title``, ``series``); it is called when the button is clicked, so it
    reads the widget values of that moment, not of the last render. With ``result`` (the
    method's return value the page computed on ``inputs`` given as versions) the run is
    recorded from it instead of being computed again. *blocked*: why the result shown
    cannot be submitted (the button is disabled and says so), or None.
    """
    def submit() -> None:
        spec = dict(make_run())
        made_from = settings_fingerprint(spec)
        lake = data.lake()
        result = spec.pop("result", None)
        if result is not None:  # computed (and cached) by the page on exactly these input versions
            run_id = registry.record_result(lake, spec.pop("kind"), spec.pop("params"), spec.pop("inputs"), result,
                                            user=user, **spec)
        else:
            run_id = registry.run_method(lake, spec.pop("kind"), spec.pop("params"), spec.pop("inputs"),
                                         user=user, **spec)
        review.submit(lake, run_id, user, st.session_state.get(f"{prefix}_comment", ""))
        st.session_state[f"{prefix}_submitted"] = run_id
        st.session_state[f"{prefix}_submitted_from"] = made_from

    st.text_input(t("runs.comment"), key=f"{prefix}_comment")
    st.button(t("est.submit"), key=f"{prefix}_submit", icon=":material/send:", type="primary", on_click=submit,
              disabled=blocked is not None, help=blocked)
    if blocked:
        st.caption(blocked)
    submitted = st.session_state.get(f"{prefix}_submitted")
    made_from = st.session_state.get(f"{prefix}_submitted_from")
    # The confirmation belongs to its run: once the settings above no longer are the ones
    # that run was made from, it would describe numbers the page no longer shows.
    if submitted and settings_fingerprint(make_run()) == made_from:
        with st.container(key=f"{prefix}_confirmation"):  # found by the browser tests
            st.success(t("est.submitted", run_id=submitted))
