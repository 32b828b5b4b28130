"""Jobs: run one or all jobs with live progress; browse quarantined rows (data engineers)."""

import time

import pandas as pd
import streamlit as st

from workbench import catalog, formatting
from workbench import quarantine as quarantine_causes
from workbench.app import data, job_views, widgets
from workbench.app.session import ROLES_FOR, lang, require_role, t

require_role(*ROLES_FOR["jobs"])
st.title(t("nav.jobs"))
language = lang()  # bound now: format_func may be called outside this script run

try:
    from workbench import pipeline
except ImportError as exc:  # the pipeline module arrives with the jobs issue
    pipeline = None
    widgets.failure(t("jobs.unavailable"), exc)

RESULT_COLUMNS = ["name", "status", "rows_read", "rows_written", "rows_quarantined", "seconds", "message"]
RESULT_LABELS = {
    "name": t("col.job"), "status": t("col.status"), "rows_read": t("col.rows_read"),
    "rows_written": t("col.rows_written"), "rows_quarantined": t("col.rows_quarantined"),
    "seconds": st.column_config.NumberColumn(t("col.seconds"), format="%.1f"), "message": t("col.message"),
}


def run(names) -> None:
    """Run jobs with a live progress bar; keep the summary in session state."""
    bar = st.progress(0.0, text=t("jobs.running"))

    def progress(job_name: str, fraction: float, message: str) -> None:
        try:
            bar.progress(min(max(float(fraction), 0.0), 1.0),
                         text=f"{job_name}: {job_views.progress_message(message, language)}")
        except Exception:  # a callback from a worker thread cannot draw; the run goes on
            pass

    started = time.perf_counter()
    try:
        with st.spinner(t("jobs.running")):
            results = pipeline.run_jobs(names, lake=data.lake(), settings=data.settings(), progress=progress)
    except Exception as exc:  # show the error, keep the page usable
        bar.empty()
        st.session_state["jobs_error"] = str(exc)
        return
    bar.empty()
    st.session_state["jobs_error"] = None
    # the catalogued sentences are kept, not the text: the summary is said in the language it is
    # read in, also after the reader switches language
    st.session_state["jobs_last_results"] = [{**{c: getattr(r, c) for c in RESULT_COLUMNS},
                                              "messages": r.messages} for r in results]
    st.session_state["jobs_last_seconds"] = time.perf_counter() - started


if pipeline is not None:
    specs = pipeline.list_jobs()
    st.subheader(t("jobs.list"))
    widgets.table(pd.DataFrame(
            [{"name": s.name, "layer": t(f"layer.{s.layer}"),
              "description": job_views.job_description(s.name, s.description, language),
              "inputs": ", ".join(s.inputs), "outputs": ", ".join(s.writes)} for s in specs],
            columns=["name", "layer", "description", "inputs", "outputs"],
        ), "jobs_list",
        column_config={"name": t("col.job"), "layer": t("common.layer"), "description": t("col.description"),
                       "inputs": t("col.inputs"), "outputs": t("col.outputs")},
    )
    pick_col, one_col, all_col = st.columns([3, 1, 1], vertical_alignment="bottom")
    picked = widgets.selectbox(pick_col, t("jobs.pick"), [s.name for s in specs], key="jobs_pick")
    if one_col.button(t("jobs.run_one"), key="jobs_run_one", icon=":material/play_arrow:", type="primary"):
        run([picked])
    if all_col.button(t("jobs.run_all"), key="jobs_run_all", icon=":material/fast_forward:"):
        run("all")

    if st.session_state.get("jobs_error"):
        widgets.failure(t("jobs.error"), st.session_state["jobs_error"])
    results = st.session_state.get("jobs_last_results")
    if results:
        counts = pd.Series([r["status"] for r in results]).value_counts()
        st.subheader(t("jobs.summary"))
        st.success(t("jobs.done", ok=int(counts.get("ok", 0)), skipped=int(counts.get("skipped", 0)),
                     failed=int(counts.get("failed", 0)), seconds=st.session_state.get("jobs_last_seconds", 0.0)))
        summary = pd.DataFrame(results, columns=RESULT_COLUMNS)
        summary["message"] = [job_views.result_message(r.get("messages"), r["message"], language) for r in results]
        summary["status"] = summary["status"].map(lambda v: job_views.status_label(v, language))
        widgets.table(summary, "jobs_summary", column_config=RESULT_LABELS)

# Quarantine: read after any run above, so the counts include what it just wrote.
st.subheader(t("jobs.quarantine"))
quarantine = [i for i in data.tables() if i.layer == "quarantine"]
if not quarantine:
    st.info(t("jobs.quarantine.none"))
    st.stop()
widgets.table(pd.DataFrame([{"table": i.name, "title": catalog.entry(i.name).title(language), "rows": i.rows}
                           for i in quarantine]), "quarantine_counts",
    column_config={"table": t("common.table"), "title": t("common.title"),
                   "rows": st.column_config.NumberColumn(t("col.count"), format="%,d")},
)
root = data.root()
name = widgets.selectbox(st, t("jobs.quarantine.pick"), [i.name for i in quarantine], key="quarantine_table",
                    format_func=lambda n: f"{n} · {catalog.entry(n).title(language)}")
info = next(i for i in quarantine if i.name == name)
columns = [c for c, _ in info.columns]
if "reason" not in columns or not info.rows:
    rows = data.preview(root, name, info.version)
    st.caption(t("catalog.shown", n=f"{len(rows):,}"))
    widgets.table(rows, "quarantine_rows")
    st.stop()
# Reasons name their file and row, so each is unique: group them by cause, count, then show rows.
causes = quarantine_causes.causes(data.grouped_counts(root, name, info.version, "reason"))
causes["label"] = [job_views.cause_label(c, language) for c in causes.itertuples()]
st.markdown(t("jobs.quarantine.by_cause"))
widgets.table(causes[["label", "rows"]], "quarantine_causes", column_config={
    "label": t("jobs.quarantine.cause"), "rows": st.column_config.NumberColumn(t("col.count"), format="%,d")})
everything = "*"
labels = {everything: t("jobs.quarantine.all_causes"), **dict(zip(causes["cause"], causes["label"]))}
counts = dict(zip(causes["cause"], causes["rows"]))
cause = widgets.selectbox(st, t("jobs.quarantine.cause_pick"), [everything, *causes["cause"]], key="quarantine_cause",
                     format_func=lambda c: labels[c] if c == everything else
                     t("jobs.quarantine.cause_count", cause=labels[c], n=f"{counts[c]:,}"))
if cause == everything:
    rows = data.preview(root, name, info.version)
else:
    reasons = tuple(causes.loc[causes["cause"] == cause, "reasons"].iloc[0])
    rows = data.rows_with_values(root, name, info.version, "reason", reasons)
st.caption(t("catalog.shown", n=f"{len(rows):,}"))
# each row's cause in words; its file and row number are the lineage columns beside it
rows = rows.assign(reason=rows["reason"].map(lambda r: job_views.cause_label(quarantine_causes.cause_of(r), language)))
if "stage" in rows.columns:
    rows["stage"] = rows["stage"].map(lambda v: t(f"layer.{v}") if v in ("bronze", "silver") else v)
if "_source" in rows.columns:
    rows["_source"] = rows["_source"].map(lambda v: formatting.source_title(v, language))
widgets.formatted_table(rows, "quarantine_rows")
