"""Nowcast: choose target, models, indicators and date; fan chart, backtest, contributions, submit."""

import datetime as dt

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from workbench.app import data, widgets
from workbench.app.session import ROLES_FOR, require_role, t
from workbench.methods import nowcast as nc
from workbench.runs import registry, review

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
ind = nc.prepare_indicators(raw_indicators)
tv = nc.prepare_targets(raw_targets, series)
calendar = nc.release_calendar(tv)
last_release = max(calendar["release_date"])
asof = st.date_input(t("nowcast.date"), value=last_release + dt.timedelta(days=1), key="nowcast_date")
# the target: the first period not yet published on the nowcast date
published = calendar[calendar["release_date"] <= asof]["ref_period"]
period = (published.max() + 1) if len(published) else calendar["ref_period"].min()
release = calendar.set_index("ref_period")["release_date"].get(period, "-")
st.caption(t("nowcast.period", period=period, release=release))

info = nc.information_set(ind, tv, asof, period, indicators)
rows, fitted = [], {}
for name in models:
    try:
        model = nc.make_model(name, indicators).fit(info)
        result = model.predict()
    except (ValueError, np.linalg.LinAlgError) as exc:
        st.warning(t("nowcast.failed", model=name, error=exc))
        continue
    fitted[name] = model
    lo90, hi90 = result.conf_int(0.1)
    lo50, hi50 = result.conf_int(0.5)
    rows.append({"model": name, "period": str(period), "asof": asof, "point": result.point, "lower_90": lo90,
                 "upper_90": hi90, "lower_50": lo50, "upper_50": hi50, "growth_pct": 100 * result.growth})
nowcasts = pd.DataFrame(rows, columns=["model", "period", "asof", "point", "lower_90", "upper_90", "lower_50",
                                       "upper_50", "growth_pct"])
st.subheader(t("nowcast.result"))
widgets.table(nowcasts, "nowcast_table")

history = nc.final_values(tv).tail(36)
hist = pd.DataFrame({"period": history.index.to_timestamp(), "value": history.to_numpy(), "model": "published"})
fan = nowcasts.assign(period=period.to_timestamp())
base = alt.Chart(hist).mark_line(color="black").encode(x=alt.X("period:T", title=None), y=alt.Y("value:Q", title=None))
band90 = alt.Chart(fan).mark_errorbar(thickness=6, opacity=0.3).encode(
    x="period:T", y="lower_90:Q", y2="upper_90:Q", color="model:N", xOffset="model:N")
band50 = alt.Chart(fan).mark_errorbar(thickness=12, opacity=0.6).encode(
    x="period:T", y="lower_50:Q", y2="upper_50:Q", color="model:N", xOffset="model:N")
points = alt.Chart(fan).mark_point(filled=True).encode(x="period:T", y="point:Q", color="model:N",
                                                        xOffset="model:N")
st.subheader(t("nowcast.fan"))
st.altair_chart(base + band90 + band50 + points, use_container_width=True)

# ---- contributions: what the last week's data did to the nowcast --------------------
st.subheader(t("nowcast.news"))
decomposable = [m for m in fitted if m not in nc.BENCHMARKS] or list(fitted)
if decomposable:
    news_model = st.selectbox(t("nowcast.news_model"), decomposable, key="nowcast_news_model")
    before = nc.information_set(ind, tv, asof - dt.timedelta(days=7), period, indicators)
    try:
        news = nc.indicator_news(nc.make_model(news_model, indicators).fit(before), before, info)
    except (ValueError, np.linalg.LinAlgError) as exc:
        news = None
        st.warning(t("nowcast.failed", model=news_model, error=exc))
    if news is not None and np.allclose(news["impact"], 0):
        st.info(t("nowcast.no_news"))
    elif news is not None:
        widgets.table(news, "nowcast_news")
        st.altair_chart(alt.Chart(news).mark_bar().encode(x=alt.X("impact:Q"), y=alt.Y("variable:N", sort=None)),
                        use_container_width=True)

# ---- backtest -------------------------------------------------------------------------
st.subheader(t("nowcast.backtest"))
periods = st.slider(t("nowcast.periods"), 6, 36, 12, key="nowcast_periods")
if st.button(t("nowcast.run_backtest"), key="nowcast_run_backtest", icon=":material/history:"):
    bar = st.progress(0.0, text=t("nowcast.backtest_running"))
    factories = {m: (lambda m=m: nc.make_model(m, indicators)) for m in dict.fromkeys(["ar", *models])}
    bt = nc.backtest(ind, tv, factories, periods=periods, horizons=(0, 1, 2, 4), indicator_names=indicators,
                     progress=lambda f, msg: bar.progress(f, text=msg))
    bar.empty()
    bt = nc.attach_actuals(bt, nc.final_values(tv))
    st.session_state["nowcast_backtest"] = {"key": (series, tuple(models), tuple(indicators), periods), "bt": bt,
                                            "eval": nc.evaluate(bt)}
done = st.session_state.get("nowcast_backtest")
if done:
    st.caption(t("nowcast.backtest_note"))
    widgets.table(done["eval"], "nowcast_backtest_table")
    st.caption(t("nowcast.errors_chart"))
    st.altair_chart(alt.Chart(done["eval"]).mark_line(point=True).encode(
        x=alt.X("horizon:O"), y=alt.Y("rel_rmse:Q"), color="model:N"), use_container_width=True)

# ---- record and submit -------------------------------------------------------------------
comment = st.text_input(t("runs.comment"), key="nowcast_comment")
if st.button(t("nowcast.submit"), key="nowcast_submit", icon=":material/send:", type="primary",
             disabled=nowcasts.empty):
    outputs = {"nowcasts": nowcasts.assign(asof=str(asof))}
    metrics = {"models": len(nowcasts)}
    if done:
        outputs["backtest_metrics"] = done["eval"]
        metrics.update({f"rel_rmse_{r.model}_h{r.horizon}": r.rel_rmse for r in done["eval"].itertuples()
                        if np.isfinite(r.rel_rmse)})
    params = {"series": series, "models": models, "indicators": indicators, "asof": str(asof),
              "period": str(period)}
    run_id = registry.record_run(data.lake(), "nowcast", params, versions, outputs, metrics, user=user,
                                 title=f"Nowcast {series} {period}", series=series)
    review.submit(data.lake(), run_id, user, comment)
    st.success(t("nowcast.submitted", run_id=run_id))
