"""Design-based estimation: stratified and cluster samples, Horvitz-Thompson, Taylor variance.

A :class:`SurveyDesign` holds the sample arrays (weights, strata, first-stage clusters,
population counts for the finite population correction). Estimates are linearised:
every statistic is written as a total of per-unit *scores*, and its variance is the
with-replacement-between-PSUs variance of the score totals within strata, times the
fpc ``(1 - n_h / N_h)`` when the stratum's population count is known (as R's
``survey::svyrecvar`` does for one-stage designs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from workbench.methods.estimate.calibration import CalibrationInfo


@dataclass
class SurveyDesign:
    """A sample with its design: weights, strata, clusters and population counts.

    Args:
        weights: design weights (1 / inclusion probability), one per unit.
        strata: stratum label per unit (None: one stratum).
        clusters: first-stage cluster (PSU) label per unit (None: units are PSUs).
        fpc: population count per unit's stratum, in PSUs (None: no correction).
    """

    weights: np.ndarray
    strata: np.ndarray | None = None
    clusters: np.ndarray | None = None
    fpc: np.ndarray | None = None
    calibration: "CalibrationInfo | None" = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=float)
        n = len(self.weights)
        self.strata = np.zeros(n, dtype=int) if self.strata is None else np.asarray(self.strata)
        self.clusters = np.arange(n) if self.clusters is None else np.asarray(self.clusters)
        self.fpc = None if self.fpc is None else np.asarray(self.fpc, dtype=float)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, weights: str | None = None, strata: str | None = None,
                   clusters: str | None = None, fpc: str | None = None) -> "SurveyDesign":
        """Build from columns; without *weights* they follow from *fpc* / PSUs sampled per stratum."""
        s = df[strata].to_numpy() if strata else None
        c = df[clusters].to_numpy() if clusters else None
        f = df[fpc].to_numpy(dtype=float) if fpc else None
        if weights:
            w = df[weights].to_numpy(dtype=float)
        elif f is not None:
            key = pd.Series(s if s is not None else 0, index=df.index)
            psu = pd.Series(c if c is not None else np.arange(len(df)), index=df.index)
            n_h = psu.groupby(key).transform("nunique").to_numpy(dtype=float)
            w = f / n_h
        else:
            raise ValueError("give weights or fpc")
        return cls(w, s, c, f)

    @property
    def n(self) -> int:
        return len(self.weights)

    def with_weights(self, weights: np.ndarray, calibration: "CalibrationInfo | None" = None) -> "SurveyDesign":
        return SurveyDesign(np.asarray(weights, float), self.strata, self.clusters, self.fpc, calibration)

    def score_variance(self, scores: np.ndarray) -> np.ndarray:
        """Variance (matrix) of the weighted score totals ``sum_i scores_i`` (already weighted).

        *scores* is n x k. Calibrated designs replace scores by their calibration residuals first.
        """
        z = np.asarray(scores, float).reshape(self.n, -1)
        if self.calibration is not None:
            z = self.calibration.residuals(z)
        frame = pd.DataFrame(z)
        frame["_h"] = self.strata
        frame["_c"] = self.clusters
        psu = frame.groupby(["_h", "_c"], sort=False).sum()
        h = psu.index.get_level_values(0).to_numpy()
        totals = psu.to_numpy()
        k = totals.shape[1]
        out = np.zeros((k, k))
        fpc_by_h = (pd.Series(self.fpc).groupby(self.strata).first() if self.fpc is not None else None)
        for stratum in pd.unique(h):
            t = totals[h == stratum]
            n_h = len(t)
            if n_h < 2:
                continue  # a lone PSU contributes no variance (R: survey.lonely.psu = "fail"/"certainty")
            d = t - t.mean(axis=0)
            factor = n_h / (n_h - 1)
            if fpc_by_h is not None:
                factor *= 1.0 - n_h / float(fpc_by_h.loc[stratum])
            out += factor * d.T @ d
        return out

    def degrees_of_freedom(self) -> int:
        """PSUs minus strata (R's ``degf``)."""
        return int(pd.Series(self.clusters).groupby(self.strata).nunique().sum() - len(pd.unique(self.strata)))


@dataclass
class EstimateResult:
    """Estimates with standard errors; ``summary()`` is the table shown in the app."""

    names: list[str]
    kind: str
    estimate: np.ndarray
    variance: np.ndarray
    deff: np.ndarray | None = None
    df: int | None = None
    method: str = "taylor"
    extra: dict = field(default_factory=dict)

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.variance), 0, None))

    @property
    def cv(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.estimate != 0, self.se / np.abs(self.estimate), np.nan)

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """Wald intervals, normal quantile (R ``confint(svytotal(...))``)."""
        z = stats.norm.ppf(1 - alpha / 2)
        return np.column_stack([self.estimate - z * self.se, self.estimate + z * self.se])

    def summary(self, alpha: float = 0.05, cv_threshold: float | None = None) -> pd.DataFrame:
        ci = self.conf_int(alpha)
        table = pd.DataFrame({"name": self.names, "estimate": self.estimate, "se": self.se, "cv": self.cv,
                              "ci_low": ci[:, 0], "ci_high": ci[:, 1]})
        if self.deff is not None:
            table["deff"] = self.deff
        if cv_threshold is not None:
            table["unreliable"] = table["cv"] > cv_threshold
        return table


def _as_matrix(y) -> tuple[np.ndarray, list[str]]:
    if isinstance(y, pd.DataFrame):
        return y.to_numpy(dtype=float), [str(c) for c in y.columns]
    if isinstance(y, pd.Series):
        return y.to_numpy(dtype=float)[:, None], [str(y.name)]
    arr = np.asarray(y, dtype=float)
    arr = arr[:, None] if arr.ndim == 1 else arr
    return arr, [f"y{i}" for i in range(arr.shape[1])]


def _srs_variance_total(design: SurveyDesign, y: np.ndarray) -> np.ndarray:
    """Variance of the total under SRS without replacement of the same size (for design effects)."""
    w = design.weights
    n, N = design.n, w.sum()
    mean = (w[:, None] * y).sum(0) / N
    s2 = (w[:, None] * (y - mean) ** 2).sum(0) / N * n / (n - 1)
    return N ** 2 * (1 - n / N) * s2 / n


def design_effect(design: SurveyDesign, y, variance: np.ndarray) -> np.ndarray:
    """Kish's design effect of totals of *y*: *variance* (one per column, from any method)
    over the variance of the same total under simple random sampling without
    replacement of the same size, estimated from the sample (as R survey's ``deff=TRUE``)."""
    Y, _ = _as_matrix(y)
    srs = _srs_variance_total(design, Y)
    var = np.asarray(variance, dtype=float)
    return np.divide(var, srs, out=np.full(var.shape, np.nan), where=srs > 0)  # a constant column: undefined


def total(design: SurveyDesign, y, domain: np.ndarray | None = None) -> EstimateResult:
    """Horvitz-Thompson totals; with *domain* (bool), the domain total (zero outside)."""
    Y, names = _as_matrix(y)
    if domain is not None:
        Y = Y * np.asarray(domain, bool)[:, None]
    w = design.weights
    est = (w[:, None] * Y).sum(0)
    var = design.score_variance(w[:, None] * Y)
    return EstimateResult(names, "total", est, var, design_effect(design, Y, np.diag(var)), design.degrees_of_freedom())


def mean(design: SurveyDesign, y, domain: np.ndarray | None = None) -> EstimateResult:
    """Ratio (Hajek) means, linearised: score ``w (y - ybar) / N``."""
    Y, names = _as_matrix(y)
    d = np.ones(design.n, bool) if domain is None else np.asarray(domain, bool)
    w = design.weights * d
    N = w.sum()
    est = (w[:, None] * Y).sum(0) / N
    scores = w[:, None] * (Y - est) / N
    var = design.score_variance(scores)
    srs = _srs_variance_total(design, Y * d[:, None]) / N ** 2
    return EstimateResult(names, "mean", est, var, np.diag(var) / srs, design.degrees_of_freedom())


def ratio(design: SurveyDesign, numerator, denominator, domain: np.ndarray | None = None) -> EstimateResult:
    """Ratio of two totals R = Y / X, linearised: score ``w (y - R x) / X``."""
    Y, names = _as_matrix(numerator)
    X, dnames = _as_matrix(denominator)
    d = np.ones(design.n, bool) if domain is None else np.asarray(domain, bool)
    w = design.weights * d
    ty, tx = (w[:, None] * Y).sum(0), (w[:, None] * X).sum(0)
    r = ty / tx
    var = design.score_variance(w[:, None] * (Y - r * X) / tx)
    return EstimateResult([f"{a}/{b}" for a, b in zip(names, dnames)], "ratio", r, var, None,
                          design.degrees_of_freedom())


def by_domain(design: SurveyDesign, y: pd.Series, domains: Sequence, statistic: str = "total") -> pd.DataFrame:
    """One row per domain: estimate, SE, CV, CI (domain estimation keeps the full design)."""
    fn = {"total": total, "mean": mean}[statistic]
    labels = np.asarray(domains)
    rows = []
    for label in pd.unique(labels):
        res = fn(design, y, domain=labels == label)
        row = res.summary().iloc[0].to_dict()
        row["domain"] = label
        row["n"] = int((labels == label).sum())
        rows.append(row)
    return pd.DataFrame(rows)

