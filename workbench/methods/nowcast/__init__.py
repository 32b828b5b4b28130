"""Nowcasting: models behind one interface, pseudo-real-time backtests on vintages, news.

    info = information_set(prepare_indicators(ind), prepare_targets(tg, "retail_sales"), "2026-08-20", "2026-08")
    nowcast = Bridge(["card_spending_total"]).fit(info).predict()
    nowcast.point, nowcast.conf_int(0.1)
"""

from workbench.methods.nowcast.backtest import attach_actuals, backtest, nowcast_dates
from workbench.methods.nowcast.combination import combine, inverse_mse_weights
from workbench.methods.nowcast.dfm import DynamicFactor, NewsDecomposition
from workbench.methods.nowcast.intervals import error_based_intervals
from workbench.methods.nowcast.many import nowcast_frame, nowcast_many, snapshot
from workbench.methods.nowcast.metrics import diebold_mariano, evaluate
from workbench.methods.nowcast.models import (
    AR,
    AlmonMidas,
    Bridge,
    GradientBoosting,
    Nowcast,
    NowcastModel,
    RandomWalk,
    RegularisedRegression,
    UMidas,
    almon_weights,
    fill_ragged_edge,
)
from workbench.methods.nowcast.news import indicator_news
from workbench.methods.nowcast.vintages import (
    InformationSet,
    final_values,
    information_set,
    parse_period,
    prepare_indicators,
    prepare_targets,
    release_calendar,
)

MODELS = {
    "random_walk": RandomWalk, "ar": AR, "bridge": Bridge, "umidas": UMidas, "almon_midas": AlmonMidas,
    "ridge": RegularisedRegression, "boosting": GradientBoosting, "dfm": DynamicFactor,
}
BENCHMARKS = ("random_walk", "ar")
# What the page, the bench and the tests start from: month-to-date card spending (the only
# indicator that covers the reference month four weeks before its release), VAT, job ads and
# the retail firms' electricity (the release-week gain).
DEFAULT_INDICATORS = ["card_spending_pace", "vat_sales_total", "job_ads_count", "electricity_retail_index"]
SEASONAL = ("umidas", "ridge", "boosting")


def make_model(name: str, indicators: list[str] | None = None) -> NowcastModel:
    """A model by its name in :data:`MODELS` (benchmarks ignore *indicators*)."""
    cls = MODELS[name]
    if name in BENCHMARKS:
        return cls()
    if name in SEASONAL:  # month-on-month form with calendar dummies: measured better on the demo
        return cls(indicators=indicators, seasonal=True)
    return cls(indicators=indicators)


__all__ = [
    "AR", "AlmonMidas", "BENCHMARKS", "Bridge", "DEFAULT_INDICATORS", "DynamicFactor", "GradientBoosting",
    "InformationSet", "MODELS", "NewsDecomposition", "Nowcast", "NowcastModel", "RandomWalk",
    "RegularisedRegression", "UMidas", "almon_weights", "attach_actuals", "backtest", "combine", "diebold_mariano",
    "error_based_intervals", "evaluate", "fill_ragged_edge", "final_values", "indicator_news", "information_set",
    "inverse_mse_weights", "make_model", "nowcast_dates", "nowcast_frame", "nowcast_many", "snapshot",
    "parse_period", "prepare_indicators", "prepare_targets", "release_calendar",
]
