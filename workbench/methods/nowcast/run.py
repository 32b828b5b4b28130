"""One nowcast as the Nowcast page and the run registry see it: a spec in, a result out.

:func:`run_nowcast` does everything the page shows: the target period (the first one not yet
published on the nowcast date), every chosen model's nowcast, the forecast combinations, the
error-based intervals (each model's own past errors at the same horizon, see
:mod:`~workbench.methods.nowcast.intervals`; the models' own 90 % intervals covered 64-83 %
four weeks out on the demo, these 89-96 %), the track record those errors come from, and the
news since a week earlier. Warnings (a factor model that did not converge, a model that could
not be fitted) are collected into ``NowcastResult.warnings`` instead of going to the log.

Cost: the intervals need a backtest, bounded to one horizon (the current one) and
``NowcastSpec.track_periods`` periods; the page caches the result by table versions and spec.
"""

from __future__ import annotations

import datetime as dt
import warnings as pywarnings
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from workbench.methods.nowcast.backtest import COLUMNS as BACKTEST_COLUMNS
from workbench.methods.nowcast.backtest import backtest
from workbench.methods.nowcast.combination import combine
from workbench.methods.nowcast.intervals import error_based_intervals
from workbench.methods.nowcast.metrics import evaluate
from workbench.methods.nowcast.news import indicator_news
from workbench.methods.nowcast.vintages import final_values, information_set, release_calendar

COMBINATIONS = {"equal": "combo_equal", "inverse_mse": "combo_inv_mse"}
# Horizons (weeks before the first release) the track record is kept for; the current nowcast
# takes its intervals from the nearest one.
HORIZONS = (0, 1, 2, 4)
NOWCAST_COLUMNS = ["model", "period", "asof", "horizon", "point", "lower", "upper", "interval", "model_lower",
                   "model_upper", "yoy_pct"]


@dataclass(frozen=True)
class NowcastSpec:
    """What to nowcast, with what, on which date (saved with the run as its parameters).

    Args:
        series: a series of ``gold.targets`` (e.g. "retail_sales", "gdp").
        models: names in :data:`workbench.methods.nowcast.MODELS`.
        indicators: indicators of ``gold.indicators_monthly`` the models may use.
        asof: the nowcast date (ISO); nothing released after it is used.
        combinations: forecast combinations of the non-benchmark models ("equal", "inverse_mse").
        alpha: 1 - interval coverage (0.1: 90 % intervals).
        track_periods: earlier periods re-nowcast at the current horizon for the error-based intervals.
        min_errors: fewer past errors than this keep the model's own interval (flagged "model").
        news_model: model whose news (since ``news_days`` earlier) is decomposed; None: the first
            non-benchmark model that could be fitted.
    """

    series: str
    models: tuple[str, ...]
    indicators: tuple[str, ...]
    asof: str
    combinations: tuple[str, ...] = ("equal", "inverse_mse")
    alpha: float = 0.1
    track_periods: int = 24
    min_errors: int = 8
    news_model: str | None = None
    news_days: int = 7

    def as_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "NowcastSpec":
        d = dict(d)
        for k in ("models", "indicators", "combinations"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)

    @property
    def asof_date(self) -> dt.date:
        return dt.date.fromisoformat(str(self.asof))


@dataclass
class NowcastResult:
    """A nowcast of one period by several models, with intervals from their track record.

    ``nowcasts``: one row per model and combination: point, ``lower``/``upper`` (error-based where
    ``interval`` is "errors", else the model's own), the model's own interval, growth on a year
    earlier in % (``yoy_pct``).
    ``track``: the backtest rows (current horizon) the errors come from, with error-based intervals
    and ``actual`` (the latest value published on the nowcast date); ``evaluation``: its accuracy
    by model (``rel_rmse`` against AR, ``coverage`` of the error-based intervals).
    """

    spec: NowcastSpec
    period: pd.Period
    release_date: dt.date
    release_expected: bool
    horizon: int
    nowcasts: pd.DataFrame
    track: pd.DataFrame
    evaluation: pd.DataFrame
    history: pd.Series
    news: pd.DataFrame | None
    news_model: str | None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.spec.series} {self.period} on {self.spec.asof} ({self.horizon} weeks before the "
                 f"{'expected ' if self.release_expected else ''}release on {self.release_date})"]
        for r in self.nowcasts.itertuples():
            lines.append(f"  {r.model}: {r.point:.4f} [{r.lower:.4f}, {r.upper:.4f}] ({r.interval})")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def metrics(self) -> dict:
        out: dict = {"period": str(self.period), "horizon": self.horizon, "models": int(len(self.nowcasts)),
                     "warnings": len(self.warnings)}
        for r in self.nowcasts.itertuples():
            out[f"point_{r.model}"] = float(r.point)
        for r in self.evaluation.itertuples():
            if np.isfinite(r.rel_rmse):
                out[f"rel_rmse_{r.model}"] = float(r.rel_rmse)
        return out

    def outputs(self) -> dict[str, pd.DataFrame]:
        """The run's output tables (Delta-friendly column types: periods and dates as text)."""
        track = self.track.assign(ref_period=self.track["ref_period"].astype(str),
                                  asof=self.track["asof"].astype(str),
                                  release_date=self.track["release_date"].astype(str))
        out = {"nowcasts": self.nowcasts, "track": track, "evaluation": self.evaluation}
        if self.news is not None:
            out["news"] = self.news.assign(model=self.news_model)
        return out


def target_period(target_vintages: pd.DataFrame, asof: dt.date) -> tuple[pd.Period, dt.date, bool]:
    """(first period not yet published on *asof*, its release date, whether that date is only expected).

    An unpublished period's release date is expected at the median lag of the published ones.
    """
    cal = release_calendar(target_vintages)
    published = cal[cal["release_date"] <= asof]["ref_period"]
    period = (published.max() + 1) if len(published) else cal["ref_period"].min()
    known = cal.set_index("ref_period")["release_date"]
    if period in known.index:
        return period, known[period], False
    lag = pd.Series([(d - p.end_time.date()).days for p, d in known.items()]).median()
    return period, period.end_time.date() + dt.timedelta(days=int(lag)), True


def default_asof(target_vintages: pd.DataFrame) -> dt.date:
    """The day after the latest release: the page's starting date."""
    return max(release_calendar(target_vintages)["release_date"]) + dt.timedelta(days=1)


def asof_range(target_vintages: pd.DataFrame) -> tuple[dt.date, dt.date]:
    """The nowcast dates that mean something: from the day after the first release (before it
    nothing is published to fit) to the expected release of the period after the latest
    published one (after it, the target would be a period no release is yet expected for)."""
    first = min(release_calendar(target_vintages)["release_date"]) + dt.timedelta(days=1)
    return first, target_period(target_vintages, default_asof(target_vintages))[1]


def _nearest_horizon(weeks: float) -> int:
    # ties go to the longer horizon: its errors are larger, its interval the more cautious
    return min(HORIZONS, key=lambda h: (abs(h - weeks), -h))


class _Warnings:
    """Python warnings and model failures of one nowcast, counted by model and message."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def add(self, model: str, message: str) -> None:
        self.counts[(model, " ".join(str(message).split())[:200])] += 1

    def capture(self, model: str, caught: list) -> None:
        for w in caught:
            # "EM reached maximum number of iterations (50), without achieving convergence: llf=-337.02, ...":
            # the numbers after the first colon differ from fit to fit; counted as one warning
            self.add(model, f"{w.category.__name__}: {str(w.message).split(': ')[0]}")

    def messages(self) -> list[str]:
        return [f"{model}: {message}" + (f" ({n} times)" if n > 1 else "")
                for (model, message), n in self.counts.items()]


class _Watched:
    """A model whose warnings in ``fit`` and ``predict`` go to a :class:`_Warnings` under its name
    (the backtest refits every model on every date: that is where the dozens came from)."""

    def __init__(self, model, name: str, found: _Warnings):
        self.model, self.name, self.found = model, name, found

    def fit(self, info) -> "_Watched":
        with pywarnings.catch_warnings(record=True) as caught:
            pywarnings.simplefilter("always")
            self.model.fit(info)
        self.found.capture(self.name, caught)
        return self

    def predict(self, info=None):
        with pywarnings.catch_warnings(record=True) as caught:
            pywarnings.simplefilter("always")
            out = self.model.predict(info)
        self.found.capture(self.name, caught)
        return out


def _fit(make_model, name: str, indicators: list[str], info, found: _Warnings):
    """Fit and predict one model; None (and a warning) when it cannot be fitted on *info*."""
    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        try:
            model = make_model(name, indicators).fit(info)
            return model, model.predict()
        except (ValueError, np.linalg.LinAlgError) as exc:
            found.add(name, f"not fitted: {exc}")
            return None, None
        finally:
            found.capture(name, caught)


def run_nowcast(indicators: pd.DataFrame, target_vintages: pd.DataFrame, spec: NowcastSpec) -> NowcastResult:
    """Nowcast ``spec.series`` on ``spec.asof`` (inputs from :func:`prepare_indicators` and
    :func:`prepare_targets`); see the module docstring."""
    from workbench.methods.nowcast import BENCHMARKS, make_model

    asof, names = spec.asof_date, list(spec.indicators)
    found = _Warnings()
    period, release, expected = target_period(target_vintages, asof)
    horizon = _nearest_horizon(max((release - asof).days, 0) / 7)
    info = information_set(indicators, target_vintages, asof, period, names)
    current, fitted = [], {}
    for name in spec.models:
        model, nc = _fit(make_model, name, names, info, found)
        if nc is None:
            continue
        fitted[name] = model
        lo, hi = nc.conf_int(spec.alpha)
        current.append((name, period, horizon, asof, release, nc.growth, nc.se, nc.point, lo, hi, ""))
    now = pd.DataFrame(current, columns=BACKTEST_COLUMNS)

    # the track record: earlier periods re-nowcast at this horizon, only those released by asof
    known = target_vintages[target_vintages["release_date"] <= asof]
    factories = {m: (lambda m=m: _Watched(make_model(m, names), m, found)) for m in dict.fromkeys(["ar", *spec.models])}
    past = backtest(indicators, known, factories, periods=spec.track_periods, horizons=(horizon,),
                    indicator_names=names, alpha=spec.alpha)
    for model, failed in past[past["error_message"] != ""].groupby("model", sort=False):
        found.add(model, f"not fitted on {len(failed)} of {spec.track_periods} dates of the track record "
                         f"(first: {failed['error_message'].iloc[0]})")
    rows = pd.concat([past, now], ignore_index=True)
    members = [m for m in spec.models if m not in BENCHMARKS and m in set(rows["model"])]
    if len(members) >= 2:
        rows = pd.concat([rows, *[combine(rows, target_vintages, members, method, spec.alpha)
                                  for method in spec.combinations]], ignore_index=True)
    own = rows[["lower", "upper"]].to_numpy(copy=True)
    rows = error_based_intervals(rows, target_vintages, spec.alpha, spec.min_errors).assign(
        model_lower=own[:, 0], model_upper=own[:, 1])

    is_now = rows["ref_period"] == period
    # growth on the period a year earlier, as published: the models' own growth rates have different
    # bases (a year ago, the last release) and a combination's would mix them
    year_ago = final_values(known).get(period - info.seasonal_lag, np.nan)
    nowcasts = rows[is_now].assign(period=str(period), asof=str(asof),
                                   yoy_pct=lambda d: 100 * (d["point"] / year_ago - 1))
    nowcasts = nowcasts[NOWCAST_COLUMNS].reset_index(drop=True)
    for r in nowcasts[nowcasts["interval"] == "model"].itertuples():
        found.add(r.model, f"fewer than {spec.min_errors} past errors at horizon {horizon}: the model's own "
                           "interval is shown (too narrow this far from the release)")
    actual = final_values(known)
    track = rows[~is_now].assign(actual=lambda d: d["ref_period"].map(actual).astype(float)).reset_index(drop=True)
    evaluation = evaluate(track[track["interval"] == "errors"]) if (track["interval"] == "errors").any() \
        else evaluate(track)

    news, news_model = None, spec.news_model
    if news_model is None:
        news_model = next((m for m in fitted if m not in BENCHMARKS), next(iter(fitted), None))
    if news_model is not None:
        before = information_set(indicators, target_vintages, asof - dt.timedelta(days=spec.news_days), period,
                                 names)
        with pywarnings.catch_warnings(record=True) as caught:
            pywarnings.simplefilter("always")
            try:
                news = indicator_news(make_model(news_model, names).fit(before), before, info)
            except (ValueError, np.linalg.LinAlgError) as exc:
                found.add(news_model, f"news not computed: {exc}")
        found.capture(news_model, caught)
    return NowcastResult(spec, period, release, expected, horizon, nowcasts, track, evaluation,
                         final_values(known), news, news_model, found.messages())
