"""Mixed-frequency dynamic factor model (statsmodels ``DynamicFactorMQ``) and its news.

:class:`DynamicFactor` follows the common interface on an :class:`InformationSet`
(year-on-year log growth of the indicators and the target, the target quarterly
or monthly). ``fit_frames``/``news_frames`` take already transformed frames, so
the New York Fed replication data (Bańbura and Modugno 2014) can be run through
the same object with the Fed's own transformations and parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.methods.nowcast.models import NowcastModel
from workbench.methods.nowcast.vintages import InformationSet, last_month

TARGET = "target"


@dataclass(frozen=True)
class NewsDecomposition:
    """How new data moved a nowcast: ``old + revision + sum(news table impacts) = new``.

    ``table`` has one row per new observation: variable, month, forecast (prev),
    observed, weight, impact; ``contributions`` sums the impacts by variable.
    """

    impact_date: str
    variable: str
    old: float
    new: float
    revision: float
    table: pd.DataFrame

    @property
    def contributions(self) -> pd.Series:
        return self.table.groupby("variable", sort=False)["impact"].sum()

    def summary(self) -> str:
        lines = [f"news for {self.variable} at {self.impact_date}: {self.old:.4f} -> {self.new:.4f}",
                 f"  revisions: {self.revision:+.4f}"]
        lines += [f"  {k}: {v:+.4f}" for k, v in self.contributions.items()]
        return "\n".join(lines)


class DynamicFactor(NowcastModel):
    """``DynamicFactorMQ`` fitted by EM; optional known ``params`` and initial state reproduce a
    published estimate exactly instead of estimating."""

    name = "dfm"

    def __init__(self, indicators: list[str] | None = None, factors=1, factor_orders=1, factor_multiplicities=None,
                 idiosyncratic_ar1: bool = True, standardize: bool = True, init_t0: bool = False,
                 obs_cov_diag: bool = False, maxiter: int = 50, params=None, initial_state=None,
                 initial_state_cov=None):
        self.indicators, self.factors, self.factor_orders = indicators, factors, factor_orders
        self.factor_multiplicities, self.idiosyncratic_ar1, self.standardize = (
            factor_multiplicities, idiosyncratic_ar1, standardize)
        self.init_t0, self.obs_cov_diag, self.maxiter = init_t0, obs_cov_diag, maxiter
        self.params, self.initial_state, self.initial_state_cov = params, initial_state, initial_state_cov

    # -- frames: the statsmodels layer --------------------------------------------------
    def fit_frames(self, endog_monthly: pd.DataFrame, endog_quarterly: pd.DataFrame | None = None):
        """Estimate (or, with ``params``, evaluate) the model on transformed frames with PeriodIndex."""
        from statsmodels.tsa.statespace.dynamic_factor_mq import DynamicFactorMQ

        mod = DynamicFactorMQ(endog_monthly, endog_quarterly=endog_quarterly, factors=self.factors,
                              factor_orders=self.factor_orders, factor_multiplicities=self.factor_multiplicities,
                              idiosyncratic_ar1=self.idiosyncratic_ar1, standardize=self.standardize,
                              init_t0=self.init_t0, obs_cov_diag=self.obs_cov_diag)
        if self.params is not None:
            if self.initial_state is not None:
                mod.initialize_known(np.asarray(self.initial_state), np.asarray(self.initial_state_cov))
            self.results_ = mod.smooth(np.asarray(self.params), cov_type="none")
        else:
            self.results_ = mod.fit(disp=False, maxiter=self.maxiter)
        return self

    def news_frames(self, endog_monthly: pd.DataFrame, endog_quarterly: pd.DataFrame | None, impact_date,
                    variable: str) -> NewsDecomposition:
        """News from the fitted data to the updated frames, parameters and standardisation held fixed."""
        new = self.results_.apply(endog_monthly, endog_quarterly=endog_quarterly, retain_standardization=True)
        news = new.news(self.results_, impact_date=impact_date, impacted_variable=variable,
                        comparison_type="previous")
        details = news.details_by_impact.loc[(impact_date, variable)]
        table = details[["forecast (prev)", "observed", "weight", "impact"]].reset_index()
        table = table.rename(columns={"update date": "month", "updated variable": "variable",
                                      "forecast (prev)": "forecast_prev"})
        table["month"] = table["month"].astype(str)
        old = float(news.prev_impacted_forecasts.loc[impact_date, variable])
        newv = float(news.post_impacted_forecasts.loc[impact_date, variable])
        revision = float(news.revision_impacts.loc[impact_date, variable]) if news.revision_impacts is not None \
            else 0.0
        return NewsDecomposition(str(impact_date), variable, old, newv, revision,
                                 table[["variable", "month", "forecast_prev", "observed", "weight", "impact"]])

    # -- information sets: the common interface ----------------------------------------
    def _frames(self, info: InformationSet, names: list[str]):
        end = last_month(info.target_period)
        x = info.indicator_growth[names].dropna(how="all")
        y = info.target_growth
        start = max(x.index.min(), y.index.min().asfreq("M", how="start"))
        months = pd.period_range(start, end, freq="M")
        monthly = x.reindex(months)
        if info.freq == "Q":
            quarterly = y.reindex(pd.period_range(start.asfreq("Q"), info.target_period, freq="Q")).to_frame(TARGET)
            return monthly, quarterly
        monthly[TARGET] = y.reindex(months)
        return monthly, None

    def _fit(self, info):
        names = self.indicators if self.indicators is not None else list(info.indicators.columns)
        self.names_ = [n for n in names if n in info.indicators.columns]
        self.fit_frames(*self._frames(info, self.names_))

    def _predict(self, info):
        res = self.results_ if info is self.info_ else self.results_.apply(
            *self._frames(info, self.names_)[:1], endog_quarterly=self._frames(info, self.names_)[1],
            retain_standardization=True)
        month = str(last_month(info.target_period))
        pred = res.get_prediction(start=month, end=month, information_set="smoothed")
        mean = float(pred.predicted_mean[TARGET].iloc[0])
        j = list(pred.predicted_mean.columns).index(TARGET)
        var = np.asarray(pred.var_pred_mean, dtype=float)
        var = float(var[0, j] if var.ndim == 2 else (var[0, j, j] if var.shape[0] == 1 else var[j, j, 0]))
        return mean, float(np.sqrt(max(var, 0.0)))

    def news(self, new_info: InformationSet) -> NewsDecomposition:
        """Which indicator moved this model's nowcast between the fitted information set and *new_info*
        (log growth, parameters fixed)."""
        monthly, quarterly = self._frames(new_info, self.names_)
        return self.news_frames(monthly, quarterly, str(last_month(new_info.target_period)), TARGET)
