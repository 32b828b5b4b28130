"""Review queue (supervisors): approve or reject submitted runs; release approved ones; withdraw.

A button only records what was asked, with the run and the values of that moment
(a ``ReviewAction``); the page body carries it out at its top, inside a status box,
so a release (about ten seconds) shows that it is working, and every list drawn
below is read after the action, so it already shows the outcome.
"""

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import streamlit as st

from workbench.app import data, widgets
from workbench.app.quality_views import Said
from workbench.app.run_views import (
    Refusal,
    ReviewAction,
    bound,
    embargo_instant,
    identical_runs,
    local_times,
    output_label,
    publication_preview,
    refuse_link,
    run_label,
    show_identical,
    show_run,
)
from workbench.app.session import ROLES_FOR, lang, linked_run, require_role, t
from workbench.disclosure.gate import DisclosureError, releasable
from workbench.runs import review
from workbench.runs.kinds import publishable_outputs
from workbench.runs.release import release_run, withdraw

user = require_role(*ROLES_FOR["review"])
zone = data.settings().lake.local_timezone
st.title(t("nav.review"))

PENDING, OUTCOME = "review_pending", "review_outcome"
PREVIEW_ROWS = 8  # of the table being released, shown before confirming
VERBS = {"approve": review.approve, "reject": review.reject, "withdraw": withdraw}


def ask(verb: str, pick_key: str, text_key: str = "") -> None:
    """Button callback: note the action on the run picked *now* (not when the page was drawn)."""
    state = st.session_state
    action = ReviewAction(verb=verb, run_id=state[pick_key], comment=state.get(text_key, "") if text_key else "")
    if verb == "release":
        embargo = embargo_instant(state["release_embargo_date"], state["release_embargo_time"], zone) \
            if state.get("release_use_embargo") else None
        # The release day is the city's calendar day (an embargo at 07:00 in G City is
        # 23:00 UTC the day before).
        public_from = (embargo or datetime.now(timezone.utc)).astimezone(ZoneInfo(zone)).date()
        action = ReviewAction(verb=verb, run_id=state[pick_key], series=state.get("release_series", ""),
                              output=state.get("release_output", ""), embargo_until=embargo,
                              release_date=public_from)
    state[PENDING] = action


def carry_out(action: ReviewAction) -> None:
    # The outcome is kept as what to say (a catalogued message, a refusal), not as text, so a
    # reader who switches language afterwards reads it in the new one.
    label = t(f"review.working.{action.verb}", run=action.run_id, series=action.series)
    with st.status(label, expanded=False) as box:
        try:
            if action.verb == "release":
                rel = release_run(data.lake(), action.run_id, user, action.series, output=action.output,
                                  embargo_until=action.embargo_until, release_date=action.release_date)
                said = Said.of("review.released", series=rel.series, vintage=rel.vintage)
            else:
                after = VERBS[action.verb](data.lake(), action.run_id, user, action.comment)
                said = Said.of("review.done", run=action.run_id, state=Said.of(f"state.{after}"))
            st.session_state[OUTCOME] = ("success", said)
            box.update(label=said.text(lang()), state="complete")
            # the comment belonged to that run: the next run in the queue starts with an empty one
            # (set, not dropped: a value set through the Session State API reaches the browser's box)
            for key in ("review_comment", "withdraw_reason"):
                st.session_state[key] = ""
        except (review.ReviewError, ValueError) as exc:  # a refused transition, a disclosure refusal
            refusal = Refusal.of(exc)
            st.session_state[OUTCOME] = ("error", refusal)
            box.update(label=refusal.text(lang()), state="error")


if st.session_state.get(PENDING) is not None:
    carry_out(st.session_state.pop(PENDING))
outcome = st.session_state.get(OUTCOME)
if outcome:
    if outcome[0] == "success":
        st.success(outcome[1].text(lang()))
    else:
        outcome[1].show(lang())

runs = data.runs(user)
refuse_link(runs)
series_of = runs.set_index("run_id")["series"].fillna("") if not runs.empty else {}

st.subheader(t("review.queue"))
waiting = runs[runs["state"] == "submitted"] if not runs.empty else runs
if waiting.empty:
    st.info(t("review.empty"))
else:
    linked_run("review_pick", waiting["run_id"].tolist())
    run_id = widgets.selectbox(st, t("runs.pick"), waiting["run_id"].tolist(), format_func=lambda r, lg=lang(): run_label(runs, r, lg),
                          key="review_pick")
    picked = runs.set_index("run_id").loc[run_id]
    # a copy of a run already in the queue or approved: the same numbers, reviewed twice
    show_identical(identical_runs(runs, picked["kind"], picked["params"], picked["inputs"], besides=run_id),
                   "review_queue")
    show_run(run_id, "review_detail", user)
    st.text_area(t("runs.comment"), key="review_comment")
    ok_col, no_col = st.columns(2)
    ok_col.button(t("review.approve"), key="review_approve", type="primary", on_click=ask,
                  args=("approve", "review_pick", "review_comment"))
    no_col.button(t("review.reject"), key="review_reject", on_click=ask,
                  args=("reject", "review_pick", "review_comment"))

st.subheader(t("review.approved"))
approved = runs[runs["state"] == "approved"] if not runs.empty else runs
if not approved.empty:
    linked_run("release_pick", approved["run_id"].tolist())
    run_id = widgets.selectbox(st, t("runs.pick"), approved["run_id"].tolist(), format_func=lambda r, lg=lang(): run_label(runs, r, lg),
                          key="release_pick")
    run = data.run(run_id, user)[0]
    offered = publishable_outputs(run.kind, run.outputs)
    if st.session_state.get("release_form_for") != run_id:
        # The form is the picked run's: its own series name and its publishable output, never
        # what the previous run (released a moment ago, or picked before) left in the boxes.
        st.session_state["release_form_for"] = run_id
        st.session_state["release_series"] = series_of.get(run_id, "")
        st.session_state["release_output"] = offered[0] if offered else None
    st.text_input(t("review.series"), key="release_series")
    # only what the kind publishes, never a diagnostic (a seasonal run's coefficients)
    output = widgets.selectbox(st, t("review.output"), offered, format_func=bound(output_label), key="release_output")
    refusal = None if releasable(run.kind) else Refusal.of(DisclosureError(
        f"run kind {run.kind!r} has no release rule", "kind_not_releasable", kind=run.kind, run=run_id))
    if refusal is not None:
        refusal.show(lang())
    elif output:
        preview, period, unit = publication_preview(data.run_output(run_id, output, user), run.params, lang())
        with st.container(key="release_preview"):  # found by the tests
            st.caption(t("review.publishes", output=output_label(output, lang()), period=period, unit=unit,
                         n=min(len(preview), PREVIEW_ROWS)))
            widgets.table(preview.head(PREVIEW_ROWS), "release_preview_rows")
    if st.checkbox(t("review.use_embargo"), key="release_use_embargo"):
        day_col, time_col = st.columns(2)
        day_col.date_input(t("review.embargo_date_local", tz=zone), value=datetime.now(ZoneInfo(zone)).date(),
                           key="release_embargo_date")
        time_col.time_input(t("review.embargo_time_local", tz=zone), value=time(9, 30), key="release_embargo_time")
        instant = embargo_instant(st.session_state["release_embargo_date"], st.session_state["release_embargo_time"],
                                  zone)
        st.caption(t("review.embargo_preview", local=instant.astimezone(ZoneInfo(zone))
                     .strftime("%Y-%m-%d %H:%M"), tz=zone, utc=instant.strftime("%Y-%m-%d %H:%M")))
    st.button(t("review.release"), key="release_submit", type="primary", on_click=ask,
              args=("release", "release_pick"), icon=":material/publish:", disabled=refusal is not None or not output)

st.subheader(t("review.vintages"))
released = data.releases()
widgets.table(local_times(released, ["embargo_until"], zone), "review_vintages", column_config={
    **{c: t(f"review.col.{c}") for c in ("series", "vintage", "run_id", "release_date", "released_by", "rows")},
    "withdrawn": st.column_config.CheckboxColumn(t("review.col.withdrawn")),
    "embargo_until": st.column_config.DatetimeColumn(t("review.embargo_column", tz=zone), format="YYYY-MM-DD HH:mm")})
live = released[~released["withdrawn"]] if not released.empty else released
if not live.empty:
    linked_run("withdraw_pick", sorted(live["run_id"].unique()))
    widgets.selectbox(st, t("review.withdraw"), sorted(live["run_id"].unique()), format_func=lambda r, lg=lang(): run_label(runs, r, lg),
                 key="withdraw_pick")
    st.text_input(t("review.withdraw_reason"), key="withdraw_reason")
    st.button(t("review.withdraw"), key="withdraw_submit", on_click=ask,
              args=("withdraw", "withdraw_pick", "withdraw_reason"))
