"""From item prices to elementary-aggregate, COICOP-group and all-items indices (pandas).

The multilateral step runs here, per elementary aggregate, on the small tables the
engine step returns; then elementary indices are combined into COICOP groups and
the groups into an all-items index with the CPI basket weights, chain-linked once
a year like the official CPI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.methods.prices.indices import (
    BILATERAL,
    ELEMENTARY,
    MULTILATERAL,
    Panel,
    bilateral_index,
    multilateral_index,
    rolling_geks_jevons,
)

METHODS = ELEMENTARY + ("tornqvist", "fisher") + MULTILATERAL


def ea_indices(item_periods: pd.DataFrame, periods: pd.Index, method: str = "geks_jevons", window: int = 13,
               splice: str = "mean") -> pd.DataFrame:
    """Log index of every elementary aggregate over *periods* (consecutive days or months).

    *item_periods*: one row per item and period with ``coicop``, ``ea``, ``retailer``,
    ``product_id``, ``period``, ``logp`` and ``days`` (quote days, the quantity proxy
    of the weighted formulas: scraped data carry no quantities). Bilateral methods
    are chained period to period; multilateral ones use a rolling *window* and
    *splice*. Returns long rows ``period, coicop, ea, logindex, items`` (an
    aggregate's index starts at 0 in its first period with quotes).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    pos = pd.Series(np.arange(len(periods)), index=periods)
    frames = []
    for (coicop, ea), g in item_periods.groupby(["coicop", "ea"], sort=True):
        col = pos.reindex(g["period"].to_numpy()).to_numpy()
        if np.isnan(col).any():
            raise ValueError(f"periods of {ea} fall outside the period index")
        col = col.astype(int)
        lo, hi = col.min(), col.max() + 1
        item_code, items = pd.factorize(pd.MultiIndex.from_frame(g[["retailer", "product_id"]]))
        logp = np.full((len(items), hi - lo), np.nan)
        logp[item_code, col - lo] = g["logp"].to_numpy()
        qty = np.full_like(logp, np.nan)
        qty[item_code, col - lo] = g["days"].to_numpy(float)
        if method == "geks_jevons" and hi - lo > window:
            level = rolling_geks_jevons(logp, window, splice)
        else:
            panel = Panel(np.exp(logp), qty, pd.RangeIndex(len(items)), pd.RangeIndex(hi - lo))
            if method in BILATERAL:
                level = np.log(bilateral_index(panel, method, "chained"))
            else:
                level = np.log(multilateral_index(panel, method, window, splice))
        frames.append(pd.DataFrame({"period": periods[lo:hi], "coicop": coicop, "ea": ea, "logindex": level,
                                    "items": np.isfinite(logp).sum(axis=0)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["period", "coicop", "ea", "logindex", "items"])


def ea_from_links(links: pd.DataFrame, periods: pd.Index, method: str = "jevons") -> pd.DataFrame:
    """Chained daily elementary indices from the engine's per-day sums (``daily_links``)."""
    link = {"jevons": lambda d: d["sum_dlog"] / d["n"],
            "carli": lambda d: np.log(d["sum_rel"] / d["n"]),
            "dutot": lambda d: np.log(d["sum_p"] / d["sum_p0"])}[method]
    frames = []
    for (coicop, ea), g in links.groupby(["coicop", "ea"], sort=True):
        s = pd.Series(link(g).to_numpy(), index=g["day"].to_numpy()).reindex(periods)
        start = max(periods.get_loc(s.first_valid_index()) - 1, 0)  # the base day before the first link
        s = s.iloc[start:].fillna(0.0)  # a day without a matched pair: no measured change
        s.iloc[0] = 0.0
        n = g.set_index("day")["n"].reindex(s.index).fillna(0)
        frames.append(pd.DataFrame({"period": s.index, "coicop": coicop, "ea": ea,
                                    "logindex": s.cumsum().to_numpy(), "items": n.to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def group_indices(ea: pd.DataFrame, periods: pd.Index) -> pd.DataFrame:
    """COICOP group indices (first period = 100) from elementary aggregates.

    Each period's group change is the mean of its aggregates' log changes weighted
    by their item counts (averaged over the two periods, Törnqvist style), over the
    aggregates priced in both periods; an aggregate entering later joins without a jump.
    """
    out = {}
    for coicop, g in ea.groupby("coicop"):
        lvl = g.pivot(index="period", columns="ea", values="logindex").reindex(periods)
        n = g.pivot(index="period", columns="ea", values="items").reindex(periods).fillna(0)
        d = lvl.diff()
        w = 0.5 * (n + n.shift(1)).where(d.notna(), 0.0)
        total = w.sum(axis=1)
        dlog = (d.fillna(0.0) * w).sum(axis=1) / total.where(total > 0)
        first = lvl.notna().any(axis=1).idxmax()
        dlog[dlog.index < first] = np.nan
        dlog[first] = 0.0
        out[coicop] = 100 * np.exp(dlog.fillna(0.0).cumsum()).where(dlog.index >= first)
    return pd.DataFrame(out, index=periods)


def all_items(groups: pd.DataFrame, weights: dict[str, float], link_key=None) -> pd.Series:
    """All-items index: Laspeyres of group indices with basket *weights*, chain-linked.

    *link_key* maps each period to its link segment (default: the calendar year); within
    a segment the index moves by sum_g w_g I_g(t) / I_g(link), the link period being the
    last period of the previous segment (the first period for the first segment).
    Groups without a price in a segment's link period are left out of it (weights
    renormalised), so a group that starts late joins at the next link.
    """
    cols = [c for c in groups.columns if c in weights]
    g = groups[cols]
    w = pd.Series({c: weights[c] for c in cols})
    if link_key is None:
        link_key = pd.Index([pd.Timestamp(p).year for p in g.index])
    keys = pd.Series(np.asarray(link_key), index=g.index)
    level = pd.Series(np.nan, index=g.index)
    prev_level, base = 100.0, g.iloc[0]
    for key in pd.unique(keys):
        rows = g.loc[(keys == key).to_numpy()]
        ok = base.notna()
        ww = w[ok] / w[ok].sum()
        seg = (rows.loc[:, ok].div(base[ok]) * ww).sum(axis=1, min_count=1)
        level.loc[rows.index] = prev_level * seg
        prev_level, base = level.loc[rows.index[-1]], rows.iloc[-1]
    return level


def monthly_mean(daily: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """Monthly average of daily index levels (month start as the label)."""
    idx = pd.DatetimeIndex(daily.index)
    return daily.groupby(idx.to_period("M").to_timestamp()).mean()


def mom(level: pd.Series) -> pd.Series:
    """Month-on-month change in percent."""
    return 100 * (level / level.shift(1) - 1)


def compare_with_cpi(online: pd.Series, official_mom: pd.Series, max_lag: int = 3) -> dict:
    """Compare month-on-month changes of the online index (monthly levels) with the
    official CPI's MoM change in percent; see :func:`compare_changes`."""
    return compare_changes(mom(online), official_mom, max_lag)


def compare_changes(online: pd.Series, official: pd.Series, max_lag: int = 3) -> dict:
    """Correlation, lead and RMSE of two monthly change series (percent), indexed by month.

    Returns the correlation, the cross-correlations at lags -max_lag..max_lag (lag k:
    online in month t against official in month t + k; a best k > 0 means the online
    index moves first), the best lag, the RMSE in percentage points and the joined frame.
    """
    frame = pd.DataFrame({"online": online, "official": official}).dropna()
    cross = {}
    for k in range(-max_lag, max_lag + 1):
        pair = pd.concat([online, official.shift(-k)], axis=1).dropna()
        cross[k] = float(pair.iloc[:, 0].corr(pair.iloc[:, 1])) if len(pair) > 2 else np.nan
    best = max(cross, key=lambda k: -np.inf if np.isnan(cross[k]) else cross[k])
    rmse = float(np.sqrt(((frame["online"] - frame["official"]) ** 2).mean())) if len(frame) else np.nan
    return {"correlation": cross.get(0, np.nan), "cross_correlation": cross, "best_lag": best,
            "rmse_pp": rmse, "months": len(frame), "frame": frame}
