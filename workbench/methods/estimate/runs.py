"""Run kinds for survey estimates and small areas (listed in ``workbench.runs.kinds``).

Each method reads its pinned inputs (Spark DataFrames), keeps the period it needs, converts to
pandas and calls the pure functions of :mod:`workbench.methods.estimate.survey`, so a run can be
reproduced from the Delta versions it recorded.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from workbench.methods.estimate.calibration import CalibrationError
from workbench.methods.estimate.survey import estimation_frame, settings, small_area_estimates, survey_estimates

REGISTER = "gold.enterprise_month"
SAMPLE = "silver.survey_sample"
PANEL = "quality.survey_panel"
# legal form and birth/death dates rebuild the sampling frame the calibration totals come from
REGISTER_COLUMNS = ["credit_code", "township_code", "county_code", "industry_section", "size_class", "vat_sales",
                    "si_headcount", "survey_revenue", "survey_employment", "legal_form", "birth_date", "death_date"]


def inputs_for(use_panel: bool) -> list[str]:
    """The tables a survey run reads (the panel only when the quality layer has built it)."""
    return [REGISTER, SAMPLE] + ([PANEL] if use_panel else [])


def period_frames(inputs: Mapping[str, DataFrame],
                  period: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """(sample of the period's year, register of the period, panel of the period or None) as pandas,
    each in credit-code order.

    The engine returns rows in whatever order its partitions finish, and the estimators are
    not indifferent to it: the bootstrap numbers PSUs in order of appearance and draws its
    replicates in that numbering, so the same seed gave other standard errors on the cluster
    than on the embedded engine. Key order makes a run a function of its inputs alone.
    """
    day = pd.Timestamp(f"{period}-01").date()
    register = _in_key_order(inputs[REGISTER].filter(F.col("period") == F.lit(day)).select(*REGISTER_COLUMNS))
    sample = _in_key_order(inputs[SAMPLE].filter(F.col("sample_year") == day.year).select(
        "credit_code", "sample_year", "stratum", "design_weight", "population_in_stratum"))
    panel = None
    if PANEL in inputs:
        panel = _in_key_order(inputs[PANEL].filter(F.col("period") == F.lit(day)).select(
            "credit_code", "revenue", "revenue_flag", "employment", "employment_flag"))
    return sample, register, panel


def _in_key_order(frame: DataFrame) -> pd.DataFrame:
    return _sorted(frame.toPandas(), "credit_code")


def _sorted(df: pd.DataFrame, by: str) -> pd.DataFrame:
    return df.sort_values(by, kind="mergesort").reset_index(drop=True)


def survey_estimate_run(inputs: Mapping[str, DataFrame], params: Mapping[str, Any]) -> dict:
    p = settings(params)
    sample, register, panel = period_frames(inputs, p["period"])
    frame = estimation_frame(sample, register, p["variable"], panel)
    result = survey_estimates(frame, register, p)
    if result.blocked:  # a run that cannot be submitted is not recorded either
        codes = ", ".join(problem.code for problem in result.problems)
        raise CalibrationError(f"the calibrated weights cannot be used: {codes}", "unusable_weights", p["calibration"])
    table, weights = result.estimates, result.weights
    top = table.iloc[0]
    metrics = {"estimate": float(top["estimate"]), "se": float(top["se"]), "cv": float(top["cv"]),
               "imputed_share": float(top["imputed_share"]), "unreliable_domains": int(table["unreliable"].sum()),
               "respondents": int(weights["respondents"].iloc[0]),
               "imputed_units": int(weights["imputed_units"].iloc[0]), "values": result.values}
    return {"estimates": _sorted(table, "domain"), "weights": weights, "_metrics": metrics}


def small_area_run(inputs: Mapping[str, DataFrame], params: Mapping[str, Any]) -> dict:
    p = {"variable": "employment", "area": "township_code", "covariate": "si_headcount", "method": "REML",
         "benchmark": "ratio", "alpha": 0.05, "model": "FH", "covariates": None, **dict(params)}
    sample, register, panel = period_frames(inputs, p["period"])
    frame = estimation_frame(sample, register, p["variable"], panel)
    out = small_area_estimates(frame, register, p["area"], p["covariate"], p["method"], p["benchmark"] or None,
                               float(p["alpha"]), model=p["model"], covariates=p["covariates"])
    metrics = {"model": p["model"], "covariates": ",".join(out.attrs["covariates"]),
               "areas": len(out), "areas_fitted": out.attrs["areas_fitted"], "sigma2_u": out.attrs["sigma2_u"],
               "median_cv_direct": float(out["direct_cv"].median()), "median_cv_eblup": float(out["eblup_cv"].median())}
    return {"areas": _sorted(pd.DataFrame(out), "area"), "_metrics": metrics}
