"""Outlier statistics for survey editing: pure NumPy, no I/O, no Spark.

* :func:`hidiroglou_berthelot`: the Hidiroglou-Berthelot (1986) edit for
  period-to-period ratios, as implemented by R's ``univOutl::HBmethod``
  (D'Orazio): ratio r = x_t / x_{t-1}; centred s = 1 - r_M/r below the median
  ratio r_M and r/r_M - 1 above it; effect E = s * max(x_t, x_{t-1})^U; E's
  quartiles by R's default quantile (type 7, linear interpolation);
  d_Q1 = max(E_M - E_Q1, |A * E_M|), d_Q3 = max(E_Q3 - E_M, |A * E_M|); an
  outlier lies outside [E_M - C d_Q1, E_M + C d_Q3]. Pairs with a zero or a
  missing value are excluded (NaN out), as in ``HBmethod``.
* :func:`robust_z`: (x - median) / (1.4826 MAD), the MAD scaled to be
  consistent for the normal standard deviation (R's ``mad()`` default).

Reference: Hidiroglou, M.A. and Berthelot, J.-M. (1986), Statistical editing
and imputation for periodic business surveys, Survey Methodology 12(1), 73-83.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAD_SCALE = 1.4826  # 1 / qnorm(0.75), R's mad() constant


@dataclass(frozen=True)
class HBResult:
    """Per unit: ratio, E score, outlier flag (NaN / False where excluded); the fitted bounds."""

    ratio: np.ndarray
    score: np.ndarray
    outlier: np.ndarray
    upward: np.ndarray  # outlier in the upper tail (an unusual rise)
    median_ratio: float
    quartiles: tuple[float, float, float]
    lower: float
    upper: float


def hidiroglou_berthelot(previous, current, U: float = 0.5, A: float = 0.05, C: float | tuple[float, float] = 4.0,
                         min_units: int = 1) -> HBResult:
    """HB edit of *current* against *previous* (arrays of one variable for the same units).

    ``C`` may be a pair (lower, upper) for asymmetric bounds. With fewer than
    ``min_units`` usable pairs nothing is flagged and the bounds are NaN.
    """
    x1 = np.asarray(previous, dtype=float)
    x2 = np.asarray(current, dtype=float)
    if x1.shape != x2.shape:
        raise ValueError("previous and current must have the same length")
    c_low, c_up = (C, C) if np.isscalar(C) else (float(C[0]), float(C[1]))
    n = len(x1)
    ratio = np.full(n, np.nan)
    score = np.full(n, np.nan)
    outlier = np.zeros(n, dtype=bool)
    upward = np.zeros(n, dtype=bool)
    ok = np.isfinite(x1) & np.isfinite(x2) & (x1 != 0) & (x2 != 0)
    if ok.sum() < max(min_units, 1):
        return HBResult(ratio, score, outlier, upward, np.nan, (np.nan,) * 3, np.nan, np.nan)
    r = x2[ok] / x1[ok]
    r_m = float(np.median(r))
    s = np.where(r < r_m, 1.0 - r_m / r, r / r_m - 1.0)
    e = s * np.maximum(x1[ok], x2[ok]) ** U
    q1, qm, q3 = (float(v) for v in np.quantile(e, [0.25, 0.5, 0.75]))  # numpy 'linear' = R type 7
    d_q1 = max(qm - q1, abs(A * qm))
    d_q3 = max(q3 - qm, abs(A * qm))
    lower, upper = qm - c_low * d_q1, qm + c_up * d_q3
    ratio[ok], score[ok] = r, e
    outlier[ok] = (e < lower) | (e > upper)
    upward[ok] = e > upper
    return HBResult(ratio, score, outlier, upward, r_m, (q1, qm, q3), lower, upper)


def robust_z(values, min_units: int = 1) -> np.ndarray:
    """Robust z-scores (x - median) / (1.4826 MAD); NaN for missing values, or when MAD is 0
    or fewer than ``min_units`` values are present."""
    x = np.asarray(values, dtype=float)
    out = np.full(len(x), np.nan)
    ok = np.isfinite(x)
    if ok.sum() < max(min_units, 1):
        return out
    med = np.median(x[ok])
    mad = MAD_SCALE * np.median(np.abs(x[ok] - med))
    if mad > 0:
        out[ok] = (x[ok] - med) / mad
    return out
