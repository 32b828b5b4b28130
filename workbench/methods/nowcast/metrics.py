"""Forecast evaluation: RMSE/MAE relative to a benchmark by horizon, the Diebold-Mariano test and
interval coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def diebold_mariano(e1, e2, h: int = 1, power: int = 2, hln: bool = True) -> tuple[float, float]:
    """Diebold-Mariano (1995) test of equal accuracy of forecast errors *e1* and *e2*.

    Loss |e|^power; the variance of the loss differential uses autocovariances up to
    lag h-1 (rectangular kernel, as in the original paper). With ``hln`` the statistic
    gets the Harvey, Leybourne and Newbold (1997) small-sample correction and a
    t(n-1) reference distribution (R ``forecast::dm.test``). Returns (statistic,
    two-sided p-value); a negative statistic means *e1* is more accurate.
    """
    d = np.abs(np.asarray(e1, float)) ** power - np.abs(np.asarray(e2, float)) ** power
    n = len(d)
    if n < 3:
        return float("nan"), float("nan")
    mean = d.mean()
    gamma = [np.sum((d[k:] - mean) * (d[:n - k] - mean)) / n for k in range(h)]
    var = (gamma[0] + 2 * sum(gamma[1:])) / n
    if var <= 0:
        return float("nan"), float("nan")
    stat = mean / np.sqrt(var)
    if hln:
        stat *= np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
        return float(stat), float(2 * stats.t.sf(abs(stat), df=n - 1))
    return float(stat), float(2 * stats.norm.sf(abs(stat)))


def evaluate(backtest: pd.DataFrame, benchmark: str = "ar") -> pd.DataFrame:
    """Accuracy by model and horizon from a backtest with ``actual`` filled in.

    Columns: n, rmse, mae, rel_rmse and rel_mae (relative to *benchmark* on the same
    periods), dm_stat and dm_pvalue (squared loss against the benchmark), coverage
    (share of actuals inside the interval).
    """
    bt = backtest.dropna(subset=["actual", "point"]).assign(error=lambda d: d["point"] - d["actual"])
    bench = bt[bt["model"] == benchmark].set_index(["horizon", "ref_period"])["error"]
    rows = []
    for (model, horizon), g in bt.groupby(["model", "horizon"], sort=True):
        g = g.set_index("ref_period")
        e = g["error"]
        rmse, mae = float(np.sqrt(np.mean(e ** 2))), float(np.mean(np.abs(e)))
        row = {"model": model, "horizon": horizon, "n": len(e), "rmse": rmse, "mae": mae,
               "rel_rmse": np.nan, "rel_mae": np.nan, "dm_stat": np.nan, "dm_pvalue": np.nan,
               "coverage": float(((g["actual"] >= g["lower"]) & (g["actual"] <= g["upper"])).mean())}
        if horizon in bench.index.get_level_values(0):
            b = bench.loc[horizon].reindex(e.index)
            ok = b.notna()
            if ok.any():
                row["rel_rmse"] = float(np.sqrt(np.mean(e[ok] ** 2)) / np.sqrt(np.mean(b[ok] ** 2)))
                row["rel_mae"] = float(np.mean(np.abs(e[ok])) / np.mean(np.abs(b[ok])))
                if model != benchmark:
                    row["dm_stat"], row["dm_pvalue"] = diebold_mariano(e[ok], b[ok])
        rows.append(row)
    return pd.DataFrame(rows)
