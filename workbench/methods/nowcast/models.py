"""Nowcast models behind one interface: ``fit(info)`` then ``predict(info=None)``.

Every model works on year-on-year log growth (see :class:`InformationSet`) and
returns a :class:`Nowcast` in levels: ``base * exp(growth)`` with a normal interval
on the growth scale. ``predict(other_info)`` keeps the parameters estimated by
``fit`` and only swaps the data: that is what the news decomposition needs.

Direct models (MIDAS, regularised regression, boosting) use, for each indicator,
the lags counted back from the *latest month available* on the nowcast date, so a
ragged edge is handled by the regression itself; the bridge equation instead
fills the missing months with an AR(1) of each indicator and aggregates to the
target's frequency.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from workbench.methods.nowcast.vintages import InformationSet, last_month, months_between


@dataclass(frozen=True)
class Nowcast:
    """A nowcast of one period: growth (log, year on year), its standard error and the level base."""

    model: str
    period: pd.Period
    asof: dt.date
    growth: float
    se: float
    base: float
    details: dict = field(default_factory=dict, compare=False)

    @property
    def point(self) -> float:
        return self.base * float(np.exp(self.growth))

    def conf_int(self, alpha: float = 0.1) -> tuple[float, float]:
        z = stats.norm.ppf(1 - alpha / 2)
        return (self.base * float(np.exp(self.growth - z * self.se)),
                self.base * float(np.exp(self.growth + z * self.se)))

    def summary(self, alpha: float = 0.1) -> str:
        lo, hi = self.conf_int(alpha)
        return (f"{self.model}: {self.period} nowcast on {self.asof} = {self.point:.4f} "
                f"[{lo:.4f}, {hi:.4f}] ({100 * (1 - alpha):.0f}% interval); "
                f"growth {100 * self.growth:.2f}% (se {100 * self.se:.2f} pp)")


class NowcastModel(ABC):
    """Base class: subclasses implement ``_fit(info)`` and ``_predict(info) -> (growth, se)``."""

    name = "model"

    def fit(self, info: InformationSet) -> "NowcastModel":
        self.info_ = info
        self._fit(info)
        return self

    def predict(self, info: InformationSet | None = None) -> Nowcast:
        info = self.info_ if info is None else info
        growth, se, *base = self._predict(info)
        base = info.base() if not base else float(info.target[base[0]])
        return Nowcast(self.name, info.target_period, info.asof, float(growth), float(max(se, 1e-6)), base)

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    @abstractmethod
    def _fit(self, info: InformationSet) -> None:
        """Implemented by each model."""

    @abstractmethod
    def _predict(self, info: InformationSet) -> tuple[float, float]:
        """Implemented by each model."""


def _steps(info: InformationSet) -> int:
    """Periods from the last published target value to the target period."""
    return int((info.target_period - info.last_target_period()).n)


# ---- benchmarks ---------------------------------------------------------------------

class RandomWalk(NowcastModel):
    """Growth stays where it was last published; se from the spread of past changes."""

    name = "random_walk"

    def _fit(self, info):
        y = info.target_growth
        self.sigma_ = float(np.std(np.diff(y.to_numpy()), ddof=1))

    def _predict(self, info):
        h = _steps(info)
        return float(info.target_growth.iloc[-1]), self.sigma_ * np.sqrt(h)


class AR(NowcastModel):
    """AR(p) on target growth by OLS, iterated to the target period; se from the MA(inf) weights."""

    name = "ar"

    def __init__(self, p: int = 1):
        self.p = p

    def _fit(self, info):
        y = info.target_growth.to_numpy()
        p = self.p
        if len(y) < 2 * p + 2:  # at least p + 2 residual degrees of freedom for sigma
            raise ValueError(f"AR({p}): {len(y)} published growth rates on {info.asof}, needs {2 * p + 2}")
        X = np.column_stack([np.ones(len(y) - p)] + [y[p - j - 1:len(y) - j - 1] for j in range(p)])
        beta, *_ = np.linalg.lstsq(X, y[p:], rcond=None)
        resid = y[p:] - X @ beta
        self.coef_ = beta
        self.sigma_ = float(np.sqrt(resid @ resid / (len(resid) - X.shape[1])))

    def _predict(self, info):
        y = list(info.target_growth.to_numpy())
        c, phi = self.coef_[0], self.coef_[1:]
        h = _steps(info)
        for _ in range(h):
            y.append(c + sum(phi[j] * y[-1 - j] for j in range(self.p)))
        psi = [1.0]
        for k in range(1, h):
            psi.append(sum(phi[j] * psi[k - 1 - j] for j in range(min(self.p, k))))
        return y[-1], self.sigma_ * np.sqrt(np.sum(np.square(psi)))


# ---- direct regressions on the ragged edge -----------------------------------------

def _indicator_gaps(info: InformationSet, names: list[str]) -> tuple[int, ...]:
    """Months between each indicator's latest available value and the target period's last month."""
    end = last_month(info.target_period)
    gaps = []
    for name in names:
        x = info.indicator_growth[name].dropna() if name in info.indicator_growth else pd.Series(dtype=float)
        gaps.append(max(months_between(x.index.max(), end), 0) if len(x) else 10**6)
    return tuple(gaps)


def _direct_row(info: InformationSet, names, gaps, lags: int, ar_lag: int, period: pd.Period,
                seasonal: bool = False) -> np.ndarray:
    """One row of a direct regression for *period*.

    yoy form: [y(period - ar_lag), x_i(end - gap_i - j) ...] with y and x year-on-year log growth.
    seasonal form: [month or quarter dummies, last published change of the target,
    x_i month-on-month log growth (end - gap_i - j) ...]; the response is then the
    log change from the last published period (see :func:`_direct_response`).
    """
    look = info.growth_lookup
    end = last_month(period)
    if seasonal:
        lt = info.log_target
        base = period - ar_lag
        row = list(_season_dummies(period))
        row.append(lt.get(base, np.nan) - lt.get(base - 1, np.nan))
        prefix = "mom:"
    else:
        row = [info.target_growth_lookup.get(period - ar_lag, np.nan)]
        prefix = ""
    for name, gap in zip(names, gaps):
        col = look.get(prefix + name, {})
        row.extend(col.get(end - gap - j, np.nan) for j in range(lags))
    return np.asarray(row, dtype=float)


def _season_dummies(period: pd.Period) -> np.ndarray:
    n = 4 if period.freqstr.startswith("Q") else 12
    d = np.zeros(n - 1)
    k = (period.quarter if n == 4 else period.month) - 1
    if k:
        d[k - 1] = 1.0
    return d


def _direct_response(info: InformationSet, period: pd.Period, ar_lag: int, seasonal: bool) -> float:
    if seasonal:
        lt = info.log_target
        return lt.get(period, np.nan) - lt.get(period - ar_lag, np.nan)
    return info.target_growth_lookup.get(period, np.nan)


class _DirectModel(NowcastModel, ABC):
    """Shared machinery: a design per (indicator gaps, AR lag) pattern, fitted on the fit-time history."""

    lags = 3
    seasonal = False

    def _names(self, info):
        names = self.indicators if self.indicators is not None else list(info.indicators.columns)
        return [n for n in names if n in info.indicators.columns]

    def _fit(self, info):
        self.names_ = self._names(info)
        self.fits_ = {}
        self._state(self._key(info))

    def _key(self, info):
        gaps = _indicator_gaps(info, self.names_)
        usable = tuple(n for n, g in zip(self.names_, gaps) if g < 24)
        return usable, tuple(g for g in gaps if g < 24), _steps(info)

    def _training(self, key):
        names, gaps, ar_lag = key
        info = self.info_
        rows, ys = [], []
        for period in info.target.index:
            value = _direct_response(info, period, ar_lag, self.seasonal)
            r = _direct_row(info, names, gaps, self.lags, ar_lag, period, self.seasonal)
            if np.isfinite(value) and np.isfinite(r).all():
                rows.append(r)
                ys.append(value)
        return np.asarray(rows), np.asarray(ys)

    def _state(self, key):
        if key not in self.fits_:
            X, y = self._training(key)
            if len(y) < X.shape[1] + 5:
                raise ValueError(f"{self.name}: {len(y)} usable periods for {X.shape[1]} regressors")
            self.fits_[key] = self._estimate(X, y)
        return self.fits_[key]

    def _predict(self, info):
        key = self._key(info)
        names, gaps, ar_lag = key
        row = _direct_row(info, names, gaps, self.lags, ar_lag, info.target_period, self.seasonal)
        mean, se = self._evaluate(self._state(key), row)
        if self.seasonal:
            return mean, se, info.target_period - ar_lag
        return mean, se

    @abstractmethod
    def _estimate(self, X, y):
        """Implemented by each model."""

    @abstractmethod
    def _evaluate(self, state, row):
        """Implemented by each model."""


def _ols(X, y):
    Z = np.column_stack([np.ones(len(y)), X])
    beta, *_ = np.linalg.lstsq(Z, y, rcond=None)
    resid = y - Z @ beta
    s2 = float(resid @ resid / max(len(y) - Z.shape[1], 1))
    return {"beta": beta, "s2": s2, "inv": np.linalg.pinv(Z.T @ Z)}


def _ols_predict(state, row):
    z = np.concatenate([[1.0], row])
    return float(z @ state["beta"]), float(np.sqrt(state["s2"] * (1 + z @ state["inv"] @ z)))


class UMidas(_DirectModel):
    """Unrestricted MIDAS (Foroni, Marcellino, Schumacher 2015): OLS on every lag of every indicator."""

    name = "umidas"

    def __init__(self, indicators: list[str] | None = None, lags: int = 3, seasonal: bool = False):
        self.indicators, self.lags, self.seasonal = indicators, lags, seasonal

    def _estimate(self, X, y):
        return _ols(X, y)

    def _evaluate(self, state, row):
        return _ols_predict(state, row)


def almon_weights(theta1: float, theta2: float, lags: int) -> np.ndarray:
    """Exponential Almon lag weights exp(t1 j + t2 j^2), normalised to sum to one (Ghysels et al. 2007)."""
    j = np.arange(lags, dtype=float)
    w = np.exp(np.clip(theta1 * j + theta2 * j * j, -50, 50))
    return w / w.sum()


class AlmonMidas(_DirectModel):
    """MIDAS with an exponential Almon polynomial per indicator, fitted by nonlinear least squares."""

    name = "almon_midas"

    def __init__(self, indicators: list[str] | None = None, lags: int = 6):
        self.indicators, self.lags = indicators, lags

    def _fitted(self, params, X):
        k = (X.shape[1] - 1) // self.lags
        out = params[0] + params[1] * X[:, 0]
        for i in range(k):
            b, t1, t2 = params[2 + 3 * i:5 + 3 * i]
            out = out + b * X[:, 1 + i * self.lags:1 + (i + 1) * self.lags] @ almon_weights(t1, t2, self.lags)
        return out

    def _estimate(self, X, y):
        k = (X.shape[1] - 1) // self.lags
        start = np.concatenate([[y.mean(), 0.0], np.tile([0.0, 0.0, 0.0], k)])
        lower = np.concatenate([[-np.inf, -np.inf], np.tile([-np.inf, -3.0, -1.0], k)])
        upper = np.concatenate([[np.inf, np.inf], np.tile([np.inf, 3.0, 1.0], k)])
        sol = optimize.least_squares(lambda p: self._fitted(p, X) - y, start, bounds=(lower, upper))
        resid = sol.fun
        s2 = float(resid @ resid / max(len(y) - len(start), 1))
        return {"params": sol.x, "s2": s2, "inv": np.linalg.pinv(sol.jac.T @ sol.jac)}

    def _evaluate(self, state, row):
        p = state["params"]
        mean = float(self._fitted(p, row[None, :])[0])
        eps = 1e-6
        grad = np.array([(self._fitted(p + eps * e, row[None, :])[0] - mean) / eps for e in np.eye(len(p))])
        return mean, float(np.sqrt(state["s2"] * (1 + grad @ state["inv"] @ grad)))


class RegularisedRegression(_DirectModel):
    """Ridge regression on standardised lagged indicators; penalty by leave-one-out CV, se from LOO errors."""

    name = "ridge"

    def __init__(self, indicators: list[str] | None = None, lags: int = 3, seasonal: bool = False):
        self.indicators, self.lags, self.seasonal = indicators, lags, seasonal

    def _estimate(self, X, y):
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13), store_cv_results=True))
        model.fit(X, y)
        ridge = model[-1]
        best = int(np.argmin(np.abs(ridge.alphas - ridge.alpha_)))
        return {"model": model, "se": float(np.sqrt(ridge.cv_results_[:, best].mean()))}

    def _evaluate(self, state, row):
        return float(state["model"].predict(row[None, :])[0]), state["se"]


class GradientBoosting(_DirectModel):
    """Gradient-boosted trees on lagged indicators; se from errors on the last quarter of the sample
    when fitted on the first three quarters (trees fit their own sample almost exactly)."""

    name = "boosting"

    def __init__(self, indicators: list[str] | None = None, lags: int = 3, n_estimators: int = 60,
                 random_state: int = 0, seasonal: bool = False):
        self.indicators, self.lags, self.n_estimators, self.random_state = indicators, lags, n_estimators, random_state
        self.seasonal = seasonal

    def _model(self):
        from sklearn.ensemble import GradientBoostingRegressor

        # A backtest fits two small models (~100 rows) per cell. The classic single-threaded
        # GradientBoostingRegressor is fastest there: HistGradientBoostingRegressor's OpenMP
        # threads spin on a busy 2-core machine (measured 2.6 s against 0.1 s a fit).
        return GradientBoostingRegressor(n_estimators=self.n_estimators, max_depth=2, learning_rate=0.1,
                                         min_samples_leaf=5, random_state=self.random_state)

    def _estimate(self, X, y):
        cut = int(len(y) * 0.75)
        holdout = self._model().fit(X[:cut], y[:cut])
        se = float(np.sqrt(np.mean((holdout.predict(X[cut:]) - y[cut:]) ** 2)))
        return {"model": self._model().fit(X, y), "se": se}

    def _evaluate(self, state, row):
        return float(state["model"].predict(row[None, :])[0]), state["se"]


# ---- bridge equation -----------------------------------------------------------------

def fill_ragged_edge(x: pd.Series, until: pd.Period) -> pd.Series:
    """Extend a monthly growth series to *until* with its own AR(1) forecasts (the indicator model)."""
    x = x.dropna()
    if x.empty or x.index.max() >= until:
        return x
    v = x.to_numpy()
    X = np.column_stack([np.ones(len(v) - 1), v[:-1]])
    (c, phi), *_ = np.linalg.lstsq(X, v[1:], rcond=None)
    out = x.copy()
    last, month = v[-1], x.index.max()
    while month < until:
        month, last = month + 1, c + phi * last
        out[month] = last
    return out


class Bridge(NowcastModel):
    """Bridge equation: target growth on its own lag and on indicators aggregated to the target's
    frequency (mean of the months), the missing months filled by :func:`fill_ragged_edge`."""

    name = "bridge"

    def __init__(self, indicators: list[str] | None = None):
        self.indicators = indicators

    def _aggregate(self, info, names, fill: bool):
        end = last_month(info.target_period)
        cols = {}
        for name in names:
            x = info.indicator_growth[name].dropna() if name in info.indicator_growth else pd.Series(dtype=float)
            if fill:
                x = fill_ragged_edge(x, end)
            if info.freq == "Q":
                q = x.groupby(x.index.asfreq("Q")).agg(["mean", "count"])
                x = q["mean"][q["count"] == 3]
            cols[name] = x
        return pd.DataFrame(cols)

    def _fit(self, info):
        names = self.indicators if self.indicators is not None else list(info.indicators.columns)
        self.names_ = [n for n in names if n in info.indicators.columns]
        self.fits_ = {}

    def _state(self, ar_lag):
        if ar_lag not in self.fits_:
            info = self.info_
            agg = self._aggregate(info, self.names_, fill=False)
            y = info.target_growth
            lagged = pd.Series(y.to_numpy(), index=y.index + ar_lag, name="_ylag")
            frame = pd.concat([y.rename("_y"), lagged, agg], axis=1).dropna()
            self.fits_[ar_lag] = _ols(frame.drop(columns="_y").to_numpy(), frame["_y"].to_numpy())
        return self.fits_[ar_lag]

    def _predict(self, info):
        ar_lag = _steps(info)
        agg = self._aggregate(info, self.names_, fill=True)
        y = info.target_growth
        row = [y.get(info.target_period - ar_lag, np.nan)] + [agg[n].get(info.target_period, np.nan)
                                                             for n in self.names_]
        return _ols_predict(self._state(ar_lag), np.asarray(row, dtype=float))
