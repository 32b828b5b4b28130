"""Survey estimation (design-based, calibrated, replicate variance) and small-area estimation."""

from workbench.methods.estimate.calibration import (
    CalibrationError,
    calibrate,
    calibrate_weights,
    model_matrix,
    nonresponse_adjust,
    population_totals,
)
from workbench.methods.estimate.design import (
    EstimateResult,
    SurveyDesign,
    by_domain,
    design_effect,
    mean,
    ratio,
    total,
)
from workbench.methods.estimate.replicate import replicate_estimate, replicate_factors
from workbench.methods.estimate.sae import BatteseHarterFuller, FayHerriot, benchmark

__all__ = [
    "CalibrationError", "calibrate", "calibrate_weights", "model_matrix", "nonresponse_adjust",
    "population_totals", "EstimateResult", "SurveyDesign", "by_domain", "design_effect", "mean", "ratio", "total",
    "replicate_estimate", "replicate_factors", "FayHerriot", "BatteseHarterFuller", "benchmark",
]
