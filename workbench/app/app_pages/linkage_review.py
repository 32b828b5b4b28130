"""Clerical review of uncertain record-linkage pairs: side by side, accept or reject."""

import pandas as pd
import streamlit as st

from workbench import formatting
from workbench.app import data, widgets
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.linkage import review

user = require_role(*ROLES_FOR["linkage_review"])
st.title(t("nav.linkage_review"))
st.caption(t("linkage.intro"))

versions = data.table_versions()
if "silver.link_review_queue" not in versions:
    st.info(t("linkage.no_queue"))
    st.stop()
queue = data.preview(data.root(), "silver.link_review_queue", versions["silver.link_review_queue"])
decided = data.preview(data.root(), "silver.link_reviews", versions["silver.link_reviews"]) \
    if "silver.link_reviews" in versions else None
# decisions made in this session before the next read of the table, in the order they were made
session_done = pd.DataFrame(st.session_state.setdefault("linkage_decided", []),
                            columns=["source", "record_id", "credit_code", "decision"])
decided = session_done if decided is None else pd.concat(
    [decided.sort_values("decided_at", kind="stable")[session_done.columns], session_done], ignore_index=True)
sources = sorted(queue["source"].unique()) if len(queue) else []
language = lang()  # bound now: format_func may be called outside this script run
source = widgets.selectbox(st, t("linkage.source"), sources, key="linkage_source",
                      format_func=lambda s: formatting.source_title(s, language)) if sources else None
pairs = review.open_pairs(queue[queue["source"] == source] if source else queue, decided)
st.metric(t("linkage.open"), f"{len(pairs):,}")


def undo() -> None:
    last = st.session_state["linkage_decided"][-1]
    pair = queue[(queue["source"] == last["source"]) & (queue["record_id"] == last["record_id"])
                 & (queue["credit_code"] == last["credit_code"])]
    review.record_decisions(data.lake(), review.decision_rows(pair.iloc[[0]], review.UNDO, user.username))
    st.session_state["linkage_decided"].append({**last, "decision": review.UNDO})
    st.session_state["linkage_last"] = ("undone", last["record_id"])


# a decision taken by mistake: undone by a later decision, the record keeping both
mine = st.session_state["linkage_decided"]
if mine and mine[-1]["decision"] != review.UNDO:
    st.button(t("linkage.undo"), key="linkage_undo", icon=":material/undo:", on_click=undo, help=t("linkage.undo_help"))
if st.session_state.get("linkage_last", ("",))[0] == "undone":
    st.caption(t("linkage.undone", record_id=st.session_state["linkage_last"][1]))
if pairs.empty:
    st.success(t("linkage.all_done"))
    st.stop()

pair = pairs.iloc[0]
left, right = st.columns(2)
with left:
    st.subheader(t("linkage.record"))
    st.markdown(f"**{pair['record_name'] or ''}**")
    st.write(f"{t('linkage.address')}: {pair['record_address'] or '—'}")
    st.write(f"{t('linkage.area')}: {pair['record_area'] or '—'}")
    st.caption(f"{t('linkage.record_id')}: {pair['record_id']}")
with right:
    st.subheader(t("linkage.enterprise"))
    st.markdown(f"**{pair['register_name'] or ''}**")
    st.write(f"{t('linkage.address')}: {pair['register_address'] or '—'}")
    st.write(f"{t('linkage.industry')}: {formatting.industry_text(pair['register_industry'], lang())}")
    st.caption(f"{t('linkage.credit_code')}: {pair['credit_code']}")
st.write(t("linkage.weight", weight=float(pair["match_weight"]), threshold=float(pair["threshold_weight"]),
           probability=float(pair["match_probability"])))


def decide(decision: str) -> None:
    rows = review.decision_rows(pairs.iloc[[0]], decision, user.username)
    review.record_decisions(data.lake(), rows)
    st.session_state["linkage_decided"].append({"source": pair["source"], "record_id": pair["record_id"],
                                                "credit_code": pair["credit_code"], "decision": decision})
    st.session_state["linkage_last"] = (decision, pair["record_id"])


accept_col, reject_col = st.columns(2)
accept_col.button(t("linkage.accept"), key="linkage_accept", type="primary", icon=":material/check:",
                  on_click=decide, args=("accept",))
reject_col.button(t("linkage.reject"), key="linkage_reject", icon=":material/close:", on_click=decide,
                  args=("reject",))
if st.session_state.get("linkage_last", ("",))[0] in ("accept", "reject"):
    st.caption(t("linkage.saved"))
