"""Compare: two or more runs side by side (parameters, metrics, overlaid outputs)."""

import math

import pandas as pd
import streamlit as st

from workbench.app import data, widgets
from workbench.app.run_views import (
    SAME_RELATIVE_TOLERANCE,
    bound,
    default_comparison,
    output_label,
    refuse_link,
    run_headings,
    run_label,
    series_chart,
    settings_side_by_side,
)
from workbench.app.session import ROLES_FOR, lang, require_role, t

user = require_role(*ROLES_FOR["compare"])
st.title(t("nav.compare"))
runs = data.runs(user)  # the runs this user may open: their own, or every run for a reviewer
refuse_link(runs)
if len(runs) < 2:
    st.info(t("compare.need_two"))
    st.stop()
# The newest run and the one before it of the same kind and series (or, through a link
# ?run=ID, that run and its predecessor); the default is applied once per link.
linked = st.query_params.get("run")
if linked in set(runs["run_id"]) and st.session_state.get("_linked_compare_pick") != linked:
    st.session_state["_linked_compare_pick"] = linked
    st.session_state["compare_pick"] = default_comparison(runs, linked)
st.session_state.setdefault("compare_pick", default_comparison(runs))
picked = widgets.multiselect(st, t("compare.pick"), runs["run_id"].tolist(), format_func=lambda r, lg=lang(): run_label(runs, r, lg),
                        key="compare_pick")
if len(picked) < 2:
    st.info(t("compare.need_two"))
    st.stop()

details = {run_id: data.run(run_id, user)[0] for run_id in picked}
headings = run_headings(runs, picked)  # columns and legend by title, not by run id


def side_by_side(values: dict[str, dict]) -> pd.DataFrame:
    frame = settings_side_by_side(values, {r: d.params for r, d in details.items()}, lang())
    return frame.rename(columns={"name": t("runcol.name"), "differs": t("compare.differs"), **headings})


st.caption(t("compare.tolerance", digits=round(-math.log10(SAME_RELATIVE_TOLERANCE))))


st.subheader(t("compare.params"))
widgets.table(side_by_side({r: {**d.params, "inputs": d.inputs} for r, d in details.items()}), "compare_params")
st.subheader(t("compare.metrics"))
widgets.table(side_by_side({r: d.metrics for r, d in details.items()}), "compare_metrics")

st.subheader(t("compare.series"))
common = sorted(set.intersection(*[set(d.outputs) for d in details.values()]))
if not common:
    st.info(t("compare.no_common_output"))
    st.stop()
output = widgets.selectbox(st, t("runs.output_pick"), common, format_func=bound(output_label), key="compare_output")
frames = {run_id: data.run_output(run_id, output, user) for run_id in picked}
series_chart(next(iter(frames.values())), frames, "compare_chart", details[picked[0]].kind, output,
             details[picked[0]].params, names=headings)
