"""Forecast combination: equal weights and inverse-MSE weights (Bates and Granger 1969).

Inverse-MSE weights for a nowcast made on date *d* use only the errors of earlier
reference periods whose first release came out on or before *d*, measured against
that first release, so the combination is as honest as its members.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from workbench.methods.nowcast.vintages import release_calendar


def inverse_mse_weights(errors: pd.DataFrame) -> pd.Series:
    """Weights proportional to 1/MSE of each column of *errors* (rows = past periods)."""
    mse = (errors ** 2).mean()
    w = 1.0 / mse.replace(0, np.nan)
    return w / w.sum()


def combine(bt: pd.DataFrame, target_vintages: pd.DataFrame, members: list[str], method: str = "equal",
            alpha: float = 0.1, min_history: int = 6) -> pd.DataFrame:
    """Rows for a combined model (``combo_equal`` or ``combo_inv_mse``) built from *members* in a backtest.

    Growth is the weighted mean; the se the weighted mean of the members' se (a conservative
    choice that ignores the gain from diversification). Inverse-MSE falls back to equal weights
    until *min_history* past errors exist.
    """
    cal = release_calendar(target_vintages).set_index("ref_period")["release_date"]
    first = target_vintages.sort_values("vintage").groupby("ref_period")["value"].first()
    wide = bt[bt["model"].isin(members)].pivot_table(index=["ref_period", "horizon"], columns="model",
                                                      values=["growth", "se", "point"], aggfunc="first")
    meta = bt.drop_duplicates(["ref_period", "horizon"]).set_index(["ref_period", "horizon"])[
        ["asof", "release_date"]]
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for (period, horizon), r in wide.iterrows():
        g, se, pt = r["growth"].reindex(members), r["se"].reindex(members), r["point"].reindex(members)
        ok = g.notna()
        if not ok.any():
            continue
        w = pd.Series(1.0, index=members)[ok]
        if method == "inverse_mse":
            asof = meta.loc[(period, horizon), "asof"]
            past = [p for p in wide.xs(horizon, level="horizon").index if p < period and cal.get(p) <= asof]
            if len(past) >= min_history:
                err = pd.DataFrame({m: [wide.loc[(p, horizon), ("point", m)] - first[p] for p in past]
                                    for m in members if ok[m]})
                w = inverse_mse_weights(err).reindex(w.index).fillna(0.0)
        w = w / w.sum()
        # members may grow from different bases (a year ago, last release): combine log levels
        log_point, s = float((w * np.log(pt[ok])).sum()), float((w * se[ok]).sum())
        growth = float((w * g[ok]).sum())
        rows.append({"model": "combo_equal" if method == "equal" else "combo_inv_mse", "ref_period": period,
                     "horizon": horizon, "asof": meta.loc[(period, horizon), "asof"],
                     "release_date": meta.loc[(period, horizon), "release_date"], "growth": growth, "se": s,
                     "point": np.exp(log_point), "lower": np.exp(log_point - z * s),
                     "upper": np.exp(log_point + z * s), "error_message": ""})
    return pd.DataFrame(rows, columns=bt.columns.drop("actual", errors="ignore"))
