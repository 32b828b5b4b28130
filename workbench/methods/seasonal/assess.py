"""Good, uncertain or bad: the marks beside a seasonal adjustment's diagnostics.

JDemetra+ marks each diagnostic of an adjustment so a statistician sees at once what fails;
the page listed M8 = 1.107 and an MA coefficient of -1.00 without a word. The rules, stated
on the page, are the conventional ones:

* M1-M11, Q and Q2 (Lothian and Morry): below 1 accepted, 1 or more rejected.
* tests for seasonality left in the adjusted series or the residuals (QS, Kruskal-Wallis):
  p at least 0.05 good, 0.01 to 0.05 uncertain, below 0.01 bad (seasonality is left).
* an ARIMA coefficient at +-1 (shown as 1.00 to two decimals): a moving-average term there is
  on the non-invertible boundary (the series was differenced once too often), an
  autoregressive one on the unit-root boundary; either way the model is not to be trusted.
"""

from __future__ import annotations

import math

GOOD, UNCERTAIN, BAD = "good", "uncertain", "bad"
M_STATISTICS = frozenset({f"M{i}" for i in range(1, 12)} | {"Q", "Q2"})
M_ACCEPTED_BELOW = 1.0
# p-values of tests whose null is "no seasonality left": a small p means seasonality is left
NO_SEASONALITY_LEFT = frozenset({"qs_seasadj_p", "qs_residuals_p", "residual_seasonality_p"})
P_UNCERTAIN_BELOW, P_BAD_BELOW = 0.05, 0.01
# |coefficient| from which an ARIMA term counts as on the unit circle: it reads 1.00 shown to 2 decimals
ARIMA_BOUNDARY = 0.995


def statistic_mark(statistic: str, value: float) -> str | None:
    """GOOD, UNCERTAIN or BAD for a quality statistic or test, None for one without a rule."""
    if value is None or not math.isfinite(value):
        return None
    if statistic in M_STATISTICS:
        return GOOD if value < M_ACCEPTED_BELOW else BAD
    if statistic in NO_SEASONALITY_LEFT:
        return GOOD if value >= P_UNCERTAIN_BELOW else UNCERTAIN if value >= P_BAD_BELOW else BAD
    return None


def coefficient_mark(variable: str, estimate: float) -> str | None:
    """BAD for an ARIMA term (``MA-Nonseasonal-01``) on the unit circle, None otherwise."""
    if not str(variable).startswith(("AR-", "MA-")) or estimate is None or not math.isfinite(estimate):
        return None
    return BAD if abs(estimate) >= ARIMA_BOUNDARY else None
