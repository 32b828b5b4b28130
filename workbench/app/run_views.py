"""Run display pieces shared by the Runs, Compare and Review pages (UI only)."""

from __future__ import annotations

import json
from typing import Any, Callable

import altair as alt
import pandas as pd
import streamlit as st

from workbench.app import data, widgets
from workbench.app.session import t
from workbench.runs import registry, review


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

    st.text_input(t("runs.comment"), key=f"{prefix}_comment")
    st.button(t("est.submit"), key=f"{prefix}_submit", icon=":material/send:", type="primary", on_click=submit,
              disabled=blocked is not None, help=blocked)
    if blocked:
        st.caption(blocked)
    if st.session_state.get(f"{prefix}_submitted"):
        with st.container(key=f"{prefix}_confirmation"):  # found by the browser tests
            st.success(t("est.submitted", run_id=st.session_state[f"{prefix}_submitted"]))
