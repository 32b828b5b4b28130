"""Replicate-weight variance: delete-one-PSU jackknife (JK1, JKn) and the Rao-Wu bootstrap.

Replicate weights are factors on the design weights; a calibrated estimator is
re-calibrated in every replicate, so the variance reflects the calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.methods.estimate.calibration import CalibrationError, calibrate_weights, resolve_distance
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
        if self._n_h[r] < 2:
            return f  # a lone PSU is not deleted: its stratum contributes no variance (scale 0)
        f[self._strata_of_psu[self._codes] == self._strata_of_psu[r]] = self._n_h[r] / (self._n_h[r] - 1)
        f[self._codes == r] = 0.0
        return f


def replicate_factors(design: SurveyDesign, method: str = "JKn", n_boot: int = 200, seed: int = 0) -> Replicates:
    """JK1 (one stratum), JKn (stratified), or bootstrap (Rao-Wu, n_h - 1 PSUs drawn per stratum,
    rescaled by the finite population correction when the design has one)."""
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
        scale = (n_h - 1) / n_h  # 0 for a lone PSU
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
            # Rao and Wu (1988) rescaling with the finite population correction: lam = sqrt(1 - f_h)
            # for m_h = n_h - 1 draws; without an fpc lam = 1, the plain Rao-Wu bootstrap.
            lam = np.sqrt(fpc[idx[0]]) if fpc is not None else 1.0
            psu_factor[idx] = 1.0 - lam + lam * counts * m / (m - 1)
        return Replicates(n_boot, np.full(n_boot, 1.0 / (n_boot - 1)), True, method, codes, _boot=psu_factor)
    raise ValueError(f"replicate method {method!r}: JK1, JKn or bootstrap")


def _psu_factors(reps: Replicates, cols: np.ndarray) -> np.ndarray:
    """PSU x len(cols) replicate factors."""
    if reps._boot is not None:
        return reps._boot[:, cols]
    n_psu = len(reps._strata_of_psu)
    f = np.ones((n_psu, len(cols)))
    same = reps._strata_of_psu[:, None] == reps._strata_of_psu[cols][None, :]
    lone = reps._n_h[cols] < 2
    c = np.where(lone, 1.0, reps._n_h[cols] / np.maximum(reps._n_h[cols] - 1.0, 1.0))
    f = np.where(same, c[None, :], f)
    f[cols[~lone], np.flatnonzero(~lone)] = 0.0
    return f


def _replicate_sums(reps: Replicates, psu_values: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``sum_psu factor_r(psu) * psu_values[psu]`` for the replicates *cols*: len(cols) x m.

    Jackknife factors have structure (1 everywhere, n_h/(n_h-1) in the deleted PSU's stratum,
    0 for the deleted PSU), so their sums cost O(R m) instead of a PSU x R product.
    """
    if reps._boot is not None:
        return reps._boot[:, cols].T @ psu_values
    h = reps._strata_of_psu
    codes, uniques = pd.factorize(h)
    by_h = np.zeros((len(uniques), psu_values.shape[1]))
    np.add.at(by_h, codes, psu_values)
    n_h = reps._n_h[cols]
    lone = (n_h < 2)[:, None]  # a lone PSU is not deleted (its replicate equals the full sample)
    c = np.where(lone, 1.0, (n_h / np.maximum(n_h - 1.0, 1.0))[:, None])
    return psu_values.sum(0)[None, :] + (c - 1.0) * by_h[codes[cols]] - np.where(lone, 0.0, c) * psu_values[cols]


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched ``A_r x_r = b_r``; a singular replicate system falls back to least squares."""
    try:
        return np.linalg.solve(A, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.stack([np.linalg.lstsq(a, v, rcond=None)[0] for a, v in zip(A, b)])


def _triangle(p: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(p)


def _unpack(tri: np.ndarray, p: int) -> np.ndarray:
    """R x p(p+1)/2 upper triangles -> R x p x p symmetric matrices."""
    iu = _triangle(p)
    out = np.zeros((tri.shape[0], p, p))
    out[:, iu[0], iu[1]] = tri
    out[:, iu[1], iu[0]] = tri
    return out


def _psu_sum(codes: np.ndarray, n_psu: int, values: np.ndarray) -> np.ndarray:
    out = np.zeros((n_psu, values.shape[1]))
    np.add.at(out, codes, values)
    return out


def replicate_thetas(design: SurveyDesign, Y: np.ndarray, statistic: str, reps: Replicates,
                     X: np.ndarray | None = None, totals: np.ndarray | None = None, calibration: str = "linear",
                     bounds=(-np.inf, np.inf), chunk: int = 256, max_iter: int = 50,
                     tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Full-sample estimate and R x k replicate estimates, every replicate re-calibrated.

    All replicates are solved together. Linear (GREG) calibration is closed form: the
    replicate weights are ``d_r (1 + x' lambda_r)`` with ``lambda_r`` from a p x p system built
    from PSU totals of ``d x x'``. Raking, logit and truncated distances run Newton
    iterations vectorised over a chunk of replicates, warm-started at the full-sample solution.
    """
    d = design.weights
    n_psu = len(pd.unique(reps._codes))
    codes = reps._codes
    if X is None:
        psu_y = _psu_sum(codes, n_psu, d[:, None] * Y)
        psu_d = _psu_sum(codes, n_psu, d[:, None])
        theta = (d @ Y) if statistic == "total" else (d @ Y) / d.sum()
        out = np.empty((reps.n_replicates, Y.shape[1]))
        for start in range(0, reps.n_replicates, chunk):
            cols = np.arange(start, min(start + chunk, reps.n_replicates))
            t = _replicate_sums(reps, psu_y, cols)
            out[cols] = t if statistic == "total" else t / _replicate_sums(reps, psu_d, cols)
        return theta, out
    X = np.asarray(X, float)
    T = np.asarray(totals, float)
    col = np.maximum(np.abs(X).max(axis=0), 1e-300)  # same scaling as calibrate_weights
    Xs, Ts = X / col, T / col
    full = calibrate_weights(X, d, T, calibration, bounds, max_iter=max_iter, tol=tol)
    calibration = resolve_distance(calibration, bounds)  # linear with bounds is truncated linear
    theta = full.weights @ Y
    theta = theta if statistic == "total" else theta / full.weights.sum()
    p = Xs.shape[1]
    iu = _triangle(p)
    outer = (Xs[:, iu[0]] * Xs[:, iu[1]])  # n x p(p+1)/2
    out = np.empty((reps.n_replicates, Y.shape[1]))
    if calibration == "linear":
        psu_A = _psu_sum(codes, n_psu, d[:, None] * outer)
        psu_b = _psu_sum(codes, n_psu, d[:, None] * Xs)
        psu_y = _psu_sum(codes, n_psu, d[:, None] * Y)
        psu_G = _psu_sum(codes, n_psu, (d[:, None] * Y)[:, :, None].__mul__(Xs[:, None, :]).reshape(len(d), -1))
        psu_d = _psu_sum(codes, n_psu, d[:, None])
        for start in range(0, reps.n_replicates, chunk):
            cols = np.arange(start, min(start + chunk, reps.n_replicates))
            A = _unpack(_replicate_sums(reps, psu_A, cols), p)
            b = _replicate_sums(reps, psu_b, cols)
            lam = _solve(A, Ts[None, :] - b)
            G = _replicate_sums(reps, psu_G, cols).reshape(len(cols), Y.shape[1], p)
            t = _replicate_sums(reps, psu_y, cols) + np.einsum("rkp,rp->rk", G, lam)
            if statistic == "mean":
                t = t / (_replicate_sums(reps, psu_d, cols)[:, 0] + np.einsum("rp,rp->r", b, lam))[:, None]
            out[cols] = t
        return theta, out
    from workbench.methods.estimate.calibration import _distance

    F, Fp = _distance(calibration, bounds)
    lam0 = np.linalg.lstsq(Xs, np.log(full.g) if calibration.startswith("raking") else full.g - 1,
                           rcond=None)[0] if calibration in ("raking", "raking_truncated", "linear") else None
    scale = np.maximum(np.abs(Ts), 1e-12)
    for start in range(0, reps.n_replicates, chunk):
        cols = np.arange(start, min(start + chunk, reps.n_replicates))
        W = d[:, None] * _psu_factors(reps, cols)[codes]  # n x C replicate design weights
        lam = np.zeros((len(cols), p)) if lam0 is None else np.repeat(lam0[None, :], len(cols), 0)
        for _ in range(max_iter):
            U = Xs @ lam.T
            G = F(U)
            resid = Ts[None, :] - (W * G).T @ Xs
            if np.max(np.abs(resid) / scale) < tol:
                break
            H = _unpack((W * Fp(U)).T @ outer, p)
            lam = lam + _solve(H, resid)
        else:
            err = float(np.max(np.abs(Ts[None, :] - (W * F(Xs @ lam.T)).T @ Xs) / scale))
            if err > 1e-6:
                raise CalibrationError(f"{calibration} calibration of a replicate did not converge "
                                       f"(max relative constraint error {err:.2e})", "not_converged", calibration, err)
        w = W * F(Xs @ lam.T)
        t = w.T @ Y
        out[cols] = t if statistic == "total" else t / w.sum(0)[:, None]
    return theta, out


def replicate_estimate(design: SurveyDesign, y, statistic: str = "total", reps: Replicates | None = None,
                       X: np.ndarray | None = None, totals: np.ndarray | None = None,
                       calibration: str = "linear", bounds=(-np.inf, np.inf), method: str = "JKn",
                       seed: int = 0, n_boot: int = 200, engine: str = "batched") -> EstimateResult:
    """Totals or means with replicate variance; with *X*/*totals*, each replicate is re-calibrated.

    ``engine="batched"`` (default) solves all replicates together (:func:`replicate_thetas`);
    ``engine="loop"`` re-calibrates one replicate at a time with :func:`calibrate_weights`, the
    reference the batched path is tested against and the baseline of ``bench/estimate.py``.
    """
    Y, names = _as_matrix(y)
    reps = reps or replicate_factors(design, method, n_boot=n_boot, seed=seed)
    if engine == "batched":
        theta, thetas = replicate_thetas(design, Y, statistic, reps, X, totals, calibration, bounds)
    elif engine == "loop":
        theta, thetas = _replicate_loop(design, Y, statistic, reps, X, totals, calibration, bounds)
    else:
        raise ValueError("engine: batched or loop")
    center = thetas.mean(0) if reps.center_on_mean else theta
    dev = thetas - center
    var = (dev * reps.scale[:, None]).T @ dev
    return EstimateResult(names, statistic, theta, var, None, None, reps.method,
                          {"replicates": reps.n_replicates, "replicate_estimates": thetas})


def _replicate_loop(design, Y, statistic, reps, X, totals, calibration, bounds):
    base = design.weights

    def weights_for(d):
        if X is None:
            return d
        return calibrate_weights(X, d, totals, calibration, bounds).weights

    def stat(w):
        t = w @ Y
        return t if statistic == "total" else t / w.sum()

    theta = stat(weights_for(base))
    thetas = np.empty((reps.n_replicates, Y.shape[1]))
    for r in range(reps.n_replicates):
        thetas[r] = stat(weights_for(base * reps.factor(r)))
    return theta, thetas
