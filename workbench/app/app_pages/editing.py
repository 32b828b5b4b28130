"""Editing: impute the survey panel, edit or impute single cells with a reason; the change log."""

import pandas as pd
import streamlit as st

from workbench.app import data, widgets
from workbench.app.quality_views import Coded, Said, outcome, progress_bar
from workbench.app.run_views import Refusal
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.formatting import code_text, format_month, format_value, registry
from workbench.i18n import MESSAGES
from workbench.quality import store
from workbench.quality.rules import RuleError

user = require_role(*ROLES_FOR["editing"])
st.title(t("nav.editing"))
st.caption(t("editing.explain"))


def build() -> None:
    bar, progress = progress_bar(t("editing.building"))
    try:
        run = store.build_panel(data.lake(), user, progress=progress)
        st.session_state["editing_message"] = Said.of("editing.built", version=run.outputs[store.PANEL],
                                                      seconds=run.seconds)
        st.session_state["editing_error"] = None
    except (RuleError, store.QualityError) as exc:
        st.session_state["editing_error"] = Refusal.of(exc, "quality.rule")
    bar.empty()


if st.button(t("editing.build"), key="editing_build", icon=":material/auto_fix_high:"):
    build()
outcome("editing")

cells = data.panel_cells()
if cells.empty:
    st.info(t("editing.none"))
    st.stop()

st.subheader(t("editing.cells"))
language = lang()
# the panel's codes by their names (conf/catalog.toml [codelists.*]); English shows the codes
CODES = {"response": "survey_response", "revenue_flag": "imputation_flag", "employment_flag": "imputation_flag",
         "revenue_method": "imputation_method", "employment_method": "imputation_method",
         "method": "imputation_method", "reason": "edit_reason"}


def with_unit(label: str, variable: str, language: str) -> str:
    """*label* with the shown unit of the registry's *variable*: ``上报营业收入（万元）``."""
    unit = registry().column(variable).shown_unit.label(language)
    return (f"{label}（{unit}）" if language == "zh" else f"{label} ({unit})") if unit else label


def named(df: pd.DataFrame) -> pd.DataFrame:
    """*df* with its code columns (CODES) shown by name in the UI language."""
    return df.assign(**{c: df[c].map(lambda v, d=d: code_text(d, v, language) or None)
                        for c, d in CODES.items() if c in df.columns})


shown = ["credit_code", "period", "response", "revenue_reported", "revenue", "revenue_flag", "revenue_method",
         "employment_reported", "employment", "employment_flag", "employment_method", "vat_sales", "si_headcount"]
# values in their unit and precision (revenue and VAT sales in 万元, headcounts in persons), months
# with their year; a reported value is measured in its variable's unit, under its own heading
reported = {"revenue_reported": "revenue", "employment_reported": "employment"}
widgets.formatted_table(named(cells[[c for c in shown if c in cells.columns]]), "editing_cells",
                        variables={**reported, "period": "period"}, labels={
    "credit_code": t("fraud.credit_code"), "response": t("editing.response"),
    **{c: with_unit(t(f"editing.{c}"), v, language) for c, v in reported.items()},
    "revenue_flag": t("editing.flag"), "revenue_method": t("editing.method"),
    "employment_flag": t("editing.flag"), "employment_method": t("editing.method"),
})

st.subheader(t("editing.change"))
names = data.enterprise_names()  # the enterprise by its name, the month by its name, as on Fraud
labels = [f"{names.get(r.credit_code, '')} {r.credit_code} · {format_month(r.period, language)}".strip()
          for r in cells.itertuples()]
pick = widgets.selectbox(st, t("editing.cell"), range(len(labels)), format_func=lambda i: labels[i], key="editing_pick")
row = cells.iloc[int(pick)]
# the columns as options, named in the UI language (bound now: format_func may run outside the session)
column_names = {c: t(f"editing.{c}") for c in store.EDIT_COLUMNS}
column = st.radio(t("editing.column"), list(store.EDIT_COLUMNS), horizontal=True, key="editing_column",
                  format_func=column_names.get)
current = row[column]
st.caption(t("editing.current", value=format_value(current, column, language),
             flag=code_text("imputation_flag", row[f"{column}_flag"], language),
             method=code_text("imputation_method", row[f"{column}_method"], language) or "—"))
# typed in the unit the value is shown in (万元 for money, persons for headcounts): the box and the
# current value above must not differ by a factor of 10,000; stored in the panel's own unit
variable = registry().column(column)
scale = variable.scale if variable is not None else 1.0
shown_value = st.number_input(t("editing.new_value", unit=variable.shown_unit.label(language) if variable else ""),
                              min_value=0.0, value=round(float(current) * scale, variable.places if variable else 2)
                              if pd.notna(current) else 0.0, step=1.0, format=f"%.{variable.places if variable else 2}f",
                              key=f"editing_value_{column}")
value = shown_value / scale
reason = st.text_input(t("editing.reason"), key="editing_reason")


def apply(kind: str) -> None:
    try:
        if kind == "edit":
            store.edit_cell(data.lake(), row["credit_code"], row["period"], column, value, reason, user)
            st.session_state["editing_message"] = Said.of("editing.saved", column=Said(f"editing.{column}"))
        else:
            new, method, _ = store.impute_cell(data.lake(), row["credit_code"], row["period"], column, user, reason)
            st.session_state["editing_message"] = Said.of("editing.imputed", value=format_value(new, column, language),
                                                          method=Coded("imputation_method", method))
        st.session_state["editing_error"] = None
    except (RuleError, store.QualityError) as exc:
        st.session_state["editing_error"] = Refusal.of(exc, "quality.rule")


edit_col, impute_col = st.columns(2)
edit_col.button(t("editing.save"), key="editing_save", type="primary", on_click=apply, args=("edit",))
impute_col.button(t("editing.impute"), key="editing_impute", on_click=apply, args=("impute",))

st.subheader(t("editing.log"))
manual_only = st.toggle(t("editing.manual_only"), value=True, key="editing_manual_only")
log = data.edits(manual_only)
if not log.empty:
    # as the cells above show them: each value in its field's shown unit (revenue in 万元, not
    # yuan), the month by its name (not its first day), the edited field by its name
    log = named(log).assign(
        before=[format_value(v, c, language) for v, c in zip(log["before"], log["column"])],
        after=[format_value(v, c, language) for v, c in zip(log["after"], log["column"])],
        period=log["period"].map(lambda p: format_month(p, language)),
        column=log["column"].map(lambda c: t(f"editing.{c}") if f"editing.{c}" in MESSAGES else c))
widgets.table(log, "editing_log", column_config={
    **{c: registry().column(c).label(language) for c in ("edit_id", "batch_id") if c in log.columns},
    "credit_code": t("fraud.credit_code"), "period": t("col.month"), "column": t("editing.column"),
    "before": t("editing.before"), "after": t("editing.after"), "method": t("editing.method"),
    "reason": t("editing.reason_col"), "user": t("col.who"), "edited_at": t("col.time")})
