"""Quality: run a table's validation rules; pass rates by table and period; drill down to failures."""

import altair as alt
import pandas as pd
import streamlit as st

from workbench import catalog, formatting
from workbench.app import data, widgets
from workbench.app.quality_views import Said, outcome, progress_bar
from workbench.app.run_views import Refusal
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.quality import store
from workbench.quality.rules import RuleError, all_rule_sets

user = require_role(*ROLES_FOR["quality"])
st.title(t("nav.quality"))

try:
    rule_sets = all_rule_sets()
except RuleError as exc:  # a broken rule file must be visible, not crash the page
    widgets.failure(t("quality.rules_error"), exc)
    st.stop()


def run_rules(table: str) -> None:
    bar, progress = progress_bar(t("quality.running"))
    try:
        runs = store.run_all(data.lake(), user, progress=progress) if table == "all" else \
            [store.run_rules(data.lake(), table, user, progress=progress)]
        st.session_state["quality_message"] = Said.of("quality.ran", tables=len(runs),
                                                      seconds=sum(r.seconds for r in runs))
        st.session_state["quality_error"] = None
    except (RuleError, store.QualityError) as exc:
        st.session_state["quality_error"] = Refusal.of(exc, "quality.rule")
    bar.empty()


# Options are the labels themselves: a format_func reading the session's language would not
# survive AppTest (it calls format_func outside the script run).
choices = {t("quality.all_tables"): "all", **{name: name for name in rule_sets}}
pick_col, run_col = st.columns([3, 1], vertical_alignment="bottom")
to_run = widgets.selectbox(pick_col, t("quality.run_table"), list(choices), key="quality_run_table")
if run_col.button(t("quality.run"), key="quality_run", type="primary", icon=":material/rule:"):
    run_rules(choices[to_run])
outcome("quality")

summary = data.quality_summary()
if summary.empty:
    st.info(t("quality.none"))
    st.stop()

# Pass rate by table and period: passed / (passed + failed); na is not assessed.
by_table = summary.groupby(["table_name", "period"], dropna=False)[["passed", "failed", "missing"]].sum().reset_index()
by_table["pass_rate"] = by_table["passed"] / (by_table["passed"] + by_table["failed"]).where(lambda s: s > 0)
st.subheader(t("quality.pass_rates"))
language = lang()  # bound now: format_func may be called outside this script run
dated = by_table.dropna(subset=["period"]).assign(period=lambda d: pd.to_datetime(d["period"]))
if not dated.empty:
    dated = dated.assign(table_title=dated["table_name"].map(lambda n: catalog.entry(n).title(language)))
    month = formatting.MONTH_FORMAT[language]
    # An honest axis: pass rates from 0 to 100 % (rates of 99.95-100 % on a zoomed axis made
    # noise look like a collapse); the failures themselves are counted below on their own axis.
    rates = alt.Chart(dated).mark_line(point=False).encode(
        x=alt.X("period:T", title=None, axis=alt.Axis(format=month)),
        y=alt.Y("pass_rate:Q", title=t("quality.pass_rate"), scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        color=alt.Color("table_title:N", title=t("common.table"), legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("table_title:N", title=t("common.table")),
                 alt.Tooltip("period:T", format=month, title=t("col.month")),
                 alt.Tooltip("pass_rate:Q", format=".2%", title=t("quality.pass_rate")),
                 alt.Tooltip("failed:Q", format=",", title=t("quality.failed")),
                 alt.Tooltip("missing:Q", format=",", title=t("quality.missing"))],
    ).properties(height=200)
    failures = alt.Chart(dated).mark_bar().encode(
        x=alt.X("period:T", title=None, axis=alt.Axis(format=month)),
        y=alt.Y("failed:Q", title=t("quality.failed_records"), stack=True),
        color=alt.Color("table_title:N", title=t("common.table")),
        tooltip=[alt.Tooltip("table_title:N", title=t("common.table")),
                 alt.Tooltip("period:T", format=month, title=t("col.month")),
                 alt.Tooltip("failed:Q", format=",", title=t("quality.failed"))],
    ).properties(height=160)
    with st.container(key="quality_chart"):
        widgets.chart(alt.vconcat(rates, failures).resolve_scale(color="shared"))
undated = by_table[by_table["period"].isna()]
if not undated.empty:
    widgets.table(undated.assign(table_name=undated["table_name"].map(lambda n: catalog.entry(n).title(language)))[
        ["table_name", "passed", "failed", "missing", "pass_rate"]], "quality_undated",
                  column_config={"table_name": t("common.table"),
                                 "passed": st.column_config.NumberColumn(t("quality.passed"), format="%,d"),
                                 "failed": st.column_config.NumberColumn(t("quality.failed"), format="%,d"),
                                 "missing": st.column_config.NumberColumn(t("quality.missing"), format="%,d"),
                                 "pass_rate": st.column_config.NumberColumn(t("quality.pass_rate"), format="percent")})

st.subheader(t("quality.report"))
table = widgets.selectbox(st, t("common.table"), sorted(summary["table_name"].unique()), key="quality_table",
                     format_func=lambda n: f"{catalog.entry(n).title(language)}（{n}）" if language == "zh"
                     else f"{catalog.entry(n).title(language)} ({n})")
rules = rule_sets.get(table)
per_rule = (summary[summary["table_name"] == table].groupby(["rule_id", "severity"])
            [["evaluated", "passed", "failed", "missing"]].sum().reset_index())
per_rule["pass_rate"] = per_rule["passed"] / (per_rule["passed"] + per_rule["failed"]).where(lambda s: s > 0)
if rules is not None:
    described = {r.id: (r.type, r.description(lang())) for r in rules.rules}
    per_rule.insert(1, "type", per_rule["rule_id"].map(lambda r: t(f"quality.type.{described.get(r, ('', ''))[0]}")
                                                       if described.get(r) else ""))
    per_rule.insert(2, "description", per_rule["rule_id"].map(lambda r: described.get(r, ("", ""))[1]))
per_rule["severity"] = per_rule["severity"].map(lambda v: t(f"quality.severity.{v}") if v in ("error", "warning") else v)
widgets.table(per_rule, "quality_rules", column_config={
    "rule_id": t("quality.rule"), "type": t("quality.type"), "description": t("col.description"),
    "severity": t("quality.severity"),
    "evaluated": st.column_config.NumberColumn(t("quality.evaluated"), format="%,d"),
    "passed": st.column_config.NumberColumn(t("quality.passed"), format="%,d"),
    "failed": st.column_config.NumberColumn(t("quality.failed"), format="%,d"),
    "missing": st.column_config.NumberColumn(t("quality.missing"), format="%,d"),
    "pass_rate": st.column_config.NumberColumn(t("quality.pass_rate"), format="percent"),
})

st.subheader(t("quality.drill"))
rule_col, period_col = st.columns(2)
failing_rules = per_rule.loc[per_rule["failed"] > 0, "rule_id"].tolist()
if not failing_rules:
    st.info(t("quality.no_failures"))
    st.stop()
rule_id = widgets.selectbox(rule_col, t("quality.rule"), failing_rules, key="quality_drill_rule")
periods = summary[(summary["table_name"] == table) & (summary["rule_id"] == rule_id) & (summary["failed"] > 0)]
period_options = {t("quality.all_periods"): None,
                  **{formatting.format_month(p, language): p for p in sorted(periods["period"].dropna().unique())}}
period = widgets.selectbox(period_col, t("col.month"), list(period_options), key="quality_drill_period")
rows = data.failing_records(table, rule_id, period_options[period])
rows = rows.assign(**{c: rows[c].map(lambda p: formatting.format_month(p, language)) for c in ("period",)
                      if c in rows.columns},
                   **{c: rows[c].map(lambda v: t(f"quality.severity.{v}") if v in ("error", "warning") else v)
                      for c in ("severity",) if c in rows.columns},
                   # the values the rule looked at, by name and in their unit
                   **{c: rows[c].map(lambda v: formatting.detail_text(v, language)) for c in ("detail",)
                      if c in rows.columns})
st.caption(t("catalog.shown", n=f"{len(rows):,}"))
widgets.table(rows, "quality_failures", column_config={
    "rule_id": t("quality.rule"), "severity": t("quality.severity"), "record_key": t("quality.record"),
    "period": t("col.month"), "detail": t("quality.detail")})
