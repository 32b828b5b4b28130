"""Small areas: township direct vs Fay-Herriot or Battese-Harter-Fuller estimates with intervals, shrinkage,
benchmarking; submit.

About 60 townships do not fit one readable chart: the chart shows one district's townships at a
time, ranked by the model estimate, with their names; the table below holds every township.
"""

import altair as alt
import pandas as pd
import streamlit as st

from workbench import formatting
from workbench.app import data, run_views, widgets
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.i18n import translate
from workbench.methods.estimate.survey import SAE_COVARIATES

user = require_role(*ROLES_FOR["small_areas"])
st.title(t("nav.small_areas"))

versions = data.estimate_versions()
periods = data.estimate_periods() if versions else []
if not versions or not periods:
    st.info(t("est.unavailable"))
    st.stop()

language = lang()  # bound now: format_func may be called outside this script run
reg = formatting.registry()
ROW_PX = 26  # a township's row in the shrinkage chart: its name and bar readable


def variable_label(name: str) -> str:
    var = reg.column(name)
    return var.label(language) if var else name


def translate_option(prefix: str, value: str) -> str:
    return translate(f"{prefix}.{value or 'none'}", language)


c1, c2, c3 = st.columns(3)
widgets.selectbox(c1, t("est.period"), periods, key="sae_period", format_func=lambda p: formatting.format_month(p, language))
widgets.selectbox(c2, t("est.variable"), ["employment", "revenue"], key="sae_variable", format_func=variable_label)
widgets.selectbox(c3, t("sae.benchmark"), ["ratio", "difference", ""], key="sae_benchmark",
             format_func=lambda v: translate_option("sae.benchmark", v))
c4, c5 = st.columns([1, 2])


# FH: area level (direct totals on area covariate totals); BHF: unit level (nested-error model)
widgets.selectbox(c4, t("sae.model"), ["FH", "BHF"], key="sae_model", format_func=lambda m: translate_option("sae.model", m))
widgets.multiselect(c5, t("sae.covariates"), list(SAE_COVARIATES), key="sae_covariates", format_func=variable_label,
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
    with st.spinner(t("sae.running"), show_time=True):  # the first fit of a period takes seconds
        areas = data.small_areas(versions, params["period"], params)
except ValueError as exc:  # e.g. a covariate this panel does not carry: the library's message
    widgets.failure(t("est.failed"), exc)
    st.stop()

variable = reg.column(params["variable"]) or formatting.Variable(params["variable"])
unit = variable.shown_unit.label(language)
districts = sorted({str(a)[:6] for a in areas["area"]})
district = widgets.selectbox(st, t("sae.district"), districts, key="sae_district",
                        format_func=lambda c: reg.code_label("county_code", c, language))
here = areas[areas["area"].astype(str).str.startswith(district)].copy()
here["name"] = here["area"].map(lambda a: reg.code_name("township_code", a, language) or str(a))
st.subheader(t("sae.chart_district", district=reg.code_name("county_code", district, language) or district,
               unit=unit))
parts, any_cut = [], False
for estimator in ("direct", "eblup"):
    point, low, high, cut = formatting.shown_interval(here[estimator], here[f"{estimator}_low"],
                                                      here[f"{estimator}_high"], variable)
    any_cut = any_cut or bool(cut.any())
    parts.append(pd.DataFrame({"name": here["name"], "estimator": t(f"sae.{estimator}"), "value": point, "low": low,
                               "high": high,
                               "text": [formatting.format_value(v, variable, language) for v in here[estimator]]}))
long = pd.concat(parts, ignore_index=True)
order = here.sort_values("eblup", ascending=False)["name"].tolist()
y = alt.Y("name:N", sort=order, title=None)
color = alt.Color("estimator:N", title=None, legend=alt.Legend(orient="top"))
axis = alt.X("low:Q", title=unit, axis=alt.Axis(format=formatting.axis_number_format(variable)))
bars = alt.Chart(long).mark_rule().encode(y=y, x=axis, x2="high:Q", color=color, yOffset="estimator:N")
points = alt.Chart(long).mark_point(filled=True).encode(
    y=y, x="value:Q", color=color, yOffset="estimator:N",
    tooltip=[alt.Tooltip("name:N", title=t("sae.area")), alt.Tooltip("estimator:N", title=t("sae.estimator")),
             alt.Tooltip("text:N", title=t("col.value"))])
with st.container(key="sae_chart"):
    widgets.chart((bars + points).properties(height=max(160, 34 * len(here))))
if any_cut:
    st.caption(t("sae.interval_cut"))
st.caption(t("sae.shrinkage"))
# A row per township, named in full, as in the chart above: 180 px with the names slanted
# beneath left the bars of 8 townships 130 px.
with st.container(key="sae_shrinkage_chart"):
    widgets.chart(alt.Chart(here).mark_bar().encode(
        y=alt.Y("name:N", sort=order, title=None, axis=alt.Axis(labelLimit=320)),
        x=alt.X("shrinkage:Q", title=t("sae.shrinkage_axis"), scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=".0%")),  # per cent, as the table beneath shows it
        tooltip=[alt.Tooltip("name:N", title=t("sae.area")),
                 alt.Tooltip("shrinkage:Q", format=".0%", title=t("sae.shrinkage_axis"))])
        .properties(height=ROW_PX * max(len(here), 4)))
st.subheader(t("sae.table"))
measured = {c: params["variable"] for c in areas.columns
            if c.split("_")[0] in ("direct", "eblup", "synthetic", "benchmarked") and not c.endswith("_cv")
            and c not in ("direct_var", "direct_mse")}
shown_columns = [c for c in areas.columns if c not in ("direct_var", "direct_mse", "mse")]
widgets.formatted_table(areas[shown_columns], "sae_table", variables=measured)
widgets.downloads(areas[shown_columns], f"small_areas_{params['variable']}_{params['period']}", "sae_download",
                  variables=measured, title=t("sae.run_title", variable=variable.label(language),
                                              period=formatting.format_month(params["period"], language),
                                              model=params["model"]))


def small_area_run() -> dict:
    p = params  # the settings of the estimates shown above, on the table versions they read
    var = reg.column(p["variable"])
    title = t("sae.run_title", variable=var.label(language) if var else p["variable"],
              period=formatting.format_month(p["period"], language), model=p["model"])
    return {"kind": "small_area_estimate", "params": p, "inputs": dict(versions),
            "title": title, "series": f"township_{p['variable']}"}


run_views.submit_for_review("sae", user, small_area_run)
