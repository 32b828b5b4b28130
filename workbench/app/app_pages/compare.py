"""Compare: two or more runs side by side (parameters, metrics, overlaid outputs)."""

import json

import pandas as pd
import streamlit as st

from workbench.app import data, widgets
from workbench.app.run_views import (bound, default_comparison, output_label, param_name, run_label, series_chart,
                                     value_text)
from workbench.app.session import ROLES_FOR, lang, require_role, t

require_role(*ROLES_FOR["compare"])
st.title(t("nav.compare"))
runs = data.runs()
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
picked = st.multiselect(t("compare.pick"), runs["run_id"].tolist(), format_func=lambda r, lg=lang(): run_label(runs, r, lg),
                        key="compare_pick", placeholder=t("common.choose"))
if len(picked) < 2:
    st.info(t("compare.need_two"))
    st.stop()

details = {run_id: data.run(run_id)[0] for run_id in picked}


def side_by_side(values: dict[str, dict]) -> pd.DataFrame:
    keys = sorted(set().union(*[v.keys() for v in values.values()]))
    raw = pd.DataFrame({run_id: [json.dumps(v.get(k), ensure_ascii=False, default=str) for k in keys]
                        for run_id, v in values.items()}, index=keys)
    frame = pd.DataFrame({run_id: [value_text(v.get(k)) for k in keys] for run_id, v in values.items()},
                         index=[param_name(k) for k in keys])
    frame.insert(0, t("compare.differs"), (raw.nunique(axis=1) > 1).to_numpy())
    return frame.reset_index(names=t("runcol.name"))


st.subheader(t("compare.params"))
widgets.table(side_by_side({r: {**d.params, "inputs": d.inputs} for r, d in details.items()}), "compare_params")
st.subheader(t("compare.metrics"))
widgets.table(side_by_side({r: d.metrics for r, d in details.items()}), "compare_metrics")

st.subheader(t("compare.series"))
common = sorted(set.intersection(*[set(d.outputs) for d in details.values()]))
if not common:
    st.info(t("compare.no_common_output"))
    st.stop()
output = st.selectbox(t("runs.output_pick"), common, format_func=bound(output_label), key="compare_output")
frames = {run_id: data.run_output(data.root(), run_id, output) for run_id in picked}
series_chart(next(iter(frames.values())), frames, "compare_chart")
