"""Replicate-weight variance: delete-one-PSU jackknife (JK1, JKn) and the Rao-Wu bootstrap.

Replicate weights are factors on the design weights; a calibrated estimator is
re-calibrated in every replicate, so the variance reflects the calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.methods.estimate.calibration import calibrate_weights
from workbench.methods.estimate.design import EstimateResult, SurveyDesign, _as_matrix


@dataclass
class Replicates:
    """Replicate r multiplies the design weights by ``factor(r)`` (built on demand: n x R can be large)."""

    n_replicates: int
    scale: np.ndarray        # R coefficients of the squared deviations
    center_on_mean: bool     # bootstrap: deviations from the replicate mean
    method: str
    _codes: np.ndarray = None
    _strata_of_psu: np.ndarray = None
    _n_h: np.ndarray = None
    _boot: np.ndarray = None  # n_psu x R bootstrap multipliers

    def factor(self, r: int) -> np.ndarray:
        if self._boot is not None:
            return self._boot[self._codes, r]
        f = np.ones(len(self._codes))
        f[self._strata_of_psu[self._codes] == self._strata_of_psu[r]] = self._n_h[r] / (self._n_h[r] - 1)
        f[self._codes == r] = 0.0
        return f


def replicate_factors(design: SurveyDesign, method: str = "JKn", n_boot: int = 200, seed: int = 0) -> Replicates:
    """JK1 (one stratum), JKn (stratified), or bootstrap (Rao-Wu, n_h - 1 PSUs drawn per stratum)."""
    psu = pd.Series(list(zip(design.strata, design.clusters)))
    codes, uniques = pd.factorize(psu)
    strata_of_psu = np.array([u[0] for u in uniques])
    n_psu = len(uniques)
    n_h = pd.Series(strata_of_psu).map(pd.Series(strata_of_psu).value_counts()).to_numpy()
    fpc = None
    if design.fpc is not None:
        fpc_h = pd.Series(design.fpc).groupby(design.strata).first()
        fpc = 1 - n_h / fpc_h.loc[strata_of_psu].to_numpy()
    if method in ("JK1", "JKn"):
        if method == "JK1" and len(np.unique(strata_of_psu)) > 1:
            raise ValueError("JK1 is for unstratified designs; use JKn")
        scale = (n_h - 1) / n_h
        if fpc is not None:
            scale = scale * fpc
        return Replicates(n_psu, scale, False, method, codes, strata_of_psu, n_h)
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        psu_factor = np.zeros((n_psu, n_boot))
        for h in np.unique(strata_of_psu):
            idx = np.flatnonzero(strata_of_psu == h)
            m = len(idx)
            if m < 2:
                psu_factor[idx] = 1.0
                continue
            draws = rng.integers(0, m, size=(m - 1, n_boot))
            counts = (draws[:, None, :] == np.arange(m)[None, :, None]).sum(0) if m < 2000 else \
                np.stack([np.bincount(draws[:, b], minlength=m) for b in range(n_boot)], axis=1)
            psu_factor[idx] = counts * m / (m - 1)
        return Replicates(n_boot, np.full(n_boot, 1.0 / (n_boot - 1)), True, method, codes, _boot=psu_factor)
    raise ValueError(f"replicate method {method!r}: JK1, JKn or bootstrap")


def replicate_estimate(design: SurveyDesign, y, statistic: str = "total", reps: Replicates | None = None,
                       X: np.ndarray | None = None, totals: np.ndarray | None = None,
                       calibration: str = "linear", bounds=(-np.inf, np.inf), method: str = "JKn",
                       seed: int = 0) -> EstimateResult:
    """Totals or means with replicate variance; with *X*/*totals*, each replicate is re-calibrated."""
    Y, names = _as_matrix(y)
    reps = reps or replicate_factors(design, method, seed=seed)
    base = design.weights

    def weights_for(d):
        if X is None:
            return d
        return calibrate_weights(X, d, totals, calibration, bounds).weights

    def stat(w):
        t = w @ Y
        return t if statistic == "total" else t / w.sum()

    full_w = weights_for(base)
    theta = stat(full_w)
    R = reps.n_replicates
    thetas = np.empty((R, Y.shape[1]))
    for r in range(R):
        thetas[r] = stat(weights_for(base * reps.factor(r)))
    center = thetas.mean(0) if reps.center_on_mean else theta
    dev = thetas - center
    var = (dev * reps.scale[:, None]).T @ dev
    return EstimateResult(names, statistic, theta, var, None, None, reps.method, {"replicates": R})
