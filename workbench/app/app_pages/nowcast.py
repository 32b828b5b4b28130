"""Nowcast: choose target, models, combinations, indicators and date; nowcasts with intervals from
each model's past errors, fan chart, track record, news, warnings; submit as a run."""

import altair as alt
import pandas as pd
import streamlit as st

from workbench import formatting
from workbench.app import data, run_views, widgets
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.i18n import MESSAGES, translate
from workbench.methods import nowcast as nc
from workbench.methods.nowcast.news import TARGET_REVISION
from workbench.methods.nowcast.run import COMBINATIONS, NowcastSpec, asof_range, default_asof

user = require_role(*ROLES_FOR["nowcast"])
st.title(t("nav.nowcast"))
language = lang()  # bound now: format_func may be called outside this script run
reg = formatting.registry()


def code_label(prefix: str, code: object) -> str:
    """A model's, series' or code's name in the page's language; an unknown code stays itself."""
    key = f"{prefix}.{code}"
    return translate(key, language) if key in MESSAGES else str(code)


def column(name: str, unit: str = "", decimals: int | None = None, kind: str = "",
           shown_in: str = "") -> formatting.Variable:
    """A result column: its heading from the message catalogue, its unit (and the unit it is
    shown in, when another) and precision."""
    text = MESSAGES[f"nowcast.col.{name}"]
    return formatting.Variable(name, text["zh"], text["en"], unit=unit, display_unit=shown_in, decimals=decimals,
                               kind=kind)


inputs = data.nowcast_inputs()
if inputs is None:
    st.info(t("nowcast.unavailable"))
    st.stop()
raw_indicators, raw_targets, versions = inputs
SERIES = [s for s in ("retail_sales", "gdp") if s in set(raw_targets["series"])] or sorted(raw_targets["series"])

c1, c2 = st.columns(2)
series = widgets.selectbox(c1, t("nowcast.series"), SERIES, key="nowcast_series",
                      format_func=lambda s: code_label("nowcast.series", s))
models = widgets.multiselect(c2, t("nowcast.models"), list(nc.MODELS), default=["ar", "bridge", "umidas", "ridge"],
                        key="nowcast_models", format_func=lambda m: code_label("nowcast.model", m))
all_indicators = sorted(raw_indicators["indicator"].unique())
indicator_labels = {i: formatting.registry().indicator(i).label(language) for i in all_indicators}
indicators = widgets.multiselect(st, t("nowcast.indicators"), all_indicators,
                            default=[i for i in nc.DEFAULT_INDICATORS if i in all_indicators] or all_indicators[:3],
                            key="nowcast_indicators", format_func=indicator_labels.get)
c1, c2 = st.columns(2)
combo_labels = {c: t(f"nowcast.combo_{c}") for c in COMBINATIONS}  # translated now, not in format_func
combinations = widgets.multiselect(c1, t("nowcast.combinations"), list(COMBINATIONS), default=list(COMBINATIONS),
                              format_func=combo_labels.get, key="nowcast_combinations")
target_vintages = nc.prepare_targets(raw_targets, series)
# Bounded to the dates a nowcast of this series means something on, and the range said in the
# UI language: unbounded, a mistyped year became 0815-02-26 with the picker's English range error.
first_day, last_day = asof_range(target_vintages)
kept = st.session_state.get("nowcast_date")
if kept is not None and not first_day <= kept <= last_day:  # a date kept from another series' range
    st.session_state["nowcast_date"] = min(max(kept, first_day), last_day)
asof = c2.date_input(t("nowcast.date"), value=default_asof(target_vintages), min_value=first_day,
                     max_value=last_day, format="YYYY/MM/DD", key="nowcast_date")
c2.caption(t("nowcast.date_range", first=formatting.format_date(first_day, language),
             last=formatting.format_date(last_day, language)))
if not models:
    st.info(t("nowcast.pick_models"))
    st.stop()

spec = NowcastSpec(series=series, models=tuple(models), indicators=tuple(indicators), asof=asof.isoformat(),
                   combinations=tuple(combinations))
with st.spinner(t("nowcast.running"), show_time=True):
    result = data.nowcast(spec, versions)
st.caption(t("nowcast.period_expected" if result.release_expected else "nowcast.period",
             period=formatting.format_month(result.period, language),
             release=formatting.format_date(result.release_date, language), horizon=result.horizon))
with st.container(key="nowcast_warnings"):
    if result.warnings:
        st.warning(t("nowcast.warnings", n=len(result.warnings)))
        with st.expander(t("nowcast.warnings_list")):
            for w in result.warnings:  # said in the UI language; a library's own words verbatim beneath
                said, verbatim = run_views.warning_parts(w, language)
                st.markdown(f"- {said}")
                if verbatim:
                    st.code(verbatim, language=None)

st.subheader(t("nowcast.result"))
st.caption(t("nowcast.interval_note", coverage=round(100 * (1 - spec.alpha)), horizon=result.horizon))
# levels in the target's published unit (亿元), growth in per cent, models and interval sources by name
unit = data.series_unit(series)
level = {c: column(c, unit) for c in ("point", "lower", "upper", "model_lower", "model_upper")}
nowcasts = result.nowcasts.assign(model=result.nowcasts["model"].map(lambda m: code_label("nowcast.model", m)),
                                  interval=result.nowcasts["interval"].map(lambda v: code_label("nowcast.interval", v)))
nowcast_columns = {**level, "model": column("model"), "period": column("period", kind="month"),
                   "asof": column("asof", kind="date"), "horizon": column("horizon", decimals=0),
                   "interval": column("interval"), "yoy_pct": column("yoy_pct", "percent")}
widgets.formatted_table(nowcasts, "nowcast_table", variables=nowcast_columns, labels={"period": t("nowcast.col.period")})
widgets.downloads(nowcasts, f"nowcast_{series}_{result.period}", "nowcast_download", variables=nowcast_columns,
                  labels={"period": t("nowcast.col.period")},
                  title=t("nowcast.download_title", series=code_label("nowcast.series", series),
                          period=formatting.format_month(result.period, language)))

# The fan: the published series over its last 24 months, and beside it, on the same axis, each
# model's nowcast of the target month with its interval. Drawn at the target month on a time
# axis the six intervals shared one day's width (a 10 px strip at the right edge).
history = result.history.tail(24)
hist = pd.DataFrame({"period": history.index.to_timestamp(), "value": history.to_numpy()})
unit_text = level["point"].shown_unit.label(language)
y_title = t("nowcast.axis.level", series=code_label("nowcast.series", series), unit=unit_text)
low = min(float(hist["value"].min()), float(nowcasts["lower"].min())) if len(hist) else float(nowcasts["lower"].min())
high = max(float(hist["value"].max()), float(nowcasts["upper"].max())) if len(hist) else float(nowcasts["upper"].max())
pad = 0.05 * (high - low or abs(high) or 1.0)
# not from zero: the intervals are a few percent of the level and would vanish at full scale
y_scale = alt.Scale(domain=[low - pad, high + pad], zero=False, nice=False)
published = alt.Chart(hist).mark_line(color="black", point=alt.OverlayMarkDef(color="black", size=18)).encode(
    # every third month labelled with its year (the default labels most months without one)
    x=alt.X("period:T", title=t("nowcast.axis.published"),
            axis=alt.Axis(format=formatting.MONTH_FORMAT[language], labelAngle=-40,
                          tickCount={"interval": "month", "step": 3})),
    y=alt.Y("value:Q", title=y_title, scale=y_scale),
    tooltip=[alt.Tooltip("period:T", title=t("nowcast.col.period"), format="%Y-%m"),
             alt.Tooltip("value:Q", title=y_title, format=",.2f")]).properties(width=560, height=340)
order = list(nowcasts["model"])
model_axis = alt.X("model:N", sort=order, title=t("nowcast.axis.target_month", month=formatting.format_month(
    result.period, language)), axis=alt.Axis(labelAngle=-40, labelOverlap=False, labelLimit=140))
band = alt.Chart(nowcasts).mark_rule(strokeWidth=6, opacity=0.45).encode(
    x=model_axis, y=alt.Y("lower:Q", scale=y_scale, title=None, axis=alt.Axis(labels=False, ticks=False)),
    y2="upper:Q", color=alt.Color("model:N", sort=order, legend=None))
points = alt.Chart(nowcasts).mark_point(filled=True, size=70).encode(
    x=model_axis, y=alt.Y("point:Q", scale=y_scale), color=alt.Color("model:N", sort=order, legend=None),
    tooltip=[alt.Tooltip("model:N", title=t("nowcast.col.model"))]
    + [alt.Tooltip(f"{c}:Q", title=level[c].heading(language), format=",.2f") for c in ("point", "lower", "upper")]
    + [alt.Tooltip("interval:N", title=t("nowcast.col.interval"))])
st.subheader(t("nowcast.fan"))
with st.container(key="nowcast_fan"):
    widgets.chart(alt.hconcat(published, (band + points).properties(width=46 * max(len(order), 4), height=340),
                              spacing=6).resolve_scale(y="shared"))

st.subheader(t("nowcast.track", horizon=result.horizon))
st.caption(t("nowcast.track_note", periods=spec.track_periods))
evaluation = result.evaluation
if "model" in evaluation.columns:
    evaluation = evaluation.assign(model=evaluation["model"].map(lambda m: code_label("nowcast.model", m)))
widgets.formatted_table(evaluation, "nowcast_evaluation", variables={
    "model": column("model"), "horizon": column("horizon", decimals=0), "n": column("n", decimals=0),
    "rmse": column("rmse", unit), "mae": column("mae", unit), "rel_rmse": column("rel_rmse", "ratio"),
    "rel_mae": column("rel_mae", "ratio"), "dm_stat": column("dm_stat", "ratio"),
    "dm_pvalue": column("dm_pvalue", "pvalue"),
    "coverage": formatting.Variable("coverage", MESSAGES["nowcast.col.coverage"]["zh"],
                                    MESSAGES["nowcast.col.coverage"]["en"], unit="fraction", display_unit="percent")},
    labels={"n": t("nowcast.col.n")})  # "n" of the catalogue is sampled enterprises

st.subheader(t("nowcast.news"))
if result.news is None:
    st.info(t("nowcast.no_news_model"))
elif (result.news["impact"].abs() < 1e-12).all():
    st.info(t("nowcast.no_news"))
else:
    st.caption(t("nowcast.news_of", model=code_label("nowcast.model", result.news_model)))
    news = result.news.assign(variable=result.news["variable"].map(
        lambda v: t("nowcast.news.target") if v == TARGET_REVISION else reg.indicator(v).label(language)))
    widgets.formatted_table(news, "nowcast_news", variables={
        "variable": column("variable"), "impact": column("impact", unit),
        # the models' growth is a log change (a fraction): its impact is shown in percentage points
        "impact_growth": column("impact_growth", "fraction", shown_in="percent_points")})
    unit_label = formatting.UNITS.get(unit, formatting.UNITS[""]).label(language)
    widgets.chart(alt.Chart(news).mark_bar().encode(
        x=alt.X("impact:Q", title=t("nowcast.axis.impact", unit=unit_label) if unit_label
                else t("nowcast.col.impact")),
        y=alt.Y("variable:N", sort=None, title=None, axis=alt.Axis(labelLimit=320))))


def nowcast_run() -> dict:
    # the spec and table versions the page showed: the run reproduces exactly this nowcast
    return {"kind": "nowcast", "params": spec.as_dict(), "inputs": dict(versions),
            "title": f"Nowcast {series} {result.period}", "series": series,
            "result": {**result.outputs(), "_metrics": result.metrics(), "_warnings": result.warnings}}


run_views.submit_for_review("nowcast", user, nowcast_run,
                           blocked=t("nowcast.pick_models") if result.nowcasts.empty else None)
