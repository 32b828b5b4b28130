"""Fraud screening: respondents ranked by fraud score, their series across sources, confirm or clear."""

import altair as alt
import pandas as pd
import streamlit as st

from workbench import formatting
from workbench.app import data, widgets
from workbench.app.quality_views import Said, outcome
from workbench.app.run_views import Refusal
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.quality import store

user = require_role(*ROLES_FOR["fraud"])
st.title(t("nav.fraud"))
st.caption(t("fraud.explain"))

queue = data.fraud_queue()
if queue.empty:
    st.info(t("fraud.none"))
    st.stop()

outcome("fraud")

shows = {t(f"fraud.show.{v}"): v for v in ("open", "all", "confirmed", "cleared")}
show = shows[st.radio(t("fraud.show"), list(shows), horizontal=True, key="fraud_show")]
shown = queue
if show == "open":
    shown = queue[queue["decision"].isna()]
elif show in ("confirmed", "cleared"):
    shown = queue[queue["decision"] == show]
language = lang()  # bound now: format_func may be called outside this script run
names = data.enterprise_names()
shown = shown.assign(name=shown["credit_code"].map(lambda c: names.get(c, "")),
                     peak_period=shown["peak_period"].map(lambda p: formatting.format_month(p, language)),
                     decision=shown["decision"].map(lambda d: t(f"fraud.show.{d}") if isinstance(d, str) else ""))
columns = ["rank", "name", "credit_code", "peak_score", "peak_period", "latest_score", "months_reported",
           "months_gap_flagged", "hb_upward_months", "survey_to_vat", "decision"]
widgets.table(shown[[c for c in columns if c in shown.columns]], "fraud_queue", column_config={
    "rank": t("fraud.rank"), "name": t("fraud.name"), "credit_code": t("fraud.credit_code"),
    "peak_score": st.column_config.NumberColumn(t("fraud.peak_score"), format="%.1f"),
    "peak_period": t("fraud.peak_period"),
    "latest_score": st.column_config.NumberColumn(t("fraud.latest_score"), format="%.1f"),
    "months_reported": t("fraud.months_reported"), "months_gap_flagged": t("fraud.months_flagged"),
    "hb_upward_months": t("fraud.hb_months"),
    "survey_to_vat": st.column_config.NumberColumn(t("fraud.survey_to_vat"), format="%.2f"),
    "decision": t("fraud.decision"),
})
if shown.empty:
    st.stop()

ranks = queue.set_index("credit_code")["rank"]
code = widgets.selectbox(st, t("fraud.pick"), shown["credit_code"].tolist(), key="fraud_pick",
                    format_func=lambda c: f"#{int(ranks.loc[c])} {names.get(c, '')} {c}".replace("  ", " "))
series = data.respondent_series(code)
if not series.empty:
    st.subheader(t("fraud.evidence_of", name=names.get(code, code)))
    s = series.assign(period=pd.to_datetime(series["period"]))
    money_var = formatting.registry().column("revenue")
    s = s.assign(value=s["value"] * money_var.scale, vat_sales=s["vat_sales"] * money_var.scale)
    month = alt.Axis(format=formatting.MONTH_FORMAT[language])
    money = s.melt(id_vars=["period"], value_vars=["value", "vat_sales"], var_name="source", value_name="money")
    money["source"] = money["source"].map({"value": t("fraud.src.survey"), "vat_sales": t("fraud.src.vat")})
    heads = s.melt(id_vars=["period"], value_vars=["employment", "si_headcount"], var_name="source",
                   value_name="persons")
    heads["source"] = heads["source"].map({"employment": t("fraud.src.employment"),
                                           "si_headcount": t("fraud.src.si")})
    tip = [alt.Tooltip("source:N", title=t("col.source")),
           alt.Tooltip("period:T", format=formatting.MONTH_FORMAT[language], title=t("col.month"))]
    base = alt.Chart(money).mark_line(point=True).encode(
        x=alt.X("period:T", title=None, axis=month),
        y=alt.Y("money:Q", title=money_var.shown_unit.label(language), axis=alt.Axis(format=",.1f")),
        color=alt.Color("source:N", title=t("col.source")),
        tooltip=tip + [alt.Tooltip("money:Q", format=",.1f", title=money_var.shown_unit.label(language))])
    people = alt.Chart(heads).mark_line(point=True).encode(
        x=alt.X("period:T", title=None, axis=month), y=alt.Y("persons:Q", title=t("fraud.persons")),
        color=alt.Color("source:N", title=t("col.source")),
        tooltip=tip + [alt.Tooltip("persons:Q", format=",", title=t("fraud.persons"))])
    score = alt.Chart(s).mark_area(opacity=0.4).encode(
        x=alt.X("period:T", title=None, axis=month),
        y=alt.Y("fraud_score:Q", title=t("fraud.score"), scale=alt.Scale(domain=[0, 100]),
                axis=alt.Axis(format=",.0f")))
    with st.container(key="fraud_chart"):
        widgets.chart(alt.vconcat(base.properties(height=220), people.properties(height=140),
                                  score.properties(height=100)).resolve_scale(color="independent"))

comment = st.text_area(t("fraud.comment"), key="fraud_comment")


def decide(decision: str) -> None:
    try:
        store.decide(data.lake(), code, decision, user, comment)
        st.session_state["fraud_message"] = Said.of("fraud.decided", code=f"{names.get(code, '')} {code}".strip(),
                                                    decision=Said(f"fraud.show.{decision}"))
        st.session_state["fraud_error"] = None
    except store.QualityError as exc:
        st.session_state["fraud_error"] = Refusal.of(exc, "quality.rule")


ok_col, no_col = st.columns(2)
ok_col.button(t("fraud.confirm"), key="fraud_confirm", type="primary", on_click=decide, args=("confirmed",))
no_col.button(t("fraud.clear"), key="fraud_clear", on_click=decide, args=("cleared",))
