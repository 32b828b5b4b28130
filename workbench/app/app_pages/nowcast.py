"""Nowcast: choose target, models, combinations, indicators and date; nowcasts with intervals from
each model's past errors, fan chart, track record, news, warnings; submit as a run."""

import altair as alt
import pandas as pd
import streamlit as st

from workbench.app import data, run_views, widgets
from workbench.app.session import ROLES_FOR, require_role, t
from workbench.methods import nowcast as nc
from workbench.methods.nowcast.run import COMBINATIONS, NowcastSpec, default_asof

user = require_role(*ROLES_FOR["nowcast"])
st.title(t("nav.nowcast"))

inputs = data.nowcast_inputs()
if inputs is None:
    st.info(t("nowcast.unavailable"))
    st.stop()
raw_indicators, raw_targets, versions = inputs
SERIES = [s for s in ("retail_sales", "gdp") if s in set(raw_targets["series"])] or sorted(raw_targets["series"])

c1, c2 = st.columns(2)
series = c1.selectbox(t("nowcast.series"), SERIES, key="nowcast_series")
models = c2.multiselect(t("nowcast.models"), list(nc.MODELS), default=["ar", "bridge", "umidas", "ridge"],
                        key="nowcast_models")
all_indicators = sorted(raw_indicators["indicator"].unique())
indicators = st.multiselect(t("nowcast.indicators"), all_indicators,
                            default=[i for i in nc.DEFAULT_INDICATORS if i in all_indicators] or all_indicators[:3],
                            key="nowcast_indicators")
c1, c2 = st.columns(2)
combo_labels = {c: t(f"nowcast.combo_{c}") for c in COMBINATIONS}  # translated now, not in format_func
combinations = c1.multiselect(t("nowcast.combinations"), list(COMBINATIONS), default=list(COMBINATIONS),
                              format_func=combo_labels.get, key="nowcast_combinations")
asof = c2.date_input(t("nowcast.date"), value=default_asof(nc.prepare_targets(raw_targets, series)),
                     key="nowcast_date")
if not models:
    st.info(t("nowcast.pick_models"))
    st.stop()

spec = NowcastSpec(series=series, models=tuple(models), indicators=tuple(indicators), asof=asof.isoformat(),
                   combinations=tuple(combinations))
with st.spinner(t("nowcast.running")):
    result = data.nowcast(spec, versions)
st.caption(t("nowcast.period_expected" if result.release_expected else "nowcast.period", period=result.period,
             release=result.release_date, horizon=result.horizon))
with st.container(key="nowcast_warnings"):
    if result.warnings:
        st.warning(t("nowcast.warnings", n=len(result.warnings)))
        with st.expander(t("nowcast.warnings_list")):
            for w in result.warnings:
                st.markdown(f"- {w}")

st.subheader(t("nowcast.result"))
st.caption(t("nowcast.interval_note", coverage=round(100 * (1 - spec.alpha)), horizon=result.horizon))
widgets.table(result.nowcasts, "nowcast_table")

history = result.history.tail(24)
hist = pd.DataFrame({"period": history.index.to_timestamp(), "value": history.to_numpy(), "model": "published"})
fan = result.nowcasts.assign(period=result.period.to_timestamp())
# not from zero: the intervals are a few percent of the level and would vanish at full scale
base = alt.Chart(hist).mark_line(color="black").encode(x=alt.X("period:T", title=None),
                                                       y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)))
band = alt.Chart(fan).mark_errorbar(thickness=8, opacity=0.5).encode(
    x="period:T", y="lower:Q", y2="upper:Q", color="model:N", xOffset="model:N")
points = alt.Chart(fan).mark_point(filled=True).encode(x="period:T", y="point:Q", color="model:N",
                                                        xOffset="model:N", tooltip=["model", "point", "lower",
                                                                                    "upper", "interval"])
st.subheader(t("nowcast.fan"))
with st.container(key="nowcast_fan"):
    st.altair_chart(base + band + points, use_container_width=True)

st.subheader(t("nowcast.track", horizon=result.horizon))
st.caption(t("nowcast.track_note", periods=spec.track_periods))
widgets.table(result.evaluation, "nowcast_evaluation")

st.subheader(t("nowcast.news"))
if result.news is None:
    st.info(t("nowcast.no_news_model"))
elif (result.news["impact"].abs() < 1e-12).all():
    st.info(t("nowcast.no_news"))
else:
    st.caption(t("nowcast.news_of", model=result.news_model))
    widgets.table(result.news, "nowcast_news")
    st.altair_chart(alt.Chart(result.news).mark_bar().encode(x=alt.X("impact:Q"), y=alt.Y("variable:N", sort=None)),
                    use_container_width=True)


def nowcast_run() -> dict:
    # the spec and table versions the page showed: the run reproduces exactly this nowcast
    return {"kind": "nowcast", "params": spec.as_dict(), "inputs": dict(versions),
            "title": f"Nowcast {series} {result.period}", "series": series,
            "result": {**result.outputs(), "_metrics": result.metrics(), "_warnings": result.warnings}}


run_views.submit_for_review("nowcast", user, nowcast_run,
                           blocked=t("nowcast.pick_models") if result.nowcasts.empty else None)
