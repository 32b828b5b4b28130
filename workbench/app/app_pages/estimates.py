"""Estimates: survey totals by period and domain with calibration, variance, CV flags; submit as a run.

The page says which survey values it uses (edited and imputed, from which panel version, or raw
returns) and refuses to submit a run whose calibrated weights are negative, outside the bounds or
did not converge; the library decides, the page words it.
"""

import streamlit as st

from workbench import formatting
from workbench.app import data, run_views, widgets
from workbench.app.quality_views import progress_bar
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.i18n import MESSAGES, translate
from workbench.methods.estimate import runs as estimate_runs
from workbench.methods.estimate.calibration import CalibrationError
from workbench.methods.estimate.survey import DEFAULTS as SURVEY_DEFAULTS
from workbench.methods.estimate.survey import VALUES_EDITED
from workbench.quality import store

user = require_role(*ROLES_FOR["estimates"])
st.title(t("nav.estimates"))
language = lang()  # bound now: format_func may be called outside this script run
reg = formatting.registry()

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
    except Exception as exc:  # shown in the page's language with the library's detail
        st.session_state["est_panel_error"] = str(exc)
    bar.empty()


if estimate_runs.PANEL not in versions:
    st.warning(t("est.values_reported"))
    if st.button(t("est.build_panel"), key="est_build_panel", icon=":material/auto_fix_high:"):
        build_panel()
        st.rerun()
    if st.session_state.get("est_panel_error"):
        widgets.failure(t("est.failed"), st.session_state["est_panel_error"])



def column_label(name: str) -> str:
    var = reg.column(name)
    return var.label(language) if var else name


def code_label(prefix: str, code: object) -> str:
    """A method's or a code's name in the page's language; an unknown code stays itself."""
    key = f"{prefix}.{code}"
    return translate(key, language) if key in MESSAGES else str(code)


def measure(name: str, unit: str = "", decimals: int | None = None) -> formatting.Variable:
    """A diagnostic column: its heading from the message catalogue, its unit and precision."""
    text = MESSAGES[f"est.col.{name}"]
    return formatting.Variable(name, text["zh"], text["en"], unit=unit, decimals=decimals)


c1, c2, c3 = st.columns(3)
widgets.selectbox(c1, t("est.period"), periods, key="est_period", format_func=lambda p: formatting.format_month(p, language))
widgets.selectbox(c2, t("est.variable"), ["employment", "revenue"], key="est_variable", format_func=column_label)
widgets.selectbox(c3, t("est.domain"), ["", "county_code", "industry_section", "size_class", "township_code"],
             format_func=lambda v: column_label(v) if v else translate("est.domain.none", language),
             key="est_domain")
c1, c2, c3 = st.columns(3)
# format_func with the language bound above (AppTest may call it outside the script run); the
# bounds' help says what each distance does with the bounds.
widgets.selectbox(c1, t("est.calibration"), ["linear", "raking", "logit", "none"], key="est_calibration",
             format_func=lambda m: code_label("est.cal_method", m))
widgets.selectbox(c2, t("est.replicates"), ["taylor", "JKn", "bootstrap"], key="est_replicates",
             format_func=lambda m: code_label("est.replicate", m))
c3.number_input(t("est.cv_threshold"), 0.01, 1.0, 0.15, 0.01, key="est_cv")
c1, c2 = st.columns(2)
widgets.multiselect(c1, t("est.auxiliaries"), ["vat_sales", "si_headcount"], default=["vat_sales", "si_headcount"],
               key="est_aux", format_func=column_label)
c2.slider(t("est.bounds"), 0.1, 5.0, (0.3, 3.0), 0.1, key="est_bounds", help=t("est.bounds_help"),
          disabled=st.session_state.get("est_calibration") == "none")
st.checkbox(t("est.strata_counts"), value=True, key="est_strata")
st.checkbox(t("est.use_imputed"), value=True, key="est_use_imputed", disabled=estimate_runs.PANEL not in versions)


def current_params() -> dict:
    s = st.session_state
    return {"period": s["est_period"], "variable": s["est_variable"], "domain": s["est_domain"] or None,
            "calibration": s["est_calibration"], "replicates": s["est_replicates"], "cv_threshold": s["est_cv"],
            "auxiliaries": list(s["est_aux"]), "bounds": list(s["est_bounds"]), "calibrate_strata": s["est_strata"],
            "use_imputed": bool(s["est_use_imputed"]), "n_boot": 200, "seed": 0,
            "interval": SURVEY_DEFAULTS["interval"]}


params = current_params()
try:
    with st.spinner(t("est.result"), show_time=True):
        result = data.survey_estimates(versions, params["period"], params)
except CalibrationError as exc:  # the reason, worded in the page's language, with what to try
    st.error(t(f"est.cal_error.{exc.reason}", method=t(f"est.cal_method.{params['calibration']}"),
               constraints=", ".join(exc.constraints) or "-"))
    st.stop()
except Exception as exc:  # anything else: the library's message
    widgets.failure(t("est.failed"), exc)
    st.stop()

if result.values == VALUES_EDITED:
    status = data.panel_status()
    st.info(t("est.values_edited", version=versions[estimate_runs.PANEL],
              built=run_views.city_clock(status.written_at) if status else "-"))
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
# estimates, SEs and intervals in the unit of the variable (persons; revenue in 万元), CVs and
# imputed shares in per cent, domains and methods by name
measured = {c: params["variable"] for c in ("estimate", "se", "ci_low", "ci_high")}
table = table.assign(variance_method=table["variance_method"].map(lambda m: code_label("est.replicate", m)))
estimate_columns = {**measured, "variance_method": measure("variance_method")}
widgets.formatted_table(table, "est_table", variables=estimate_columns)
# the result to take away, as shown: CSV (with BOM, for Excel in Chinese) and Excel
widgets.downloads(table, f"survey_estimates_{params['variable']}_{params['period']}", "est_download",
                  variables=estimate_columns,
                  title=t("est.download_title", variable=run_views.value_text(params["variable"], language),
                          period=formatting.format_month(params["period"], language)))
st.subheader(t("est.weights"))
weights = weights.assign(**{c: weights[c].map(lambda m: code_label("est.distance", m))
                            for c in ("method", "distance") if c in weights.columns})
if "values" in weights.columns:
    weights["values"] = weights["values"].map(lambda v: code_label("est.values", v))
ratio = {c: measure(c, "ratio", 3) for c in ("bound_low", "bound_high", "g_min", "g_max")}
counts = {c: measure(c, decimals=0) for c in ("iterations", "negative_weights", "g_outside_bounds")}
units = {c: measure(c, "enterprises") for c in ("respondents", "imputed_units", "nonrespondents")}
widgets.formatted_table(weights, "est_weights", variables={
    **ratio, **counts, **units, "method": measure("method"), "distance": measure("distance"),
    "converged": measure("converged"), "values": measure("values"),
    "weight_min": measure("weight_min", "weight"), "weight_max": measure("weight_max", "weight"),
    "kish_deff": measure("kish_deff", "ratio"), "effective_n": measure("effective_n", "number", 1)},
    column_config={"max_constraint_error": st.column_config.NumberColumn(
        t("est.col.max_constraint_error"), format="%.2e")})


def survey_run() -> dict:
    # the settings and table versions of the estimates shown above: the run recomputes exactly them
    return {"kind": "survey_estimate", "params": params, "inputs": dict(versions),
            "title": f"Survey estimate {params['variable']} {params['period']}",
            "series": f"survey_{params['variable']}"}


run_views.submit_for_review("est", user, survey_run, blocked=t("est.submit_blocked") if result.problems else None)
