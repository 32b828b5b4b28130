"""The true economy: a shared business cycle, industry trends and seasonality
(with the Spring Festival on its real dates), CPI by COICOP group, and the
month-by-month true revenue, employment and electricity of every enterprise."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.demo.timeline import MONTHS, festival_shopping_share, festival_shutdown_share

# monthly seasonal log-factors (Jan..Dec) before the Spring Festival effect
_SEASON = {
    "industry":     [0.00, 0.00, 0.03, 0.01, 0.02, 0.04, 0.00, 0.00, 0.03, 0.00, 0.03, 0.08],
    "construction": [-0.05, 0.00, 0.00, 0.03, 0.05, 0.06, 0.00, 0.00, 0.04, 0.03, 0.05, 0.12],
    "retail":       [0.02, 0.00, -0.04, -0.04, 0.01, 0.02, -0.03, -0.02, 0.02, 0.06, 0.04, 0.10],
    "catering":     [0.03, 0.00, -0.05, -0.03, 0.02, 0.00, 0.03, 0.04, 0.00, 0.07, -0.02, 0.06],
    "service":      [-0.02, 0.00, 0.00, 0.00, 0.00, 0.03, 0.00, 0.00, 0.02, -0.02, 0.00, 0.10],
    "agri":         [-0.10, -0.05, -0.05, 0.00, 0.05, 0.05, 0.05, 0.10, 0.15, 0.10, 0.00, -0.05],
    "power":        [0.08, 0.00, -0.05, -0.08, -0.04, 0.05, 0.12, 0.12, 0.00, -0.06, -0.02, 0.06],
    "realestate":   [-0.10, 0.00, 0.02, 0.00, 0.02, 0.12, -0.04, -0.02, 0.06, 0.00, 0.00, 0.15],
}

CPI_GROUPS = [  # code, name, weight, annual drift, MoM noise, seasonal MoM pattern (Jan..Dec)
    ("01", "食品烟酒", 0.28, 0.025, 0.008, [1.2, 1.0, -1.2, -0.6, -0.5, -0.3, 0.3, 0.6, 0.4, 0.0, -0.2, 0.4]),
    ("02", "衣着", 0.07, 0.010, 0.003, [0.2, -0.4, 0.8, 0.3, -0.2, -0.3, -0.6, -0.3, 0.6, 0.5, 0.3, -0.1]),
    ("03", "居住", 0.22, 0.012, 0.002, [0.1] * 12),
    ("04", "生活用品及服务", 0.06, 0.008, 0.003, [0.2, 0.3, -0.2, 0.0, -0.1, -0.2, 0.0, 0.0, 0.1, 0.0, -0.3, 0.0]),
    ("05", "交通通信", 0.11, 0.000, 0.009, [0.0] * 12),
    ("06", "教育文化娱乐", 0.11, 0.020, 0.004, [0.8, 0.9, -1.0, -0.2, -0.3, 0.2, 0.9, 0.6, 0.3, -0.6, -0.8, -0.3]),
    ("07", "医疗保健", 0.10, 0.018, 0.002, [0.1] * 12),
    ("08", "其他用品及服务", 0.05, 0.030, 0.008, [0.3, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3]),
]


@dataclass
class Macro:
    """Everything aggregate: cycle, per-class log factors, CPI by group."""
    cycle: np.ndarray                    # (T,) log deviation
    class_log_factor: np.ndarray         # (T, n_classes)
    emp_log_factor: np.ndarray           # (T, n_classes)
    kwh_season: np.ndarray               # (T,)
    cpi_group: pd.DataFrame              # month x group index, 2018-01 = 100
    cpi_weights: dict = field(default_factory=dict)


def business_cycle(rng: np.random.Generator) -> np.ndarray:
    """AR(2) cycle with the 2020 pandemic collapse and the 2022 local lockdowns."""
    T = len(MONTHS)
    c = np.zeros(T)
    e = rng.normal(0, 0.012, T)
    for t in range(2, T):
        c[t] = 1.5 * c[t - 1] - 0.6 * c[t - 2] + e[t]
    shocks = {"2020-01": -0.05, "2020-02": -0.30, "2020-03": -0.15, "2020-04": -0.06, "2020-05": -0.02,
              "2022-04": -0.06, "2022-05": -0.04, "2022-12": -0.05}
    for m, s in shocks.items():
        c[MONTHS.index(m)] += s
    return c


def build_macro(rng: np.random.Generator, ind: pd.DataFrame) -> Macro:
    T = len(MONTHS)
    cycle = business_cycle(rng)
    moy = np.array([int(m[5:7]) - 1 for m in MONTHS])
    shut = np.array([festival_shutdown_share(m) for m in MONTHS])
    shop = np.array([festival_shopping_share(m) for m in MONTHS])
    f = np.zeros((T, len(ind)))
    fe = np.zeros((T, len(ind)))
    for j, row in enumerate(ind.itertuples()):
        growth = np.full(T, row.growth)
        if row.section == "K":  # the property downturn from mid-2021
            growth = np.where(np.arange(T) >= 42, -0.08, 0.06)
        trend = np.cumsum(growth / 12) + rng.normal(0, 0.002, T).cumsum()
        season = np.array(_SEASON[row.season])[moy]
        sf = -row.sf_depth * shut
        if row.season in ("retail", "catering"):
            sf = sf + 0.25 * shop * row.retail_share
        f[:, j] = trend + season + sf + row.beta * cycle
        lagged = np.concatenate([[0.0], cycle[:-1]])
        fe[:, j] = 0.4 * trend + 0.35 * row.beta * lagged - 0.02 * shut
    kwh_season = 0.08 * np.isin(moy, [6, 7]) + 0.04 * np.isin(moy, [0, 11])
    return Macro(cycle=cycle, class_log_factor=f, emp_log_factor=fe, kwh_season=kwh_season,
                 cpi_group=cpi_truth(rng), cpi_weights={g[0]: g[2] for g in CPI_GROUPS})


def cpi_truth(rng: np.random.Generator) -> pd.DataFrame:
    """True CPI by COICOP group (index, 2018-01 = 100), month by month."""
    T = len(MONTHS)
    moy = np.array([int(m[5:7]) - 1 for m in MONTHS])
    out = {}
    t = np.arange(T)
    for code, _name, _w, drift, noise, season in CPI_GROUPS:
        mom = drift / 12 + np.array(season)[moy] / 100 + rng.normal(0, noise, T)
        if code == "01":  # the pork cycle: up 2019-06..2020-02, down 2021
            mom += np.where((t >= 17) & (t <= 25), 0.012, 0) - np.where((t >= 36) & (t <= 44), 0.008, 0)
        if code == "05":  # fuel: 2020 slump, 2022 spike
            mom += np.where((t >= 26) & (t <= 28), -0.015, 0) + np.where((t >= 50) & (t <= 54), 0.010, 0)
        mom[0] = 0.0
        out[code] = 100 * np.exp(np.cumsum(mom))
    return pd.DataFrame(out, index=pd.Index(MONTHS, name="month"))


def cpi_total(cpi_group: pd.DataFrame, weights: dict) -> pd.Series:
    """Fixed-weight (Laspeyres) total CPI, 2018-01 = 100."""
    w = pd.Series(weights)
    return (cpi_group[w.index] * w).sum(axis=1) / w.sum()


class EnterpriseEconomy:
    """Steps through the months and returns true revenue, employment and kWh of
    every enterprise; idiosyncratic shocks are AR(1) so firms have persistent luck."""

    RHO, SD = 0.85, 0.07

    def __init__(self, ent: pd.DataFrame, ind: pd.DataFrame, macro: Macro, seed: int):
        self.seed = seed
        self.macro = macro
        self.cls = ent["class_idx"].to_numpy()
        self.log_base_rev = np.log(ent["base_revenue"].to_numpy())
        self.base_emp = ent["base_employment"].to_numpy()
        self.birth = ent["birth_month"].to_numpy()
        self.death = ent["death_month"].to_numpy()
        self.kwh_rate = ind["kwh_per_1000_yuan"].to_numpy()[self.cls] / 1000.0
        n = len(ent)
        rng = np.random.default_rng([seed, 11])
        self.u = rng.normal(0, self.SD / np.sqrt(1 - self.RHO ** 2), n)
        self.v = rng.normal(0, 0.05, n)
        self.kwh_firm = np.exp(rng.normal(0, 0.3, n))

    def step(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(alive, revenue yuan, employment, kWh) for month t; call with t = 0, 1, 2..."""
        rng = np.random.default_rng([self.seed, 12, t])
        n = len(self.cls)
        self.u = self.RHO * self.u + rng.normal(0, self.SD, n)
        self.v = 0.9 * self.v + rng.normal(0, 0.02, n)
        alive = (self.birth <= t) & (self.death >= t)
        age = np.maximum(t - self.birth, 0)
        ramp = np.log1p(-np.exp(-(age + 1) / 4.0))
        log_rev = self.log_base_rev + self.macro.class_log_factor[t, self.cls] + self.u + ramp
        revenue = np.where(alive, np.round(np.exp(log_rev), 2), 0.0)
        emp = self.base_emp * np.exp(self.macro.emp_log_factor[t, self.cls] + self.v + 0.5 * ramp)
        employment = np.where(alive, np.round(emp), 0).astype(np.int64)
        kwh = revenue * self.kwh_rate * self.kwh_firm * np.exp(self.macro.kwh_season[t] + rng.normal(0, 0.05, n))
        return alive, revenue, employment, np.round(kwh, 1)
