"""Calibration of design weights to known totals (Deville and Sarndal 1992).

Weights ``w = d * F(x' lambda)`` are found by Newton iterations on the calibration
equations ``sum w x = T``, as R's ``survey::grake`` / ``sampling::calib`` do, for the
linear (GREG), raking (exponential), logit (bounded) and truncated linear distances.

The variance of a calibrated estimator is the design variance of the calibration
residuals ``w_i (u_i - x_i' B)``, ``B`` the design-weighted regression of the score on
the auxiliaries (R ``svyrecvar`` with a ``greg_calibration`` record).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

METHODS = ("linear", "raking", "logit", "truncated")


class CalibrationError(RuntimeError):
    pass


def _distance(method: str, bounds: tuple[float, float]):
    lo, up = bounds
    if method == "linear":
        return (lambda u: 1 + u), (lambda u: np.ones_like(u))
    if method == "raking":
        return np.exp, np.exp
    if method == "truncated":
        return (lambda u: np.clip(1 + u, lo, up)), (lambda u: ((1 + u > lo) & (1 + u < up)).astype(float))
    if method == "logit":
        if not (lo < 1 < up):
            raise ValueError("logit bounds need lower < 1 < upper")
        a = (up - lo) / ((1 - lo) * (up - 1))

        def f(u):
            e = np.exp(np.clip(a * u, -700, 700))
            return (lo * (up - 1) + up * (1 - lo) * e) / ((up - 1) + (1 - lo) * e)

        def fprime(u):
            g = f(u)
            return a * (g - lo) * (up - g) / (up - lo)

        return f, fprime
    raise ValueError(f"calibration method {method!r}; choose from {METHODS}")


@dataclass
class CalibrationInfo:
    """What a calibration pinned: enough to compute residual scores for the variance."""

    X: np.ndarray
    design_weights: np.ndarray
    g: np.ndarray

    def residuals(self, weighted_scores: np.ndarray) -> np.ndarray:
        w = self.design_weights * self.g
        u = np.divide(weighted_scores, w[:, None], out=np.zeros_like(weighted_scores), where=w[:, None] != 0)
        dX = self.X * self.design_weights[:, None]
        B, *_ = np.linalg.lstsq(dX.T @ self.X, dX.T @ u, rcond=None)
        return w[:, None] * (u - self.X @ B)


@dataclass
class CalibrationResult:
    weights: np.ndarray
    g: np.ndarray
    iterations: int
    converged: bool
    method: str
    max_error: float

    def diagnostics(self, design_weights: np.ndarray) -> pd.DataFrame:
        """Weight diagnostics: g range, weight range, Kish effective sample size and deff."""
        w = self.weights
        n = len(w)
        kish = n * (w ** 2).sum() / w.sum() ** 2
        return pd.DataFrame([{
            "method": self.method, "iterations": self.iterations, "converged": self.converged,
            "g_min": self.g.min(), "g_max": self.g.max(), "weight_min": w.min(), "weight_max": w.max(),
            "negative_weights": int((w < 0).sum()), "kish_deff": kish, "effective_n": n / kish,
            "max_constraint_error": self.max_error,
        }])


def calibrate_weights(X: np.ndarray, d: np.ndarray, totals: np.ndarray, method: str = "linear",
                      bounds: tuple[float, float] = (-np.inf, np.inf), max_iter: int = 100,
                      tol: float = 1e-10) -> CalibrationResult:
    """g-weights so that ``sum d g x = totals``; Newton on the Lagrange multipliers."""
    X = np.asarray(X, float)
    d = np.asarray(d, float)
    T = np.asarray(totals, float)
    if method in ("logit", "truncated") and not np.all(np.isfinite(bounds)):
        raise ValueError(f"{method} calibration needs finite bounds (lower, upper)")
    F, Fp = _distance(method, bounds)
    # Scale columns to comparable size (counts next to yuan totals), or the solve drops small directions.
    col = np.maximum(np.abs(X).max(axis=0), 1e-300)
    X, T = X / col, T / col
    lam = np.zeros(X.shape[1])
    scale = np.maximum(np.abs(T), 1e-12)
    for it in range(1, max_iter + 1):
        u = X @ lam
        g = F(u)
        resid = T - X.T @ (d * g)
        err = float(np.max(np.abs(resid) / scale))
        if err < tol:
            return CalibrationResult(d * g, g, it - 1, True, method, err)
        H = X.T @ (X * (d * Fp(u))[:, None])
        step, *_ = np.linalg.lstsq(H, resid, rcond=None)
        lam = lam + step
    g = F(X @ lam)
    err = float(np.max(np.abs(T - X.T @ (d * g)) / scale))
    if err > 1e-6:
        raise CalibrationError(f"{method} calibration did not converge in {max_iter} iterations "
                               f"(max relative constraint error {err:.2e}); widen the bounds or check the totals")
    return CalibrationResult(d * g, g, max_iter, err < tol, method, err)


def calibrate(design, X: np.ndarray, totals: np.ndarray, method: str = "linear",
              bounds: tuple[float, float] = (-np.inf, np.inf), **kw):
    """A calibrated copy of *design* (its variance uses calibration residuals) and the result."""
    res = calibrate_weights(X, design.weights, totals, method, bounds, **kw)
    info = CalibrationInfo(np.asarray(X, float), design.weights, res.g)
    return design.with_weights(res.weights, info), res


def model_matrix(df: pd.DataFrame, categorical: list[str] = (), numeric: list[str] = (),
                 intercept: bool = True) -> pd.DataFrame:
    """Auxiliary matrix like R's ``model.matrix(~ a + b)``: intercept, treatment dummies, numerics."""
    parts = [pd.DataFrame({"(Intercept)": np.ones(len(df))}, index=df.index)] if intercept else []
    for c in categorical:
        parts.append(pd.get_dummies(df[c].astype(str), prefix=c, prefix_sep="", drop_first=intercept,
                                    dtype=float))
    for c in numeric:
        parts.append(df[[c]].astype(float))
    return pd.concat(parts, axis=1)


def population_totals(pop: pd.DataFrame, categorical: list[str] = (), numeric: list[str] = (),
                      intercept: bool = True) -> pd.Series:
    """Totals of the auxiliary matrix over a register/population frame."""
    return model_matrix(pop, categorical, numeric, intercept).sum()


def nonresponse_adjust(weights: np.ndarray, responded: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Weighting-class adjustment: respondents carry the weight of non-respondents in their class."""
    w = np.asarray(weights, float)
    r = np.asarray(responded, bool)
    frame = pd.DataFrame({"w": w, "wr": w * r, "c": classes})
    sums = frame.groupby("c")[["w", "wr"]].transform("sum")
    factor = np.divide(sums["w"].to_numpy(), sums["wr"].to_numpy(), out=np.zeros(len(w)),
                       where=sums["wr"].to_numpy() > 0)
    return np.where(r, w * factor, 0.0)
