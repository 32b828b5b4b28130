"""Calibration of design weights to known totals (Deville and Sarndal 1992).

Weights ``w = d * F(x' lambda)`` are found by Newton iterations on the calibration
equations ``sum w x = T``, as R's ``survey::grake`` / ``sampling::calib`` do, for the
linear (GREG), raking (exponential), logit (bounded) and truncated linear distances.

Bounds on the g-weights (``lower <= w / d <= upper``) hold for every distance: logit is
bounded by construction; linear with finite bounds *is* the truncated linear distance (as R
``survey::calibrate(calfun = "linear", bounds = ...)``), and raking with finite bounds is
raking truncated the same way. :func:`resolve_distance` names the distance that runs.

The variance of a calibrated estimator is the design variance of the calibration
residuals ``w_i (u_i - x_i' B)``, ``B`` the design-weighted regression of the score on
the auxiliaries (R ``svyrecvar`` with a ``greg_calibration`` record).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

METHODS = ("linear", "raking", "logit", "truncated")
# What a CalibrationError's ``reason`` can be; the app words each one in zh and en.
FAILURES = ("not_converged", "diverged", "empty_constraint", "bad_bounds", "unusable_weights")


class CalibrationError(RuntimeError):
    """Calibration failed; *reason* (one of FAILURES) says why, so a page can word it in its language.

    *constraints* names the totals that could not be met, when known.
    """

    def __init__(self, message: str, reason: str = "not_converged", method: str = "", max_error: float = np.nan,
                 constraints: tuple[str, ...] = ()):
        super().__init__(message)
        self.reason, self.method, self.max_error, self.constraints = reason, method, max_error, tuple(constraints)


def _bounded(bounds: tuple[float, float]) -> bool:
    return bool(np.all(np.isfinite(bounds)))


def resolve_distance(method: str, bounds: tuple[float, float]) -> str:
    """The distance that runs: linear or raking with finite bounds become their truncated forms."""
    if method == "linear" and _bounded(bounds):
        return "truncated"
    if method == "raking" and _bounded(bounds):
        return "raking_truncated"
    return method


def _exp(u):
    # exp of a diverging multiplier overflows to inf and the next solve fails inside LAPACK
    # ("SVD did not converge"); clip first and let the convergence check report it.
    return np.exp(np.clip(u, -700, 700))


def _distance(method: str, bounds: tuple[float, float]):
    lo, up = bounds
    method = resolve_distance(method, bounds)
    if method in ("truncated", "raking_truncated", "logit") and not lo < 1 < up:
        raise CalibrationError(f"{method} calibration needs bounds lower < 1 < upper, got {lo}, {up}", "bad_bounds",
                               method)
    if method == "linear":
        return (lambda u: 1 + u), (lambda u: np.ones_like(u))
    if method == "raking":
        return _exp, _exp
    if method == "truncated":
        return (lambda u: np.clip(1 + u, lo, up)), (lambda u: ((1 + u > lo) & (1 + u < up)).astype(float))
    if method == "raking_truncated":
        return (lambda u: np.clip(_exp(u), lo, up)), (lambda u: _exp(u) * ((_exp(u) > lo) & (_exp(u) < up)))
    if method == "logit":
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


@dataclass(frozen=True)
class WeightProblem:
    """A reason not to publish estimates from these weights; *code* is worded by the app."""

    code: str  # "negative_weights" | "outside_bounds" | "not_converged"
    count: int = 0
    low: float = np.nan
    high: float = np.nan


@dataclass
class CalibrationResult:
    weights: np.ndarray
    g: np.ndarray
    iterations: int
    converged: bool
    method: str
    max_error: float
    bounds: tuple[float, float] = (-np.inf, np.inf)

    @property
    def distance(self) -> str:
        return resolve_distance(self.method, self.bounds)

    def problems(self, tol: float = 1e-6) -> list[WeightProblem]:
        """Negative weights, g-weights outside the bounds and non-convergence: each blocks a release."""
        return weight_problems(self.weights, self.g, self.bounds, self.converged, tol)

    def diagnostics(self, design_weights: np.ndarray) -> pd.DataFrame:
        """Weight diagnostics: g range, weight range, Kish effective sample size and deff."""
        w = self.weights
        n = len(w)
        kish = n * (w ** 2).sum() / w.sum() ** 2
        lo, up = self.bounds
        return pd.DataFrame([{
            "method": self.method, "distance": self.distance, "bound_low": lo, "bound_high": up,
            "iterations": self.iterations, "converged": self.converged,
            "g_min": self.g.min(), "g_max": self.g.max(), "weight_min": w.min(), "weight_max": w.max(),
            "negative_weights": int((w < 0).sum()), "g_outside_bounds": _outside(self.g, self.bounds, 1e-6),
            "kish_deff": kish, "effective_n": n / kish, "max_constraint_error": self.max_error,
        }])


def _outside(g: np.ndarray, bounds: tuple[float, float], tol: float) -> int:
    lo, up = bounds
    return int(((g < lo - tol) | (g > up + tol)).sum())


def weight_problems(weights: np.ndarray, g: np.ndarray, bounds: tuple[float, float], converged: bool,
                    tol: float = 1e-6) -> list[WeightProblem]:
    """What is wrong with calibrated weights, worst first (an empty list: nothing)."""
    out = []
    if not converged:
        out.append(WeightProblem("not_converged"))
    if (weights < 0).any():
        out.append(WeightProblem("negative_weights", int((weights < 0).sum()), float(g.min()), float(g.max())))
    if _outside(g, bounds, tol):
        out.append(WeightProblem("outside_bounds", _outside(g, bounds, tol), float(g.min()), float(g.max())))
    return out


def calibrate_weights(X: np.ndarray, d: np.ndarray, totals: np.ndarray, method: str = "linear",
                      bounds: tuple[float, float] = (-np.inf, np.inf), max_iter: int = 100,
                      tol: float = 1e-10, names: list[str] | None = None) -> CalibrationResult:
    """g-weights so that ``sum d g x = totals``; Newton on the Lagrange multipliers.

    With finite *bounds*, every distance keeps ``lower <= g <= upper`` (see the module doc).
    Newton steps are halved while they make the constraint error worse, so a truncated distance
    does not cycle between two active sets. Raises :class:`CalibrationError` (with a *reason*)
    when a total has no sampled unit to carry it, or the iterations do not meet the totals;
    *names* (the columns of X) let the error say which totals.
    """
    X = np.asarray(X, float)
    d = np.asarray(d, float)
    T = np.asarray(totals, float)
    bounds = (float(bounds[0]), float(bounds[1]))
    if method not in METHODS:
        raise ValueError(f"calibration method {method!r}; choose from {METHODS}")
    if method in ("logit", "truncated") and not _bounded(bounds):
        raise CalibrationError(f"{method} calibration needs finite bounds (lower, upper)", "bad_bounds", method)
    names = list(names) if names is not None else [str(i) for i in range(X.shape[1])]
    empty = (np.abs(X).sum(axis=0) == 0) & (T != 0)
    if empty.any():
        raise CalibrationError("no sampled unit carries the total(s) " + ", ".join(np.asarray(names)[empty]),
                               "empty_constraint", method, constraints=tuple(np.asarray(names)[empty]))
    F, Fp = _distance(method, bounds)
    # Scale columns to comparable size (counts next to yuan totals), or the solve drops small directions.
    col = np.maximum(np.abs(X).max(axis=0), 1e-300)
    X, T = X / col, T / col
    lam = np.zeros(X.shape[1])
    scale = np.maximum(np.abs(T), 1e-12)

    def error(lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        u = X @ lam
        resid = T - X.T @ (d * F(u))
        return float(np.max(np.abs(resid) / scale)), resid, u

    err, resid, u = error(lam)
    it = 0
    while err >= tol and it < max_iter and np.isfinite(err):
        it += 1
        H = X.T @ (X * (d * Fp(u))[:, None])
        try:
            step, *_ = np.linalg.lstsq(H, resid, rcond=None)
        except np.linalg.LinAlgError as exc:  # non-finite Hessian: the multipliers ran away
            raise CalibrationError(f"{method} calibration diverged ({exc})", "diverged", method, err) from exc
        t = 1.0
        for _ in range(30):  # backtracking: accept the first step that does not increase the error
            new = error(lam + t * step)
            if new[0] <= err or not np.isfinite(err):
                break
            t /= 2
        lam = lam + t * step
        err, resid, u = new
    g = F(X @ lam)
    bad = np.abs(resid) / scale > 1e-6
    if not np.isfinite(err) or not np.all(np.isfinite(g)):
        raise CalibrationError(f"{method} calibration diverged", "diverged", method, err)
    if err > 1e-6:
        raise CalibrationError(f"{method} calibration did not converge in {max_iter} iterations "
                               f"(max relative constraint error {err:.2e}); widen the bounds or check the totals",
                               "not_converged", method, err, tuple(np.asarray(names)[bad]))
    return CalibrationResult(d * g, g, it, True, method, err, bounds)  # err <= 1e-6: the totals are met


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
