"""Small areas: township direct vs Fay-Herriot or Battese-Harter-Fuller estimates with intervals, shrinkage,
benchmarking; submit."""

import altair as alt
import streamlit as st

from workbench.app import data, run_views, widgets
from workbench.app.session import ROLES_FOR, require_role, t
from workbench.methods.estimate.survey import SAE_COVARIATES

user = require_role(*ROLES_FOR["small_areas"])
st.title(t("nav.small_areas"))

versions = data.estimate_versions()
periods = data.estimate_periods() if versions else []
if not versions or not periods:
    st.info(t("est.unavailable"))
    st.stop()

c1, c2, c3 = st.columns(3)
c1.selectbox(t("est.period"), periods, key="sae_period")
c2.selectbox(t("est.variable"), ["employment", "revenue"], key="sae_variable")
c3.selectbox(t("sae.benchmark"), ["ratio", "difference", ""], format_func=lambda v: v or "-", key="sae_benchmark")
c4, c5 = st.columns([1, 2])
# FH: area level (direct totals on area covariate totals); BHF: unit level (nested-error model)
c4.selectbox(t("sae.model"), ["FH", "BHF"], key="sae_model")
c5.multiselect(t("sae.covariates"), list(SAE_COVARIATES), key="sae_covariates",
               default=["si_headcount"] if st.session_state.get("sae_variable", "employment") == "employment"
               else ["vat_sales"])


def current_params() -> dict:
    s = st.session_state
    covariates = list(s["sae_covariates"]) or ["si_headcount" if s["sae_variable"] == "employment" else "vat_sales"]
    return {"period": s["sae_period"], "variable": s["sae_variable"], "area": "township_code",
            "model": s["sae_model"], "covariates": covariates, "method": "REML",
            "benchmark": s["sae_benchmark"] or None}


params = current_params()
try:
    areas = data.small_areas(versions, params["period"], params)
except ValueError as exc:  # e.g. a covariate this panel does not carry: the library's message
    st.error(t("est.failed", error=exc))
    st.stop()
st.subheader(t("sae.chart"))
order = areas.sort_values("eblup", ascending=False)["area"].tolist()
long = areas.melt(id_vars=["area"], value_vars=["direct", "eblup"], var_name="estimator", value_name="value")
lows = areas.melt(id_vars=["area"], value_vars=["direct_low", "eblup_low"], value_name="low")["low"]
highs = areas.melt(id_vars=["area"], value_vars=["direct_high", "eblup_high"], value_name="high")["high"]
long = long.assign(low=lows.to_numpy(), high=highs.to_numpy())
y = alt.Y("area:N", sort=order, title=t("sae.area"))
bars = alt.Chart(long).mark_rule().encode(y=y, x=alt.X("low:Q", title=None), x2="high:Q", color="estimator:N",
                                          yOffset="estimator:N")
points = alt.Chart(long).mark_point(filled=True).encode(y=y, x="value:Q", color="estimator:N", yOffset="estimator:N",
                                                        tooltip=["area", "estimator", "value", "low", "high"])
with st.container(key="sae_chart"):
    st.altair_chart(bars + points, use_container_width=True)
st.caption(t("sae.shrinkage"))
with st.container(key="sae_shrinkage_chart"):
    st.altair_chart(alt.Chart(areas).mark_bar().encode(x=alt.X("area:N", sort=order), y="shrinkage:Q"),
                    use_container_width=True)
st.subheader(t("sae.table"))
widgets.table(areas, "sae_table")


def small_area_run() -> dict:
    p = current_params()
    return {"kind": "small_area_estimate", "params": p, "inputs": list(data.estimate_versions() or versions),
            "title": f"Small areas {p['variable']} {p['period']}", "series": f"township_{p['variable']}"}


run_views.submit_for_review("sae", user, small_area_run)
