"""Seasonal adjustment: a published series or an indicator, X-13 spec, original/trend/adjusted chart,
M and Q statistics, diagnostics, months filled or the reason for a refusal; submit."""

import altair as alt
import streamlit as st

from workbench.app import data, run_views, widgets
from workbench.app.session import ROLES_FOR, require_role, t
from workbench.methods.seasonal import X13Spec
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
c1.selectbox(t("sa.indicator"), names, key=name_key)
c2.selectbox(t("sa.transform"), ["auto", "log", "none"], key="sa_transform")
c3.selectbox(t("sa.adjustment"), ["x11", "seats"], key="sa_adjustment")
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
out, versions = data.seasonal(source, name, current_spec())
if out["refusal"]:
    st.error(t("sa.refused", reason=out["refusal"]))
if out["fallback_reason"]:
    st.warning(t("sa.fallback", reason=out["fallback_reason"]))
if out["filled"]:
    st.warning(t("sa.filled_x13" if out["method"] == "x13" else "sa.filled_stl", months=", ".join(out["filled"])))
if out["dropped"]:
    st.info(t("sa.dropped", months=", ".join(out["dropped"])))
st.subheader(t("sa.chart"))
series = out["series"].melt(id_vars=["month"], value_vars=["original", "trend", "seasadj"], var_name="component")
with st.container(key="sa_chart"):
    st.altair_chart(alt.Chart(series).mark_line().encode(x=alt.X("month:T", title=None),
                                                        y=alt.Y("value:Q", title=None), color="component:N"),
                    use_container_width=True)
st.subheader(t("sa.quality"))
widgets.table(out["quality"], "sa_quality")
st.subheader(t("sa.diagnostics"))
widgets.table(out["diagnostics"], "sa_diagnostics")
st.subheader(t("sa.coefficients"))
widgets.table(out["coefficients"], "sa_coefficients")
with st.expander(t("sa.spec")):
    st.code(out["spec"]["spc"].iloc[0], language=None)


def seasonal_run() -> dict:
    # the versions the page showed, so the run records what the statistician saw
    param = "series" if source == TARGETS else "indicator"
    return {"kind": "seasonal_adjustment", "params": {param: name, "spec": current_spec()},
            "inputs": dict(versions), "title": f"Seasonal adjustment {name}", "series": f"sa_{name}"}


run_views.submit_for_review("sa", user, seasonal_run,
                           blocked=t("sa.refused", reason=out["refusal"]) if out["refusal"] else None)
