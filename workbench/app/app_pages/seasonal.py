"""Seasonal adjustment: X-13 spec, original/trend/adjusted chart, M and Q statistics, diagnostics; submit."""

import altair as alt
import streamlit as st

from workbench.app import data, run_views, widgets
from workbench.app.session import ROLES_FOR, require_role, t
from workbench.methods.seasonal import X13Spec

user = require_role(*ROLES_FOR["seasonal"])
st.title(t("nav.seasonal"))

frame = data.indicators_frame()
if frame is None or frame.empty:
    st.info(t("sa.unavailable"))
    st.stop()
names = sorted(frame["indicator"].unique())
c1, c2, c3 = st.columns(3)
c1.selectbox(t("sa.indicator"), names, key="sa_indicator")
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


out = data.seasonal(st.session_state["sa_indicator"], current_spec())
if "fallback_reason" in out["_metrics"]:
    st.warning(t("sa.fallback", reason=out["_metrics"]["fallback_reason"]))
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
    indicator = st.session_state["sa_indicator"]
    return {"kind": "seasonal_adjustment", "params": {"indicator": indicator, "spec": current_spec()},
            "inputs": ["gold.indicators_monthly"], "title": f"Seasonal adjustment {indicator}",
            "series": f"sa_{indicator}"}


run_views.submit_for_review("sa", user, seasonal_run)
