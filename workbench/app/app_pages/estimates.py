"""Estimates: survey totals by period and domain with calibration, variance, CV flags; submit as a run.

The page says which survey values it uses (edited and imputed, from which panel version, or raw
returns) and refuses to submit a run whose calibrated weights are negative, outside the bounds or
did not converge; the library decides, the page words it.
"""

import streamlit as st

from workbench.app import data, run_views, widgets
from workbench.app.quality_views import progress_bar
from workbench.app.session import ROLES_FOR, require_role, t
from workbench.methods.estimate import runs as estimate_runs
from workbench.methods.estimate.calibration import CalibrationError
from workbench.methods.estimate.survey import VALUES_EDITED
from workbench.quality import store

user = require_role(*ROLES_FOR["estimates"])
st.title(t("nav.estimates"))

versions = data.estimate_versions()
periods = data.estimate_periods() if versions else []
if not versions or not periods:
    st.info(t("est.unavailable"))
    st.stop()


def build_panel() -> None:
    bar, progress = progress_bar(t("editing.building"))
    try:
        store.build_panel(data.lake(), user, progress=progress)
        st.session_state["est_panel_error"] = None
    except Exception as exc:  # noqa: BLE001 - shown in the page's language with the library's detail
        st.session_state["est_panel_error"] = t("est.failed", error=exc)
    bar.empty()


if estimate_runs.PANEL not in versions:
    st.warning(t("est.values_reported"))
    if st.button(t("est.build_panel"), key="est_build_panel", icon=":material/auto_fix_high:"):
        build_panel()
        st.rerun()
    if st.session_state.get("est_panel_error"):
        st.error(st.session_state["est_panel_error"])

c1, c2, c3 = st.columns(3)
c1.selectbox(t("est.period"), periods, key="est_period")
c2.selectbox(t("est.variable"), ["employment", "revenue"], key="est_variable")
c3.selectbox(t("est.domain"), ["", "county_code", "industry_section", "size_class", "township_code"],
             format_func=lambda v: v or "-", key="est_domain")
c1, c2, c3 = st.columns(3)
# Plain method names as options: AppTest calls a format_func outside the script run, in the
# wrong language; the bounds' help says what each distance does with the bounds.
c1.selectbox(t("est.calibration"), ["linear", "raking", "logit", "none"], key="est_calibration")
c2.selectbox(t("est.replicates"), ["taylor", "JKn", "bootstrap"], key="est_replicates")
c3.number_input(t("est.cv_threshold"), 0.01, 1.0, 0.15, 0.01, key="est_cv")
c1, c2 = st.columns(2)
c1.multiselect(t("est.auxiliaries"), ["vat_sales", "si_headcount"], default=["vat_sales", "si_headcount"],
               key="est_aux")
c2.slider(t("est.bounds"), 0.1, 5.0, (0.3, 3.0), 0.1, key="est_bounds", help=t("est.bounds_help"),
          disabled=st.session_state.get("est_calibration") == "none")
st.checkbox(t("est.strata_counts"), value=True, key="est_strata")
st.checkbox(t("est.use_imputed"), value=True, key="est_use_imputed", disabled=estimate_runs.PANEL not in versions)


def current_params() -> dict:
    s = st.session_state
    return {"period": s["est_period"], "variable": s["est_variable"], "domain": s["est_domain"] or None,
            "calibration": s["est_calibration"], "replicates": s["est_replicates"], "cv_threshold": s["est_cv"],
            "auxiliaries": list(s["est_aux"]), "bounds": list(s["est_bounds"]), "calibrate_strata": s["est_strata"],
            "use_imputed": bool(s["est_use_imputed"]), "n_boot": 200, "seed": 0}


params = current_params()
try:
    with st.spinner(t("est.result")):
        result = data.survey_estimates(versions, params["period"], params)
except CalibrationError as exc:  # the reason, worded in the page's language, with what to try
    st.error(t(f"est.cal_error.{exc.reason}", method=t(f"est.cal_method.{params['calibration']}"),
               constraints=", ".join(exc.constraints) or "-"))
    st.stop()
except Exception as exc:  # noqa: BLE001 - anything else: the library's message
    st.error(t("est.failed", error=exc))
    st.stop()

if result.values == VALUES_EDITED:
    status = data.panel_status()
    st.info(t("est.values_edited", version=versions[estimate_runs.PANEL],
              built=status.written_at.strftime("%Y-%m-%d %H:%M UTC") if status else "-"))
elif estimate_runs.PANEL in versions:
    st.warning(t("est.values_unticked"))
st.subheader(t("est.result"))
if result.problems:
    st.error("\n".join([t("est.blocked")] + [
        "- " + t(f"est.problem.{p.code}", count=p.count, low=p.low, high=p.high) for p in result.problems]))
table, weights = result.estimates, result.weights
n_bad = int(table["unreliable"].sum())
if n_bad:
    st.warning(t("est.unreliable", n=n_bad, cv=params["cv_threshold"]))
widgets.table(table, "est_table", column_config={
    "cv": st.column_config.NumberColumn(format="%.3f"), "imputed_share": st.column_config.NumberColumn(format="%.3f"),
    "deff": st.column_config.NumberColumn(format="%.2f")})
st.subheader(t("est.weights"))
widgets.table(weights, "est_weights")


def survey_run() -> dict:
    p = current_params()  # the widget values at click time
    return {"kind": "survey_estimate", "params": p, "inputs": list(data.estimate_versions() or versions),
            "title": f"Survey estimate {p['variable']} {p['period']}", "series": f"survey_{p['variable']}"}


run_views.submit_for_review("est", user, survey_run, blocked=t("est.submit_blocked") if result.problems else None)
