"""Online prices: COICOP group, method, window and splice; online index vs official CPI; review list."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from workbench import formatting
from workbench.app import data, run_views, widgets
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.i18n import MESSAGES, translate
from workbench.methods.prices import aggregate
from workbench.methods.prices.indices import ELEMENTARY, MULTILATERAL, SPLICES
from workbench.methods.prices.online import FREQUENCIES, release_lead_days, yoy
from workbench.methods.prices.runs import PRICES, TARGETS
from workbench.methods.prices.settings import load_price_settings

user = require_role(*ROLES_FOR["prices"])
st.title(t("nav.prices"))

settings = load_price_settings()
language = lang()  # bound now: format_func may be called outside this script run
GROUPS = ["total"] + [g.code for g in settings.groups]
LABELS = {g.code: f"{g.code} {settings.group_name(g.code, language)}" for g in settings.groups}
LABELS["total"] = t("prices.total")


def option(prefix: str, value: str) -> str:
    key = f"{prefix}.{value}"
    return translate(key, language) if key in MESSAGES else value


c1, c2, c3, c4, c5 = st.columns([3, 1, 2, 1, 1])
group = widgets.selectbox(c1, t("prices.group"), GROUPS, format_func=lambda c: LABELS[c], key="prices_group")
frequency = widgets.selectbox(c2, t("prices.frequency"), FREQUENCIES, index=FREQUENCIES.index("month"), key="prices_frequency",
                         format_func=lambda f: option("prices.frequency", f))
methods = list(aggregate.METHODS)
method = widgets.selectbox(c3, t("prices.method"), methods, index=methods.index(settings.method), key="prices_method",
                      format_func=lambda m: option("prices.method", m))
multilateral = method in MULTILATERAL
default_window = settings.window_days if frequency == "day" else settings.window_months
window = c4.number_input(t("prices.window"), min_value=2, max_value=400, value=default_window, step=1,
                         key="prices_window", disabled=not multilateral)
splice = widgets.selectbox(c5, t("prices.splice"), SPLICES, index=SPLICES.index(settings.splice), key="prices_splice",
                      disabled=not multilateral, format_func=lambda v: option("prices.splice", v))
if frequency == "day" and method not in ELEMENTARY + ("geks_jevons",):
    frequency = "month"  # weighted daily multilateral indices cost minutes on a laptop; months only
    st.caption(t("prices.monthly_only", method=option("prices.method", method)))

# A cold start reads and classifies about 800,000 quotes, then computes the index (about
# 30 s on a laptop). The two steps are two cached calls made from here, so a progress bar
# says which one runs and a spinner its time (a bar cannot be driven from inside a cached
# computation: Streamlit refuses elements created outside it). Warm, both return at once.
steps = st.progress(0.0, text=t("prices.step.classify", step=1, steps=2))
with st.spinner(t("prices.step.classify", step=1, steps=2), show_time=True):
    classified = data.price_classification()
steps.progress(0.5, text=t("prices.step.index", step=2, steps=2, method=option("prices.method", method)))
with st.spinner(t("prices.step.index", step=2, steps=2, method=option("prices.method", method)), show_time=True):
    result = data.online_index(frequency, method, int(window), splice) if classified is not None else None
steps.empty()
if result is None:
    st.info(t("prices.unavailable"))
    st.stop()
summary = result.summary()
st.caption(t("prices.summary", quotes=summary["quotes"], items=summary["items"],
             eas=summary["elementary_aggregates"],
             left_out=("，" if language == "zh" else ", ").join(f"{option('prices.flag', k)} {v:,}" for k, v in sorted(result.flags.items())
                               if k != "kept") or "—"))

online = result.groups.assign(total=result.total)[group].dropna()
monthly = result.monthly()[group].dropna()
official = data.official_cpi()

# ---- the comparison: MoM for all items, YoY for a group (what is published) ----------
series_name = "cpi_mom" if group == "total" else f"cpi_{group}_yoy"
official_change = official[series_name].dropna() if official is not None and series_name in official else None
online_change = aggregate.mom(monthly) if group == "total" else yoy(monthly)
st.subheader(t("prices.index_chart"))
level = pd.DataFrame({"period": online.index, "value": online.to_numpy(),
                      "series": t("prices.series.online", frequency=option("prices.frequency", frequency))})
chart_data = [level]
if official_change is not None and group == "total":
    # the official level rebuilt from its MoM changes, on the online index's first month
    common = official_change.loc[official_change.index > monthly.index[0]]
    rebuilt = monthly.iloc[0] * (1 + common / 100).cumprod()
    chart_data.append(pd.DataFrame({"period": rebuilt.index, "value": rebuilt.to_numpy(),
                                    "series": t("prices.series.official")}))
month_axis = alt.Axis(format=formatting.MONTH_FORMAT[language])
# an index level: the axis starts near the series (a price index never nears 0), labelled as such
widgets.chart(alt.Chart(pd.concat(chart_data)).mark_line().encode(
    x=alt.X("period:T", title=None, axis=month_axis),
    y=alt.Y("value:Q", title=t("prices.index_axis"), scale=alt.Scale(zero=False)),
    color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top")),
    tooltip=[alt.Tooltip("series:N", title=t("col.source")),
             alt.Tooltip("period:T", format="%Y-%m-%d" if frequency == "day" else formatting.MONTH_FORMAT[language],
                         title=t("col.month")),
             alt.Tooltip("value:Q", format=".1f", title=t("prices.index_axis"))]), key="prices_index_chart")

if official_change is None or official_change.empty:
    st.info(t("prices.no_official"))
else:
    st.caption(t("prices.measure_mom") if group == "total" else t("prices.measure_yoy"))
    cmp = aggregate.compare_changes(online_change, official_change)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(t("prices.correlation"), f"{cmp['correlation']:.3f}")
    m2.metric(t("prices.best_lag"), cmp["best_lag"])
    m3.metric(t("prices.lead_days"), f"{release_lead_days(monthly.index, official):.0f}")
    m4.metric(t("prices.rmse"), f"{cmp['rmse_pp']:.2f}")
    st.subheader(t("prices.change_chart"))
    changes = pd.concat([
        pd.DataFrame({"period": online_change.index, "value": online_change.to_numpy(),
                      "series": t("prices.series.online_short")}),
        pd.DataFrame({"period": official_change.index, "value": official_change.to_numpy(),
                      "series": t("prices.series.official")}),
    ]).dropna()
    changes = changes[changes["period"] >= monthly.index[0]]
    widgets.chart(alt.Chart(changes).mark_line(point=True).encode(
        x=alt.X("period:T", title=None, axis=month_axis), y=alt.Y("value:Q", title=t("prices.change_axis")),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("series:N", title=t("col.source")),
                 alt.Tooltip("period:T", format=formatting.MONTH_FORMAT[language], title=t("col.month")),
                 alt.Tooltip("value:Q", format=".2f", title=t("prices.change_axis"))]), key="prices_change_chart")
    st.caption(t("prices.cross"))
    widgets.table(pd.DataFrame({"lag": list(cmp["cross_correlation"]),
                                "correlation": list(cmp["cross_correlation"].values())}), "prices_cross",
                  column_config={"lag": t("prices.col.lag"),
                                 "correlation": st.column_config.NumberColumn(t("prices.correlation"),
                                                                              format="%.3f")})

st.subheader(t("prices.elementary"))
ea = result.ea if group == "total" else result.ea[result.ea["coicop"] == group]
last = ea.sort_values("period").groupby("ea").tail(1)
# an elementary aggregate is named "03|居住/水电燃料/桶装水" (group code | the retailer's category
# path): shown as the path, its parts separated as a reader separates them; sorted by group and name
elementary = last.assign(index=100 * np.exp(last["logindex"]),
                         group_name=last["coicop"].map(lambda c: settings.group_name(c, language)),
                         ea=last["ea"].map(lambda e: str(e).split("|", 1)[-1].replace("/", " › ")))
elementary = elementary.sort_values(["coicop", "ea"], kind="stable")
widgets.formatted_table(elementary[["coicop", "group_name", "ea", "period", "index", "items"]], "prices_elementary",
                        labels={"coicop": t("prices.col.coicop"), "group_name": t("prices.group"),
                                "ea": t("prices.col.ea"), "index": t("prices.col.index"),
                                "items": t("prices.col.items")},
                        variables={"period": "month" if frequency == "month" else "available_date"},
                        column_config={"index": st.column_config.NumberColumn(t("prices.col.index"), format="%.1f")})

widgets.downloads(elementary[["coicop", "group_name", "ea", "period", "index", "items"]],
                  f"online_price_index_{frequency}_{method}", "prices_download",
                  labels={"coicop": t("prices.col.coicop"), "group_name": t("prices.group"), "ea": t("prices.col.ea"),
                          "index": t("prices.col.index"), "items": t("prices.col.items")})

st.subheader(t("prices.review"))
to_review = result.review
if group != "total":
    to_review = to_review[to_review["coicop"] == group]
if to_review.empty:
    st.success(t("prices.review_empty"))
else:
    widgets.formatted_table(
        to_review.assign(group_name=to_review["coicop"].map(lambda c: settings.group_name(c, language))),
        "prices_review", labels={c: t(f"prices.col.{c}") for c in to_review.columns if f"prices.col.{c}" in MESSAGES}
        | {"group_name": t("prices.group")})

# ---- record the run (recomputed from the table versions shown) and submit ------------
def price_index_run() -> dict:
    # the settings and table versions of the indices shown above (the page filters by group only)
    shown_versions = data.table_versions()
    return {"kind": "online_price_index",
            "params": {"frequency": frequency, "method": method, "window": int(window), "splice": splice},
            "inputs": {name: shown_versions[name] for name in (PRICES, TARGETS) if name in shown_versions},
            "title": t("prices.run_title", frequency=option("prices.frequency", frequency),
                       method=option("prices.method", method)),
            "series": "online_price_index"}


run_views.submit_for_review("prices", user, price_index_run)
