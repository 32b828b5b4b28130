"""The monthly enterprise survey: a stratified sample drawn once a year from the
register (strata: industry section x size class) and the returns, with
non-response, fraudulent inflation and unit errors (yuan in the 万元 field)."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd

from workbench.demo import contracts
from workbench.demo import names as nm
from workbench.demo.dirt import inject_csv_rows
from workbench.demo.manifest import Manifest
from workbench.demo.timeline import MONTHS, festival_shutdown_share
from workbench.demo.writers import csv_bytes, write_bytes

SAMPLING_FRACTION = {"大型": 1.0, "中型": 0.5, "小型": 0.12, "微型": 0.03}


def sampling_frame(ent: pd.DataFrame, year: int) -> pd.DataFrame:
    """Registered non-individual enterprises alive on 1 January of ``year``."""
    jan1 = np.datetime64(f"{year}-01-01")
    death = ent["death_date"].to_numpy()
    alive = (ent["birth_date"].to_numpy() < jan1) & (np.isnat(death) | (death >= jan1))
    return ent.loc[alive & ~ent["is_individual"].to_numpy(), ["credit_code", "section", "size_class"]]


def draw_sample(frame: pd.DataFrame, year: int, seed: int) -> pd.DataFrame:
    """Stratified simple random sample without replacement; take-all for 大型.

    Reproducible: the same frame, year and seed always give the same sample.
    """
    rng = np.random.default_rng([seed, 60, year])
    frame = frame.sort_values("credit_code", kind="stable")
    parts = []
    for (sec, size), grp in frame.groupby(["section", "size_class"], sort=True):
        N = len(grp)
        n = min(N, max(2, int(round(SAMPLING_FRACTION[size] * N))))
        pick = np.sort(rng.choice(N, size=n, replace=False))
        parts.append(pd.DataFrame({"credit_code": grp["credit_code"].to_numpy()[pick], "sample_year": year,
                                   "stratum": f"{sec}-{size}", "population_in_stratum": N,
                                   "sample_in_stratum": n, "design_weight": N / n}))
    return pd.concat(parts, ignore_index=True)


def write_sample(sample: pd.DataFrame, year: int, root: str, manifest: Manifest) -> None:
    rows = [[c, str(y), s, str(N), str(n), f"{w:.6f}"] for c, y, s, N, n, w in sample.itertuples(index=False)]
    path = os.path.join(root, contracts.folder("survey_sample"), f"sample_{year}.csv")
    sha = write_bytes(path, csv_bytes(contracts.headers("survey_sample"), rows, "utf-8"))
    manifest.add(path, "survey_sample", str(year), "csv", len(rows), sha, {}, encoding="utf-8")


class SurveyWriter:
    def __init__(self, ent: pd.DataFrame, root: str, manifest: Manifest, seed: int):
        rng = np.random.default_rng([seed, 61])
        n = len(ent)
        self.ent = ent
        self.pos = pd.Series(np.arange(n), index=ent["credit_code"].to_numpy())
        self.resp_name = nm.person_names(rng, n)
        self.resp_phone = nm.mobile_numbers(rng, n)
        self.codes = ent["credit_code"].to_numpy()
        self.fraud_start = ent["fraud_start_idx"].to_numpy()
        self.fraud_factor = ent["fraud_factor"].to_numpy()
        self.root, self.manifest, self.seed = root, manifest, seed
        self.samples: dict[int, np.ndarray] = {}
        self.unit_errors: list[tuple[str, str]] = []
        self.returns_truth: list[pd.DataFrame] = []

    def set_sample(self, year: int, sample: pd.DataFrame) -> None:
        self.samples[year] = self.pos.loc[sample["credit_code"]].to_numpy()

    def write(self, t: int, alive: np.ndarray, revenue: np.ndarray, employment: np.ndarray) -> None:
        month = MONTHS[t]
        rng = np.random.default_rng([self.seed, 62, t])
        idx = self.samples[int(month[:4])]
        idx = idx[alive[idx]]
        p_miss = 0.11 + 0.15 * festival_shutdown_share(month)
        idx = idx[rng.random(len(idx)) >= p_miss]
        inflate = np.where((self.fraud_start[idx] >= 0) & (t >= self.fraud_start[idx]), self.fraud_factor[idx], 1.0)
        reported = revenue[idx] * inflate * np.exp(rng.normal(0, 0.005, len(idx))) / 1e4
        unit_err = rng.random(len(idx)) < 0.01
        reported = np.where(unit_err, reported * 1e4, reported)
        y, m = int(month[:4]), int(month[5:7])
        sub0 = dt.datetime(y + (m == 12), m % 12 + 1, 1)
        secs = rng.integers(0, 10 * 86400, len(idx))
        stamps = [(sub0 + dt.timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%S+08:00") for s in secs]
        rows = [[c, month, f"{r:.2f}", str(e), nmx, ph, st] for c, r, e, nmx, ph, st in zip(
            self.codes[idx], reported.tolist(), employment[idx].tolist(), self.resp_name[idx],
            self.resp_phone[idx], stamps)]
        errors = inject_csv_rows(rows, rng, {"impossible_value": 0.002}, count_col=3)
        errors["unit_error"] = int(unit_err.sum())
        self.unit_errors.extend((c, month) for c in self.codes[idx][unit_err])
        self.returns_truth.append(pd.DataFrame({
            "credit_code": self.codes[idx], "period": month, "true_revenue": revenue[idx],
            "inflation_factor": inflate, "unit_error": unit_err}))
        path = os.path.join(self.root, contracts.folder("survey"), f"survey_{month}.csv")
        sha = write_bytes(path, csv_bytes(contracts.headers("survey"), rows, "utf-8"))
        self.manifest.add(path, "survey", month, "csv", len(rows), sha, errors, encoding="utf-8")
