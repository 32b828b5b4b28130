"""Run display pieces shared by the Runs, Compare and Review pages (UI only)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from workbench.app import data, widgets
from workbench.app.session import page_for, t
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


def state_label(state: str) -> str:
    return t(f"state.{state}")


def run_label(runs: pd.DataFrame, run_id: str) -> str:
    # No translated words here: the label must not change with the language switch,
    # or a selection would be lost when the user switches.
    row = runs.set_index("run_id").loc[run_id]
    return f"{row['title']} · {row['user']} · {run_id}"


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
        widgets.table(pd.DataFrame([{"at": e.at, "user": e.user, "action": e.action, "state": e.after,
                                     "comment": e.comment} for e in trail]), f"{key}_audit")
    if run.outputs:
        output = st.selectbox(t("runs.output_pick"), sorted(run.outputs), key=f"{key}_output")
        frame = data.run_output(data.root(), run_id, output)
        widgets.table(frame, f"{key}_output_rows")
        series_chart(frame, {run_id: frame}, key)


def series_chart(sample: pd.DataFrame, frames: dict[str, pd.DataFrame], key: str) -> None:
    """A chart of one numeric column against another column, one colour per run."""
    numeric = [c for c in sample.columns if pd.api.types.is_numeric_dtype(sample[c])]
    if not numeric:
        return
    others = [c for c in sample.columns if c not in numeric] or numeric
    x_col, y_col = st.columns(2)
    x = x_col.selectbox(t("runs.chart_x"), others, key=f"{key}_x")
    y = y_col.selectbox(t("runs.chart_y"), numeric, key=f"{key}_y")
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
