"""Home: what is in the lake, how fresh each source is, what waits for attention."""

import altair as alt
import streamlit as st

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
        names = sorted(series["indicator"].unique())
        picked = st.multiselect(t("home.indicators.pick"), names, default=names[: min(4, len(names))],
                                key="home_indicators")
        shown = series[series["indicator"].isin(picked)]
        chart = (
            alt.Chart(shown)
            .mark_line(point=alt.OverlayMarkDef(size=12))
            .encode(
                x=alt.X("month:T", title=t("col.month")),
                y=alt.Y("value:Q", title=t("col.value")),
                color=alt.Color("indicator:N", title=t("col.indicator")),
                tooltip=["indicator", alt.Tooltip("month:T", format="%Y-%m"), "value", "unit"],
            )
            .properties(height=320)
        )
        st.altair_chart(chart, key="home_indicator_chart")

with right:
    st.subheader(t("home.freshness"))
    fresh = data.freshness()
    if fresh is None or fresh.empty:
        st.info(t("home.freshness.none"))
    else:
        widgets.table(fresh, "home_freshness",
            column_config={
                "source": t("col.source"),
                "last_delivery": t("col.last_delivery"),
                "last_load": st.column_config.DatetimeColumn(t("col.last_load"), format="YYYY-MM-DD HH:mm"),
                "files": t("col.files"),
                "rejected": t("col.rejected"),
                "rows_loaded": t("col.rows_loaded"),
                "rows_quarantined": t("col.rows_quarantined"),
            },
        )

st.subheader(t("home.lake"))
widgets.tables_list(data.tables_frame(infos, lang()), "home_tables")
