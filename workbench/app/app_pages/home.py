"""Home: what is in the lake, how fresh each source is, what waits for attention."""

import altair as alt
import streamlit as st

from workbench import formatting
from workbench.app import data, widgets
from workbench.app.session import ROLES_FOR, lang, require_role, t

require_role(*ROLES_FOR["home"])
st.title(t("app.title"))

infos = data.tables()
if not infos:
    st.info(t("home.lake_empty"))
    st.stop()

na = t("common.not_available")
quality = data.open_quality_issues()
reviews = data.runs_waiting_for_review()
quarantined = sum(i.rows for i in infos if i.layer == "quarantine")
cols = st.columns(5)
cols[0].metric(t("home.metric.tables"), len(infos))
cols[1].metric(t("home.metric.rows"), f"{sum(i.rows for i in infos):,}")
cols[2].metric(t("home.metric.quarantined"), f"{quarantined:,}")
# A table a later issue creates shows a dash, with the reason on hover.
cols[3].metric(t("home.metric.quality"), "—" if quality is None else quality, help=na if quality is None else None)
cols[4].metric(t("home.metric.reviews"), "—" if reviews is None else reviews, help=na if reviews is None else None)

left, right = st.columns([3, 2])
with left:
    st.subheader(t("home.indicators"))
    series = data.indicators()
    if series is None or series.empty:
        st.info(t("home.indicators.none"))
    else:
        language = lang()  # bound now: format_func may be called outside this script run
        reg = formatting.registry()
        names = sorted(series["indicator"].unique())
        # the city totals first; per-category series (card spending by MCC) are there to pick
        headline = [n for n in names if "*" not in n and "_mcc_" not in n][:4] or names[:4]
        picked = widgets.multiselect(st, t("home.indicators.pick"), names, default=headline, key="home_indicators",
                                format_func=lambda n: reg.indicator(n).label(language))
        shown = formatting.indicator_frame(series[series["indicator"].isin(picked)], language)
        if shown.empty:
            st.info(t("home.indicators.pick_one"))
        else:
            # one panel per indicator, each on its own axis in its own unit: totals in yuan, persons
            # and kWh on one axis would show only the largest
            chart = (
                alt.Chart(shown)
                .mark_line(point=alt.OverlayMarkDef(size=12))
                .encode(
                    x=alt.X("month:T", title=None, axis=alt.Axis(format=formatting.MONTH_FORMAT[language])),
                    y=alt.Y("shown:Q", title=None, axis=alt.Axis(format=",~f")),
                    color=alt.Color("heading:N", legend=None),
                    tooltip=[alt.Tooltip("heading:N", title=t("col.indicator")),
                             alt.Tooltip("month:T", format=formatting.MONTH_FORMAT[language], title=t("col.month")),
                             alt.Tooltip("text:N", title=t("col.value"))],
                )
                .properties(height=110)
                .facet(row=alt.Row("heading:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left",
                                                                                labelAnchor="start",
                                                                                labelOrient="top")))
                .resolve_scale(y="independent")
            )
            widgets.chart(chart, key="home_indicator_chart")

with right:
    st.subheader(t("home.freshness"))
    fresh = data.freshness()
    if fresh is None or fresh.empty:
        st.info(t("home.freshness.none"))
    else:
        fresh = fresh.assign(source=fresh["source"].map(lambda s: formatting.source_title(s, lang())))
        widgets.formatted_table(fresh, "home_freshness",
            labels={"source": t("col.source"), "last_delivery": t("col.last_delivery"), "files": t("col.files"),
                    "rejected": t("col.rejected")},
            variables={"last_delivery": "period"},
            column_config={
                "last_load": st.column_config.DatetimeColumn(t("col.last_load"), format="YYYY-MM-DD HH:mm"),
            },
        )

st.subheader(t("home.lake"))
widgets.tables_list(data.tables_frame(infos, lang()), "home_tables")
