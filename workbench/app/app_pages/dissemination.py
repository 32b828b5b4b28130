"""Dissemination: the release calendar, what was published when, and downloads in every format.

Every role sees how many cells disclosure control hid; only supervisors see the
suppression report, which names the hidden cells, their contributor counts and how
narrowly each could be bounded: internal information a user could use to attack them.
"""

import re

import streamlit as st

from workbench import formatting
from workbench.app import data, widgets
from workbench.app.run_views import local_times, series_title
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.clock import city_time
from workbench.disclosure.export import FORMATS
from workbench.disclosure.reader import calendar
from workbench.i18n import MESSAGES

user = require_role(*ROLES_FOR["dissemination"])
zone = data.settings().lake.local_timezone
st.title(t("nav.dissemination"))
st.caption(t("diss.intro"))
records = data.release_records()
scheduled, published = calendar(records, user)
# Times as the city's clock reads them, the column headings naming the zone.
TIMES = {"embargo_until": st.column_config.DatetimeColumn(t("review.embargo_column", tz=zone),
                                                          format="YYYY-MM-DD HH:mm"),
         "released_at": st.column_config.DatetimeColumn(t("diss.released_at", tz=zone), format="YYYY-MM-DD HH:mm")}
# every other heading of the calendar, the published list and the suppression report in the UI language
HEADINGS = {c: t(f"diss.col.{c}") for c in ("title", "series", "vintage", "covers", "release_date", "rows", "primary",
                                             "secondary", "withdrawn", "period", "measure", "cell", "status",
                                             "rules", "contributors", "lower_ratio", "upper_ratio")}
COLUMNS = {**HEADINGS, **TIMES}

# What each release is of and which months it covers, from its run (a series is named by its
# title in the UI language; its code stays beside it, the name the data API knows it by).
about = {r.release_id: data.released_run(r.run_id, r.output) for r in records}
titles = {r.series: series_title(about[r.release_id][0], about[r.release_id][1], r.series, lang())
          for r in sorted(records, key=lambda r: r.vintage)}
covers = {rid: formatting.reference_period(periods, lang()) or "—" for rid, (_, _, periods) in about.items()}


def counted(value: object) -> str:
    """A count of suppressed cells; a release that needed no disclosure control says so, not "None"."""
    return t("diss.not_controlled") if value is None or value != value else formatting.format_number(value, 0, lang())


def described(frame):
    """A calendar or published list with each release's title and period, and its counts in words."""
    out = frame.assign(title=frame["series"].map(titles), covers=frame["release_id"].map(covers),
                       primary=frame["primary"].map(counted), secondary=frame["secondary"].map(counted))
    first = ["title", "series", "vintage", "covers"]
    return out[first + [c for c in out.columns if c not in first]]


def disclosure_caption(summary: dict) -> str:
    """One sentence on what disclosure control hid, for either kind of control the gate runs.

    Tables of enterprise sums carry the protection interval of the audit; estimates by
    domain or area carry the fewest sampled units a shown row must rest on.
    """
    rules = summary.get("rules") or {}
    counts = {"primary": summary.get("primary", 0), "secondary": summary.get("secondary", 0),
              "cells": summary.get("cells", 0)}
    if "protection" in rules:
        return t("diss.disclosure", protection=rules["protection"], **counts)
    if "min_units" in rules:
        return t("diss.disclosure_rows", min_units=rules["min_units"], **counts)
    return t("diss.disclosure_counts", **counts)


def rules_text(rules: object) -> object:
    """The rules that hid a cell (``frequency,dominance``; ``n<3``; why a secondary cell was hidden),
    each by its name in the UI language."""
    if not isinstance(rules, str):
        return rules
    if rules == "protects a confidential cell":  # the gate's own words for a secondary suppression
        return t("diss.rule.secondary")
    names = []
    for rule in rules.split(","):
        few = re.fullmatch(r"n<(\d+)", rule)
        names.append(t("diss.rule.min_units", n=few.group(1)) if few else
                     t(f"diss.rule.{rule}") if f"diss.rule.{rule}" in MESSAGES else rule)
    return ("、" if lang() == "zh" else ", ").join(names)


st.subheader(t("diss.calendar"))
if scheduled.empty:
    st.info(t("diss.no_scheduled"))
else:
    widgets.table(local_times(described(scheduled)[["title", "series", "vintage", "covers", "release_date",
                                                    "embargo_until", "rows"]],
                              ["embargo_until"], zone), "diss_scheduled", column_config=COLUMNS)

st.subheader(t("diss.published"))
if published.empty:
    st.info(t("diss.none"))
else:
    widgets.table(local_times(described(published).drop(columns=["release_id", "visible"]), list(TIMES), zone),
                  "diss_published", column_config=COLUMNS)

st.subheader(t("diss.downloads"))
readable = [r for r in records if r.release_id in set(published.loc[published["visible"], "release_id"])]
readable += [r for r in records if r.release_id in set(scheduled.loc[scheduled["visible"], "release_id"])]
if not readable:
    st.info(t("diss.nothing_to_download"))
else:
    series = widgets.selectbox(st, t("diss.series"), sorted({r.series for r in readable}), key="diss_series",
                          format_func=lambda s, zh=lang() == "zh": f"{titles[s]}（{s}）" if zh else f"{titles[s]} ({s})")
    vintages = sorted((r.vintage for r in readable if r.series == series), reverse=True)
    vintage = widgets.selectbox(st, t("diss.vintage"), vintages, key="diss_vintage")
    rel = next(r for r in readable if r.series == series and r.vintage == vintage)
    st.markdown(t("diss.covers", title=titles[series], vintage=vintage, period=covers[rel.release_id]))
    if rel.release_id in set(scheduled["release_id"]):
        st.warning(t("diss.embargoed", until=city_time(rel.embargo_until, zone)))
    for col, fmt in zip(st.columns(len(FORMATS)), FORMATS):
        out = data.release_file(rel.release_id, fmt, lang())
        # as wide as its column, so a long label ("CSV（Excel 可直接打开）") is not cut
        col.download_button(t(f"diss.format.{fmt}"), out.data, file_name=out.file_name, mime=out.mime,
                            key=f"diss_download_{fmt}", width="stretch")
    summary = (rel.quality_report or {}).get("disclosure")
    if summary:
        st.caption(disclosure_caption(summary))
        if user.has_any(("supervisor",)):
            report = data.suppression_report(rel.release_id)
            if report is not None:
                st.markdown(t("diss.report"))
                report = report.assign(status=report["status"].map(lambda v: t(f"diss.status.{v}")
                                                                    if f"diss.status.{v}" in MESSAGES else v),
                                       rules=report["rules"].map(rules_text),
                                       # the month and the measure by name, as in the released files
                                       **{c: report[c].map(lambda v: formatting.format_month(v, lang()))
                                          for c in ("period",) if c in report.columns},
                                       **{c: report[c].map(lambda v: formatting.column_title(str(v), lang())
                                                           if formatting.registry().column(str(v)) is None
                                                           else formatting.registry().column(str(v)).label(lang()))
                                          for c in ("measure",) if c in report.columns},
                                       # a bound no audit computed (estimates' rows) is a dash, not "None"
                                       **{c: report[c].map(lambda v: "—" if v is None or v != v
                                                           else formatting.format_number(v, 3, lang()))
                                          for c in ("lower_ratio", "upper_ratio") if c in report.columns})
                widgets.table(report.drop(columns=["release_id", "run_id"]), "diss_report", column_config=COLUMNS)
st.caption(t("diss.api_hint"))
