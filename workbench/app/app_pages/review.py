"""Review queue (supervisors): approve or reject submitted runs; release approved ones."""

from datetime import date, datetime, time, timezone

import streamlit as st

from workbench.app import data, widgets
from workbench.app.run_views import run_label, show_run, state_label
from workbench.app.session import ROLES_FOR, require_role, t
from workbench.runs import review
from workbench.runs.release import release_run, withdraw

user = require_role(*ROLES_FOR["review"])
st.title(t("nav.review"))
runs = data.runs()


def act(action, run_id: str, text_key: str) -> None:
    # Read the comment when the button fires: arguments bound at render time would
    # hold the text as it was before the user typed.
    try:
        state = action(data.lake(), run_id, user, st.session_state.get(text_key, ""))
        st.session_state["review_message"] = t("review.done", run=run_id, state=state_label(state))
        st.session_state["review_error"] = None
    except (review.ReviewError, ValueError) as exc:
        st.session_state["review_error"] = t("review.refused", error=exc)


if st.session_state.get("review_error"):
    st.error(st.session_state["review_error"])
elif st.session_state.get("review_message"):
    st.success(st.session_state["review_message"])

st.subheader(t("review.queue"))
waiting = runs[runs["state"] == "submitted"] if not runs.empty else runs
if waiting.empty:
    st.info(t("review.empty"))
else:
    run_id = st.selectbox(t("runs.pick"), waiting["run_id"].tolist(), format_func=lambda r: run_label(runs, r),
                          key="review_pick")
    show_run(run_id, "review_detail")
    st.text_area(t("runs.comment"), key="review_comment")
    ok_col, no_col = st.columns(2)
    ok_col.button(t("review.approve"), key="review_approve", type="primary", on_click=act,
                  args=(review.approve, run_id, "review_comment"))
    no_col.button(t("review.reject"), key="review_reject", on_click=act,
                  args=(review.reject, run_id, "review_comment"))

st.subheader(t("review.approved"))
approved = runs[runs["state"] == "approved"] if not runs.empty else runs
if not approved.empty:
    run_id = st.selectbox(t("runs.pick"), approved["run_id"].tolist(), format_func=lambda r: run_label(runs, r),
                          key="release_pick")
    outputs = sorted(data.run(run_id)[0].outputs)
    st.text_input(t("review.series"), value=(runs.set_index("run_id").loc[run_id, "series"] or ""),
                  key="release_series")
    st.selectbox(t("review.output"), outputs, key="release_output")
    if st.checkbox(t("review.use_embargo"), key="release_use_embargo"):
        st.date_input(t("review.embargo_date"), value=date.today(), key="release_embargo_date")
        st.time_input(t("review.embargo_time"), value=time(9, 30), key="release_embargo_time")

    def do_release() -> None:
        state = st.session_state  # the values as the user left them when the button fired
        embargo = datetime.combine(state["release_embargo_date"], state["release_embargo_time"],
                                   tzinfo=timezone.utc) if state.get("release_use_embargo") else None
        try:
            rel = release_run(data.lake(), run_id, user, state["release_series"], output=state["release_output"],
                              embargo_until=embargo)
            state["review_message"] = t("review.released", series=rel.series, vintage=rel.vintage)
            state["review_error"] = None
        except (review.ReviewError, ValueError) as exc:
            state["review_error"] = t("review.refused", error=exc)

    st.button(t("review.release"), key="release_submit", type="primary", on_click=do_release)

st.subheader(t("review.vintages"))
released = data.releases()
widgets.table(released, "review_vintages")
live = released[~released["withdrawn"]] if not released.empty else released
if not live.empty:
    run_id = st.selectbox(t("review.withdraw"), sorted(live["run_id"].unique()), key="withdraw_pick")
    st.text_input(t("review.withdraw_reason"), key="withdraw_reason")
    st.button(t("review.withdraw"), key="withdraw_submit", on_click=act, args=(withdraw, run_id, "withdraw_reason"))
