"""Runs: list and filter runs; open one to see how its numbers were made."""

import pandas as pd
import streamlit as st

from workbench.app import data, run_views, widgets
from workbench.app.run_views import bound, kind_label, refuse_link, run_label, runs_table, show_run, state_label
from workbench.app.session import ROLES_FOR, lang, linked_run, require_role, t
from workbench.runs import review

user = require_role(*ROLES_FOR["runs"])
st.title(t("nav.runs"))
runs = data.runs(user)  # the runs this user may open: their own, or every run for a reviewer
refuse_link(runs)
if runs.empty:
    st.info(t("runs.none"))
    st.stop()

kind_col, state_col, user_col = st.columns(3)
kinds = widgets.multiselect(kind_col, t("runs.filter.kind"), sorted(runs["kind"].unique()), format_func=bound(kind_label),
                               key="runs_kind")
states = widgets.multiselect(state_col, t("runs.filter.state"), sorted(runs["state"].unique()), format_func=bound(state_label),
                               key="runs_state")
users = widgets.multiselect(user_col, t("runs.filter.user"), sorted(runs["user"].unique()), key="runs_user")
keep = pd.Series(True, index=runs.index)
for column, chosen in (("kind", kinds), ("state", states), ("user", users)):
    if chosen:
        keep &= runs[column].isin(chosen)
shown = runs[keep]
runs_table(shown, "runs_list")
if shown.empty:
    st.stop()

linked_run("runs_pick", shown["run_id"].tolist())  # a link ?run=ID opens that run
run_id = widgets.selectbox(st, t("runs.pick"), shown["run_id"].tolist(), format_func=lambda r, lg=lang(): run_label(runs, r, lg),
                      key="runs_pick")
state = runs.set_index("run_id").loc[run_id, "state"]
owner = runs.set_index("run_id").loc[run_id, "user"]
if state in ("draft", "rejected") and (user.username == owner or "supervisor" in user.roles):
    picked = runs.set_index("run_id").loc[run_id]
    run_views.show_identical(run_views.identical_runs(runs, picked["kind"], picked["params"], picked["inputs"],
                                                      besides=run_id), "runs_submit")
    comment = st.text_input(t("runs.comment"), key="runs_submit_comment")
    if st.button(t("runs.submit"), key="runs_submit", type="primary"):
        try:
            review.submit(data.lake(), run_id, user, comment)
            st.success(t("runs.submitted"))
            st.rerun()
        except review.ReviewError as exc:
            run_views.Refusal.of(exc).show(lang())
show_run(run_id, "runs_detail", user)
