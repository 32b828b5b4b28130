"""Seasonal adjustment: a published series or an indicator, X-13 spec, original/trend/adjusted chart,
M and Q statistics, diagnostics, months filled or the reason for a refusal; submit."""

import altair as alt
import pandas as pd
import streamlit as st

from workbench import formatting
from workbench.app import data, run_views, widgets
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.i18n import MESSAGES
from workbench.methods.seasonal import X13Spec
from workbench.methods.seasonal.assess import coefficient_mark, statistic_mark
from workbench.methods.seasonal.runs import INDICATORS, TARGETS

user = require_role(*ROLES_FOR["seasonal"])
st.title(t("nav.seasonal"))

frame = data.indicators_frame()
published = data.published_series_names()
indicator_names = [] if frame is None else sorted(frame["indicator"].unique())
if not published and not indicator_names:
    st.info(t("sa.unavailable"))
    st.stop()
# the published series first: they are what a statistician adjusts before any indicator
sources = [s for s, names in ((TARGETS, published), (INDICATORS, indicator_names)) if names]
# labels translated now, not in format_func: the options (table names) stay the same in every language
labels = {TARGETS: t("sa.source_published"), INDICATORS: t("sa.source_indicators")}
source = st.radio(t("sa.source"), sources, horizontal=True, key="sa_source", format_func=labels.get)
names = published if source == TARGETS else indicator_names
name_key = "sa_name_published" if source == TARGETS else "sa_name_indicators"  # one choice kept per source
c1, c2, c3 = st.columns(3)
# the series by name in the UI language (bound now: a format_func may run outside this script's session)
series_names = {n: (t(f"sa.published.{n}") if f"sa.published.{n}" in MESSAGES else n) if source == TARGETS
                else formatting.registry().indicator(n).label(lang()) for n in names}
widgets.selectbox(c1, t("sa.indicator"), names, key=name_key, format_func=series_names.get)
# labels translated now, as the sources' above: a format_func may run outside this script's session
transforms = {v: t(f"sa.transform_{v}") for v in ("auto", "log", "none")}
adjustments = {v: t(f"sa.adjustment_{v}") for v in ("x11", "seats")}
widgets.selectbox(c2, t("sa.transform"), list(transforms), key="sa_transform", format_func=transforms.get)
widgets.selectbox(c3, t("sa.adjustment"), list(adjustments), key="sa_adjustment", format_func=adjustments.get)
st.text_input(t("sa.arima"), "", key="sa_arima")
c1, c2, c3 = st.columns(3)
c1.checkbox(t("sa.spring_festival"), True, key="sa_sf")
c2.checkbox(t("sa.outlier"), True, key="sa_outlier")
c3.checkbox(t("sa.trading"), False, key="sa_trading")


def current_spec() -> dict:
    s = st.session_state
    return X13Spec(transform=s["sa_transform"], arima_model=s["sa_arima"].strip() or None,
                   aictest=("td",) if s["sa_trading"] else (), spring_festival=bool(s["sa_sf"]),
                   outlier=bool(s["sa_outlier"]), adjustment=s["sa_adjustment"]).as_dict()


name = st.session_state[name_key]
language = lang()


def known(prefix: str, value: object) -> str:
    """*value* (a statistic, an X-13 term) in the UI language when the catalogue names it, else itself."""
    key = f"{prefix}{value}"
    return t(key) if key in MESSAGES else str(value)


if source == TARGETS:
    title = t(f"sa.published.{name}") if f"sa.published.{name}" in MESSAGES else ""
    variable = formatting.Variable(name, decimals=2)
else:
    variable = formatting.registry().indicator(name)
    title = variable.heading(language)
if title:
    c1.caption(title)
with st.spinner(t("sa.running"), show_time=True):  # X-13 takes a few seconds per series and spec
    out, versions = data.seasonal(source, name, current_spec())
refusal = run_views.warning_parts(out["refusal"], language)[0] if out["refusal"] else ""
if refusal:
    st.error(t("sa.refused", reason=refusal))
if out["fallback_reason"]:  # X-13's own words, verbatim beneath
    st.warning(t("sa.fallback"))
    st.code(out["fallback_reason"], language=None, wrap_lines=True)
if out["filled"]:
    st.warning(t("sa.filled_x13" if out["method"] == "x13" else "sa.filled_stl", months=", ".join(out["filled"])))
if out["dropped"]:
    st.info(t("sa.dropped", months=", ".join(out["dropped"])))
unit = variable.shown_unit.label(language)
# A quarterly series (GDP) is indexed by each quarter's first month: it is shown by quarter
# (2026年第1季度), never as the months January and April.
starts = pd.to_datetime(out["series"]["month"])
quarterly = len(starts) > 1 and bool((starts.diff().dropna().dt.days > 80).all())
period = "quarter" if quarterly else "month"
period_format = (formatting.QUARTER_FORMAT if quarterly else formatting.MONTH_FORMAT)[language]
st.subheader(t("sa.chart"))
series = out["series"].melt(id_vars=["month"], value_vars=["original", "trend", "seasadj"], var_name="component")
series["component"] = series["component"].map(lambda c: t(f"sa.col.{c}"))
month_axis = alt.Axis(format=period_format)
with st.container(key="sa_chart"):
    widgets.chart(alt.Chart(series).mark_line().encode(
        x=alt.X("month:T", title=None, axis=month_axis),
        y=alt.Y("value:Q", title=series_names[name] + (("（" + unit + "）" if language == "zh" else f" ({unit})")
                                                     if unit else ""), scale=alt.Scale(zero=False)),
        color=alt.Color("component:N", title=None, sort=[t(f"sa.col.{c}") for c in ("original", "trend", "seasadj")]),
        tooltip=[alt.Tooltip("component:N", title=t("sa.col.statistic")),
                 alt.Tooltip("month:T", format=period_format, title=t(f"sa.col.{period}")),
                 alt.Tooltip("value:Q", format=",.2f", title=t("sa.col.value"))]))

# the adjusted series with its components and SI ratios: shown and taken away in the same form
st.subheader(t("sa.series_table"))
st.caption(t("sa.series_note"))
adjusted = out["series"][[c for c in ("month", "original", "trend", "seasadj", "seasonal", "si", "filled")
                          if c in out["series"].columns]]
if not out["filled"]:
    adjusted = adjusted.drop(columns=["filled"], errors="ignore")
if quarterly:
    adjusted = adjusted.assign(month=[str(pd.Period(d, "Q")) for d in starts]).rename(columns={"month": "quarter"})
ratio = formatting.Variable("ratio", decimals=4)  # factors and SI ratios: about 1 (or in the unit, additive)
series_variables = {period: period, "original": variable, "trend": variable, "seasadj": variable,
                    "filled": variable, "seasonal": ratio, "si": ratio}
unit = variable.shown_unit.label(language)
series_labels = {c: t(f"sa.col.{c}") + (("（" + unit + "）" if language == "zh" else f" ({unit})")
                                         if unit and c in ("original", "trend", "seasadj", "filled") else "")
                 for c in adjusted.columns}
widgets.formatted_table(adjusted, "sa_series", variables=series_variables, labels=series_labels)
widgets.downloads(adjusted, f"seasonal_{name}", "sa_series_download", variables=series_variables,
                  labels=series_labels, title=f"{t('nav.seasonal')} {name} {title}".strip())

stat_labels = {c: t(f"sa.col.{c}") for c in ("statistic", "value", "assessment", "meaning")}


def marked(table: pd.DataFrame) -> pd.DataFrame:
    """*table* of statistics with each one's mark (good, uncertain, bad) beside its value."""
    marks = [statistic_mark(s, v) for s, v in zip(table["statistic"], table["value"].astype(float))]
    return table.assign(assessment=[t(f"sa.mark.{m}") if m else "" for m in marks])



stat_variables = {"value": formatting.Variable("value", decimals=3)}
# a statistic's value has no unit (the catalogue's "value" column speaks of one)
stat_config = {"value": st.column_config.NumberColumn(stat_labels["value"], format="%,.3f")}
st.subheader(t("sa.quality"))
st.caption(t("sa.mark.rules"))
quality = marked(out["quality"][["statistic", "value"]]).assign(
    meaning=out["quality"]["statistic"].map(lambda k: known("sa.stat.", k)))
widgets.formatted_table(quality, "sa_quality", variables=stat_variables, labels=stat_labels,
                        column_config=stat_config)
st.subheader(t("sa.diagnostics"))
# the quality statistics (M1-M11, Q) are in the table above; the diagnostics table adds the rest
diagnostics = out["diagnostics"][~out["diagnostics"]["statistic"].isin(out["quality"]["statistic"])]
diagnostics = marked(diagnostics[["statistic", "value"]]).assign(meaning=diagnostics["statistic"].map(
    lambda k: t(f"sa.stat.{k}") if f"sa.stat.{k}" in MESSAGES else ""))
widgets.formatted_table(diagnostics, "sa_diagnostics", variables=stat_variables, labels=stat_labels,
                        column_config=stat_config)
rest = diagnostics[~diagnostics["statistic"].isin(quality["statistic"])]
widgets.downloads(pd.concat([quality, rest]) if len(rest) and len(quality) else (quality if len(quality) else rest),
                  f"seasonal_{name}_diagnostics", "sa_diagnostics_download", variables=stat_variables,
                  labels=stat_labels, title=f"{t('sa.diagnostics')} {name}")
st.subheader(t("sa.coefficients"))
coefficients = out["coefficients"].rename(columns={"estimate": "coefficient"})
# an ARIMA term at -1.00 or 1.00 sits on the unit circle: said beside it, not left to be noticed
coefficients = coefficients.assign(assessment=[
    t(f"sa.mark.boundary_{str(v)[:2].lower()}") if coefficient_mark(v, c) else ""
    for v, c in zip(coefficients["variable"], coefficients["coefficient"].astype(float))])
# X-13's groups and terms by name (MA-Nonseasonal-01 -> MA（非季节，滞后 1）), as on the Runs page
coefficients = coefficients.assign(**{c: coefficients[c].map(
    lambda v: run_views.code_word(v, language, "seasonal_adjustment")) for c in ("group", "variable")})
widgets.formatted_table(coefficients, "sa_coefficients",
                        variables={c: formatting.Variable(c, decimals=4) for c in ("coefficient", "se")},
                        labels={c: t(f"sa.col.{c}") for c in coefficients.columns})
with st.expander(t("sa.spec")):
    st.code(out["spec"]["spc"].iloc[0], language=None)


def seasonal_run() -> dict:
    # the versions the page showed, so the run records what the statistician saw
    param = "series" if source == TARGETS else "indicator"
    return {"kind": "seasonal_adjustment", "params": {param: name, "spec": current_spec()},
            "inputs": dict(versions), "title": f"Seasonal adjustment {name}", "series": f"sa_{name}"}


run_views.submit_for_review("sa", user, seasonal_run,
                           blocked=t("sa.refused", reason=refusal) if refusal else None)
