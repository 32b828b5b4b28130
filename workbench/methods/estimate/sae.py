"""Small-area estimation: Fay-Herriot (area level) and Battese-Harter-Fuller (unit level) EBLUPs.

Follows R's ``sae`` package (Molina and Marhuenda 2015): Fisher scoring for the
random-effect variance (REML or ML, starting at the median sampling variance),
Prasad-Rao MSE (with the Datta-Lahiri bias term for ML), and a parametric bootstrap
MSE (Gonzalez-Manteiga et al. 2008).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize


class FayHerriot:
    """Area-level model ``y_d = x_d' beta + u_d + e_d``, ``u ~ N(0, A)``, ``e ~ N(0, psi_d)`` known.

    Args:
        method: "REML" or "ML".
        max_iter, tol: Fisher scoring limits (relative change in A).
    """

    def __init__(self, method: str = "REML", max_iter: int = 100, tol: float = 1e-10):
        self.method = method
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, y, X, vardir) -> "FayHerriot":
        y = np.asarray(y, float)
        X = np.asarray(X, float)
        D = np.asarray(vardir, float)
        if self.method not in ("REML", "ML"):
            raise ValueError("method is REML or ML")
        A = float(np.median(D))
        for it in range(1, self.max_iter + 1):
            V = 1 / (A + D)
            XtV = X.T * V
            Q = np.linalg.inv(XtV @ X)
            if self.method == "REML":
                P = np.diag(V) - (V[:, None] * X) @ Q @ XtV
                Py = P @ y
                score = -0.5 * np.trace(P) + 0.5 * Py @ Py
                info = 0.5 * np.sum(P * P.T)
            else:
                beta = Q @ XtV @ y
                r = y - X @ beta
                score = -0.5 * V.sum() + 0.5 * np.sum(V ** 2 * r ** 2)
                info = 0.5 * np.sum(V ** 2)
            new = max(A + score / info, 0.0)
            done = abs(new - A) <= self.tol * max(A, 1e-12)
            A = new
            if done:
                break
        self.iterations_ = it
        self.sigma2_u_ = A
        V = 1 / (A + D)
        XtV = X.T * V
        Q = np.linalg.inv(XtV @ X)
        self.beta_ = Q @ XtV @ y
        self.beta_cov_ = Q
        self.beta_se_ = np.sqrt(np.diag(Q))
        self.gamma_ = A / (A + D)          # shrinkage factor towards the direct estimate
        self.synthetic_ = X @ self.beta_
        self.eblup_ = self.synthetic_ + self.gamma_ * (y - self.synthetic_)
        self._X, self._y, self._D = X, y, D
        self.mse_ = self._prasad_rao()
        return self

    def synthetic_mse(self, X) -> np.ndarray:
        """MSE of the synthetic estimate x'beta of an area left out of the fit: the model
        variance plus the regression's, ``sigma2_u + x' Var(beta) x`` (Rao and Molina 2015,
        sec. 6.1.2)."""
        X = np.asarray(X, float)
        return self.sigma2_u_ + np.einsum("ij,jk,ik->i", X, self.beta_cov_, X)

    def _prasad_rao(self) -> np.ndarray:
        X, D, A = self._X, self._D, self.sigma2_u_
        V = 1 / (A + D)
        B = D / (A + D)
        Q = np.linalg.inv((X.T * V) @ X)
        var_A = 2 / np.sum(V ** 2)
        g1 = D * (1 - B)
        g2 = B ** 2 * np.einsum("ij,jk,ik->i", X, Q, X)
        g3 = B ** 2 * var_A / (A + D)
        mse = g1 + g2 + 2 * g3
        if self.method == "ML":
            bias = -np.trace(Q @ ((X.T * V ** 2) @ X)) / np.sum(V ** 2)
            mse = mse - bias * B ** 2
        return mse

    def bootstrap_mse(self, B: int = 200, seed: int = 0) -> np.ndarray:
        """Parametric bootstrap MSE of the EBLUP (R ``sae::pbmseFH``)."""
        rng = np.random.default_rng(seed)
        X, D = self._X, self._D
        m = len(D)
        acc = np.zeros(m)
        for _ in range(B):
            theta = X @ self.beta_ + rng.normal(0, np.sqrt(self.sigma2_u_), m)
            ystar = theta + rng.normal(0, np.sqrt(D))
            fit = FayHerriot(self.method, self.max_iter, self.tol).fit(ystar, X, D)
            acc += (fit.eblup_ - theta) ** 2
        return acc / B

    def summary(self, names=None) -> pd.DataFrame:
        names = np.arange(len(self._y)) if names is None else names
        return pd.DataFrame({"area": names, "direct": self._y, "direct_mse": self._D, "eblup": self.eblup_,
                             "mse": self.mse_, "shrinkage": self.gamma_, "synthetic": self.synthetic_})

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        from scipy import stats

        z = stats.norm.ppf(1 - alpha / 2)
        se = np.sqrt(self.mse_)
        return np.column_stack([self.eblup_ - z * se, self.eblup_ + z * se])


class BatteseHarterFuller:
    """Unit-level nested-error model ``y_ij = x_ij' beta + u_i + e_ij`` (R ``sae::eblupBHF``).

    Variance components by REML (or ML) maximised numerically; area means predicted
    with the population means of x and the sampling fraction ``n_i / N_i``.
    """

    def __init__(self, method: str = "REML"):
        self.method = method

    @staticmethod
    def _loglik(log_s, y, X, groups, reml):
        su2, se2 = np.exp(log_s)
        n = len(y)
        XtVX = np.zeros((X.shape[1], X.shape[1]))
        XtVy = np.zeros(X.shape[1])
        logdet = 0.0
        blocks = []
        for idx in groups:
            ni = len(idx)
            Xi, yi = X[idx], y[idx]
            c = su2 / (se2 + ni * su2)
            # V_i^-1 = (I - c J) / se2 ; |V_i| = se2^(ni-1) (se2 + ni su2)
            Xs, ys = Xi.sum(0), yi.sum()
            XtVX += (Xi.T @ Xi - c * np.outer(Xs, Xs)) / se2
            XtVy += (Xi.T @ yi - c * Xs * ys) / se2
            logdet += (ni - 1) * np.log(se2) + np.log(se2 + ni * su2)
            blocks.append((Xi, yi, c))
        beta = np.linalg.solve(XtVX, XtVy)
        quad = 0.0
        for Xi, yi, c in blocks:
            r = yi - Xi @ beta
            quad += (r @ r - c * r.sum() ** 2) / se2
        ll = -0.5 * (logdet + quad + n * np.log(2 * np.pi))
        if reml:
            ll -= 0.5 * np.linalg.slogdet(XtVX)[1]
        return ll, beta, XtVX

    def fit(self, y, X, area) -> "BatteseHarterFuller":
        y = np.asarray(y, float)
        X = np.asarray(X, float)
        area = np.asarray(area)
        self.areas_ = pd.unique(area)
        groups = [np.flatnonzero(area == a) for a in self.areas_]
        reml = self.method == "REML"
        ols = np.linalg.lstsq(X, y, rcond=None)[0]
        s0 = np.log([np.var(y - X @ ols) / 2] * 2)
        res = optimize.minimize(lambda s: -self._loglik(s, y, X, groups, reml)[0], s0, method="Nelder-Mead",
                                options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
        res = optimize.minimize(lambda s: -self._loglik(s, y, X, groups, reml)[0], res.x, method="BFGS",
                                options={"gtol": 1e-9})
        self.sigma2_u_, self.sigma2_e_ = np.exp(res.x)
        _, self.beta_, XtVX = self._loglik(res.x, y, X, groups, reml)
        self._XtVX_inv = np.linalg.inv(XtVX)
        # Asymptotic covariance of (su2, se2): inverse of the numerical Hessian of -loglik in the natural scale.
        self.var_components_cov_ = self._vc_cov(res.x, y, X, groups, reml)
        n_i = np.array([len(g) for g in groups], float)
        self.n_i_ = n_i
        self.ybar_s_ = np.array([y[g].mean() for g in groups])
        self.xbar_s_ = np.array([X[g].mean(0) for g in groups])
        self.gamma_ = self.sigma2_u_ / (self.sigma2_u_ + self.sigma2_e_ / n_i)
        self.u_ = self.gamma_ * (self.ybar_s_ - self.xbar_s_ @ self.beta_)
        return self

    def _vc_cov(self, logs, y, X, groups, reml):
        def nll(s):
            return -self._loglik(np.log(np.maximum(s, 1e-12)), y, X, groups, reml)[0]

        s = np.exp(logs)
        h = s * 1e-4
        H = np.zeros((2, 2))
        for a in range(2):
            for b in range(2):
                ea, eb = np.eye(2)[a] * h[a], np.eye(2)[b] * h[b]
                H[a, b] = (nll(s + ea + eb) - nll(s + ea - eb) - nll(s - ea + eb) + nll(s - ea - eb)) / (4 * h[a] * h[b])
        # pinv: at the boundary (sigma2_u -> 0) the Hessian is singular and the g3 term is 0 in that direction
        return np.linalg.pinv(H)

    def synthetic_mse(self, xbar_pop) -> np.ndarray:
        """MSE of the synthetic mean xbar'beta of an area without sample:
        ``sigma2_u + xbar' Var(beta) xbar``."""
        Xp = np.asarray(xbar_pop, float)
        return self.sigma2_u_ + np.einsum("ij,jk,ik->i", Xp, self._XtVX_inv, Xp)

    def predict(self, xbar_pop, pop_size=None) -> pd.DataFrame:
        """EBLUPs of the area means with Prasad-Rao MSE (Rao 2003, eq. 7.2.33; sampling fraction ignored)."""
        Xp = np.asarray(xbar_pop, float)
        f = np.zeros(len(self.areas_)) if pop_size is None else self.n_i_ / np.asarray(pop_size, float)
        synthetic = Xp @ self.beta_
        eblup = f * self.ybar_s_ + (Xp - f[:, None] * self.xbar_s_) @ self.beta_ + (1 - f) * self.u_
        su2, se2, n, g = self.sigma2_u_, self.sigma2_e_, self.n_i_, self.gamma_
        g1 = (1 - g) * su2
        dvec = Xp - g[:, None] * self.xbar_s_
        g2 = np.einsum("ij,jk,ik->i", dvec, self._XtVX_inv, dvec)
        Vc = self.var_components_cov_
        g3 = (n ** -2) * (su2 + se2 / n) ** -3 * (se2 ** 2 * Vc[0, 0] + su2 ** 2 * Vc[1, 1] - 2 * se2 * su2 * Vc[0, 1])
        return pd.DataFrame({"area": self.areas_, "n": n.astype(int), "direct": self.ybar_s_, "eblup": eblup,
                             "synthetic": synthetic, "shrinkage": g, "mse": g1 + g2 + 2 * g3})


def benchmark(estimates, weights, target: float, mse=None, method: str = "ratio"):
    """Benchmark area estimates so that ``sum weights * estimate = target`` (the larger area's direct total).

    ``ratio`` scales every area; ``difference`` spreads the gap in proportion to the MSE (Wang et al. 2008).
    """
    est = np.asarray(estimates, float)
    w = np.asarray(weights, float)
    current = w @ est
    if method == "ratio":
        return est * target / current
    if method == "difference":
        phi = np.ones_like(est) if mse is None else np.asarray(mse, float)
        return est + (target - current) * w * phi / np.sum(w ** 2 * phi)
    raise ValueError("benchmark method: ratio or difference")
