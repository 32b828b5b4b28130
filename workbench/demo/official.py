"""Official series as the bureau publishes them: first releases after a lag,
later vintages that revise them, each row with release_date and vintage, in
monthly delivery files official_series_<release month>.csv."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd

from workbench.demo import contracts
from workbench.demo.economy import cpi_total
from workbench.demo.geography import CITY_CODE
from workbench.demo.manifest import Manifest
from workbench.demo.timeline import LAST_MONTH, MONTHS, month_end
from workbench.demo.writers import csv_bytes, write_bytes

RETAIL_FACTOR = 1.08   # enterprise retail revenue -> 社会消费品零售总额 (covers non-enterprise sellers)
GDP_FACTOR = 1.25      # enterprise value added -> GDP (government, households, finance)


def _day(y: int, m: int, d: int) -> dt.date:
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    return dt.date(y, m, min(d, 28))


def target_truth(retail_revenue: np.ndarray, value_added: np.ndarray, cpi_group: pd.DataFrame,
                 weights: dict, town_emp: pd.DataFrame) -> pd.DataFrame:
    """The true (final) value of every published series."""
    rows = []
    for t, m in enumerate(MONTHS):
        rows.append(("retail_sales", CITY_CODE, m, RETAIL_FACTOR * retail_revenue[t] / 1e8, "亿元"))
    for q in range(len(MONTHS) // 3):
        m = MONTHS[3 * q]
        rows.append(("gdp", CITY_CODE, f"{m[:4]}Q{int(m[5:7]) // 3 + 1}",
                     GDP_FACTOR * value_added[3 * q:3 * q + 3].sum() / 1e8, "亿元"))
    total = cpi_total(cpi_group, weights)
    series = {"cpi": total, **{f"cpi_{g}": cpi_group[g] for g in cpi_group.columns}}
    for name, s in series.items():
        for t in range(12, len(MONTHS)):
            rows.append((f"{name}_yoy", CITY_CODE, MONTHS[t], 100 * s.iloc[t] / s.iloc[t - 12], "上年同月=100"))
        if name == "cpi":
            for t in range(1, len(MONTHS)):
                rows.append(("cpi_mom", CITY_CODE, MONTHS[t], 100 * s.iloc[t] / s.iloc[t - 1], "上月=100"))
    for r in town_emp.itertuples(index=False):
        rows.append(("employment", r.township_code, str(r.year), float(r.employment), "人"))
    return pd.DataFrame(rows, columns=["series", "area_code", "ref_period", "value", "unit"])


def releases(truth: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Every published value with its release date and vintage."""
    rng = np.random.default_rng([seed, 100])
    out = []
    for r in truth.itertuples(index=False):
        p = r.ref_period
        y = int(p[:4])
        if r.series == "retail_sales":
            m = int(p[5:7])
            plan = [(_day(y, m + 1, 15), 0.012), (_day(y, m + 2, 15), 0.004), (dt.date(y + 1, 6, 28), 0.0)]
        elif r.series == "gdp":
            qm = int(p[-1]) * 3
            plan = [(_day(y, qm + 1, 20), 0.012), (_day(y, qm + 3, 20), 0.005), (dt.date(y + 1, 6, 28), 0.0)]
        elif r.series == "employment":
            plan = [(dt.date(y + 1, 3, 28), 0.01), (dt.date(y + 1, 9, 28), 0.0)]
        else:  # CPI is not revised
            plan = [(_day(y, int(p[5:7]) + 1, 10), 0.0)]
        for v, (date, sd) in enumerate(plan, start=1):
            val = r.value * (1 + rng.normal(0, sd)) if sd else r.value
            out.append((r.series, r.area_code, p, date, v, round(val, 4 if r.series != "employment" else 0), r.unit))
    df = pd.DataFrame(out, columns=["series", "area_code", "ref_period", "release_date", "vintage", "value", "unit"])
    last = month_end(f"{LAST_MONTH[0]:04d}-{LAST_MONTH[1]:02d}")
    return df[df["release_date"] <= last]


def write_official(rel: pd.DataFrame, root: str, manifest: Manifest) -> None:
    rel = rel.assign(release_month=[d.strftime("%Y-%m") for d in rel["release_date"]])
    for month, grp in rel.groupby("release_month", sort=True):
        rows = [[s, a, p, d.isoformat(), str(v), repr(float(x)), u] for s, a, p, d, v, x, u in
                grp.drop(columns="release_month").itertuples(index=False)]
        path = os.path.join(root, contracts.folder("official_series"), f"official_series_{month}.csv")
        sha = write_bytes(path, csv_bytes(contracts.headers("official_series"), rows, "utf-8"))
        manifest.add(path, "official_series", month, "csv", len(rows), sha, {}, encoding="utf-8")
