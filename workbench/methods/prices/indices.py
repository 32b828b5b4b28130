"""Bilateral and multilateral price indices on product x period matrices (pandas/NumPy).

Everything works on a *panel*: prices ``P`` and optionally quantities ``Q`` as
``(n_products, n_periods)`` arrays with NaN where a product was not observed.
Every bilateral index between every pair of periods is computed at once with a
handful of matrix products (a matched sample for each pair: a product enters the
comparison of periods j and k only when it has a price in both), so GEKS over a
window is one ``w x w`` matrix of bilateral log indices and a column mean.

Conventions follow the R package IndexNumR (G. White): ``sample = "matched"``,
GEKS as the geometric mean over bases of the bilateral indices, Geary-Khamis
with zero quantities for missing products, and the window / movement / half /
mean splices onto the previous *window* (IndexNumR's ``splice_t``). Indices are
returned as levels with the first period = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ELEMENTARY = ("jevons", "dutot", "carli")
WEIGHTED = ("laspeyres", "paasche", "fisher", "tornqvist")
BILATERAL = ELEMENTARY + WEIGHTED
MULTILATERAL = ("geks_jevons", "geks_tornqvist", "geks_fisher", "geary_khamis")
SPLICES = ("movement", "window", "half", "mean")


@dataclass(frozen=True)
class Panel:
    """Prices (and quantities) of products over consecutive periods; NaN = not observed."""

    prices: np.ndarray
    quantities: np.ndarray | None
    products: pd.Index
    periods: pd.Index

    @classmethod
    def from_long(cls, df: pd.DataFrame, period: str = "period", product: str = "product",
                  price: str = "price", quantity: str | None = None) -> "Panel":
        """Pivot a long table (one row per product and period) to a panel.

        Periods are sorted; a period with no quote at all still needs a column, so
        callers pass consecutive periods (integers or dates without gaps).
        """
        if df.duplicated([period, product]).any():
            raise ValueError("the panel needs one row per product and period; aggregate duplicates first")
        p = df.pivot(index=product, columns=period, values=price).sort_index(axis=1)
        q = None
        if quantity is not None:
            q = df.pivot(index=product, columns=period, values=quantity).reindex_like(p).to_numpy(float)
        return cls(p.to_numpy(float), q, p.index, p.columns)

    def window(self, start: int, stop: int) -> "Panel":
        """Periods ``start:stop``, keeping only products observed in them."""
        p = self.prices[:, start:stop]
        keep = np.isfinite(p).any(axis=1)
        q = None if self.quantities is None else self.quantities[keep, start:stop]
        return Panel(p[keep], q, self.products[keep], self.periods[start:stop])


def _parts(panel: Panel):
    mask = np.isfinite(panel.prices) & (panel.prices > 0)
    p = np.where(mask, panel.prices, 0.0)
    logp = np.where(mask, np.log(np.where(mask, panel.prices, 1.0)), 0.0)
    if panel.quantities is None:
        q = None
    else:
        q = np.where(mask & np.isfinite(panel.quantities), panel.quantities, 0.0)
    return mask.astype(float), p, logp, q


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def bilateral_matrix(panel: Panel, method: str) -> np.ndarray:
    """``G[j, k]`` = log of the *method* price index from period j to period k (matched sample).

    NaN where periods j and k share no product. O(n T^2) through matrix products.
    """
    m, p, logp, q = _parts(panel)
    n_match = m.T @ m
    if method == "jevons":
        g = _ratio(m.T @ logp - logp.T @ m, n_match)
        return g
    if method == "carli":
        inv = np.where(m > 0, 1.0 / np.where(m > 0, p, 1.0), 0.0)
        return np.log(_ratio(inv.T @ p, n_match))
    if method == "dutot":
        return np.log(_ratio(m.T @ p, p.T @ m))
    if q is None:
        raise ValueError(f"the {method} index needs quantities")
    v = p * q
    if method in ("laspeyres", "paasche", "fisher"):
        # Laspeyres(j,k) = sum p_k q_j / sum p_j q_j, Paasche(j,k) = sum p_k q_k / sum p_j q_k, matched
        las = np.log(_ratio(q.T @ p, v.T @ m))
        paa = np.log(_ratio(m.T @ v, p.T @ q))
        if method == "laspeyres":
            return las
        if method == "paasche":
            return paa
        return 0.5 * (las + paa)
    if method == "tornqvist":
        # shares renormalised over the matched set of each pair
        a = v.T @ logp            # sum_i v_ij m_ik l_ik  (logp is 0 where missing)
        b = (v * logp).T @ m      # sum_i v_ij l_ij m_ik
        d = v.T @ m               # sum_i v_ij m_ik
        first = _ratio(a - b, d)
        second = _ratio(b.T - a.T, d.T)
        return 0.5 * (first + second)
    raise ValueError(f"unknown bilateral index {method!r}; choose from {', '.join(BILATERAL)}")


def bilateral_index(panel: Panel, method: str, output: str = "chained") -> np.ndarray:
    """Index levels (first period = 1): ``chained`` (product of period-on-period links),
    ``fixedbase`` (each period against the first) or ``pop`` (the links themselves)."""
    g = _pairs(panel, method, output)
    if output == "pop":
        return np.exp(g)
    return np.exp(np.cumsum(g)) if output == "chained" else np.exp(g)


def _pairs(panel: Panel, method: str, output: str) -> np.ndarray:
    """Only the bilateral comparisons the output needs (T-1 pairs, not T^2)."""
    T = panel.prices.shape[1]
    out = np.zeros(T)
    for t in range(1, T):
        base = t - 1 if output in ("chained", "pop") else 0
        sub = Panel(panel.prices[:, [base, t]], None if panel.quantities is None else panel.quantities[:, [base, t]],
                    panel.products, panel.periods[[base, t]])
        out[t] = bilateral_matrix(sub, method)[0, 1]
    if output == "pop":
        out[0] = 0.0
    return out


def geks_window(panel: Panel, method: str = "tornqvist") -> np.ndarray:
    """Log GEKS index over all periods of *panel* (first period = 0).

    GEKS(k) = geometric mean over bases j of P(j -> k), as IndexNumR's ``GEKS_w``;
    pairs without a common product are left out of the mean (``na.rm``).
    """
    g = bilateral_matrix(panel, method)
    return _geks_from_matrix(g)


def _geks_from_matrix(g: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        col = np.nanmean(np.where(np.isfinite(g), g, np.nan), axis=0)
    return col - col[0]


def geary_khamis_window(panel: Panel, tol: float = 1e-12, max_iter: int = 10_000) -> np.ndarray:
    """Log Geary-Khamis index over all periods of *panel* (first period = 0).

    Fixed point of v_i = sum_t q_it p_it / P_t / sum_t q_it (quality-adjusting
    factors) and P_t = sum_i p_it q_it / sum_i v_i q_it; missing products have
    zero quantity, as in IndexNumR's ``GKIndex`` (``sample = "matched"`` off).
    """
    m, p, _, q = _parts(panel)
    if q is None:
        raise ValueError("the Geary-Khamis index needs quantities")
    qsum = q.sum(axis=1)
    keep = qsum > 0
    p, q, qsum = p[keep], q[keep], qsum[keep]
    value = (p * q).sum(axis=0)
    level = np.ones(p.shape[1])
    for _ in range(max_iter):
        v = (p * q / level[None, :]).sum(axis=1) / qsum
        new = value / (v[:, None] * q).sum(axis=0)
        new = new / new[0]
        if np.max(np.abs(new - level)) < tol:
            level = new
            break
        level = new
    return np.log(level)


def _window_index(panel: Panel, method: str) -> np.ndarray:
    if method == "geary_khamis":
        return geary_khamis_window(panel)
    if not method.startswith("geks_"):
        raise ValueError(f"unknown multilateral index {method!r}; choose from {', '.join(MULTILATERAL)}")
    return geks_window(panel, method.removeprefix("geks_"))


def splice_factor(old: np.ndarray, new: np.ndarray, method: str) -> float:
    """Log factor that extends a series by the new window's last period.

    *old* and *new* are log index levels of two windows of length w shifted by one
    period (old[l + 1] and new[l] are the same period). Overlap period l (1-based
    as in IndexNumR): factor = (new[w]/new[l]) / (old[w]/old[l+1]); movement uses
    l = w - 1, window l = 1, half l = (w - 1)/2 + 1, mean the geometric mean over
    every l = 1..w-1.
    """
    w = len(new)

    def one(l: int) -> float:  # l: the overlap period, as in the literature
        return (new[w - 1] - new[l - 1]) - (old[w - 1] - old[l])

    if method == "movement":
        return one(w - 1)
    if method == "window":
        return one(1)
    if method == "half":
        return one(int((w - 1) / 2 + 1))
    if method == "mean":
        return float(np.mean([one(l) for l in range(1, w)]))
    raise ValueError(f"unknown splice {method!r}; choose from {', '.join(SPLICES)}")


def multilateral_index(panel: Panel, method: str = "geks_tornqvist", window: int = 13,
                       splice: str = "mean") -> np.ndarray:
    """Index levels (first period = 1) of a rolling-window multilateral index.

    The first *window* periods come from one window; every later period is
    spliced on with *splice* from the window ending in it. With fewer periods
    than *window* one window covers them all.
    """
    T = panel.prices.shape[1]
    if T <= window:
        return np.exp(_window_index(panel, method))
    out = np.empty(T)
    old = _window_index(panel.window(0, window), method)
    out[:window] = old
    for s in range(1, T - window + 1):
        new = _window_index(panel.window(s, s + window), method)
        out[s + window - 1] = out[s + window - 2] + splice_factor(old, new, method=splice)
        old = new
    return np.exp(out)


def rolling_geks_jevons(logp: np.ndarray, window: int, splice: str = "mean") -> np.ndarray:
    """Log GEKS-Jevons levels over many periods (daily data), computed block by block.

    Same result as ``multilateral_index(panel, "geks_jevons", window, splice)`` but
    the bilateral matrix is built once per block of 2 x window periods (only the
    products seen in it), so a long daily series costs O(T n w) instead of
    O(T n w^2) Python work. *logp* is ``(n_products, T)`` with NaN for gaps.
    """
    n, T = logp.shape
    if T <= window:
        return _geks_from_matrix(bilateral_matrix(Panel(np.exp(logp), None, pd.RangeIndex(n), pd.RangeIndex(T)),
                                                  "jevons"))
    out = np.empty(T)
    old = None
    block = 2 * window
    start = 0
    while start <= T - window:
        stop = min(T, start + block)
        sub = logp[:, start:stop]
        sub = sub[np.isfinite(sub).any(axis=1)]
        g = bilateral_matrix(Panel(np.exp(sub), None, pd.RangeIndex(len(sub)), pd.RangeIndex(stop - start)), "jevons")
        for s in range(start, min(stop - window, T - window) + 1):
            new = _geks_from_matrix(g[s - start:s - start + window, s - start:s - start + window])
            if old is None:
                out[:window] = new
            else:
                out[s + window - 1] = out[s + window - 2] + splice_factor(old, new, splice)
            old = new
        start = stop - window + 1
    return out
