"""Dissemination: the release calendar, what was published when, and downloads in every format."""

import streamlit as st

from workbench.app import data, widgets
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.disclosure.export import FORMATS
from workbench.disclosure.reader import calendar

user = require_role(*ROLES_FOR["dissemination"])
st.title(t("nav.dissemination"))
st.caption(t("diss.intro"))
records = data.release_records()
scheduled, published = calendar(records, user)

st.subheader(t("diss.calendar"))
if scheduled.empty:
    st.info(t("diss.no_scheduled"))
else:
    widgets.table(scheduled[["series", "vintage", "release_date", "embargo_until", "rows"]], "diss_scheduled")

st.subheader(t("diss.published"))
if published.empty:
    st.info(t("diss.none"))
else:
    widgets.table(published.drop(columns=["release_id", "visible"]), "diss_published")

st.subheader(t("diss.downloads"))
readable = [r for r in records if r.release_id in set(published.loc[published["visible"], "release_id"])]
readable += [r for r in records if r.release_id in set(scheduled.loc[scheduled["visible"], "release_id"])]
if not readable:
    st.info(t("diss.nothing_to_download"))
else:
    series = st.selectbox(t("diss.series"), sorted({r.series for r in readable}), key="diss_series")
    vintages = sorted((r.vintage for r in readable if r.series == series), reverse=True)
    vintage = st.selectbox(t("diss.vintage"), vintages, key="diss_vintage")
    rel = next(r for r in readable if r.series == series and r.vintage == vintage)
    if rel.release_id in set(scheduled["release_id"]):
        st.warning(t("diss.embargoed", until=rel.embargo_until.strftime("%Y-%m-%d %H:%M UTC")))
    for col, fmt in zip(st.columns(len(FORMATS)), FORMATS):
        out = data.release_file(rel.release_id, fmt, lang())
        col.download_button(t(f"diss.format.{fmt}"), out.data, file_name=out.file_name, mime=out.mime,
                            key=f"diss_download_{fmt}")
    summary = (rel.quality_report or {}).get("disclosure")
    if summary:
        st.caption(t("diss.disclosure", primary=summary["primary"], secondary=summary["secondary"],
                      cells=summary["cells"], protection=summary["rules"]["protection"]))
        if user.has_any(("supervisor",)):
            report = data.suppression_report(rel.release_id)
            if report is not None:
                st.markdown(t("diss.report"))
                widgets.table(report.drop(columns=["release_id", "run_id"]), "diss_report")
st.caption(t("diss.api_hint"))
