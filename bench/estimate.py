"""Calibration with re-calibrated replicate variance on the medium demo's survey, against baselines in the same run.

Two samples (both need the medium demo's truth, /tmp/demo_medium or WORKBENCH_DEMO_MEDIUM; without it
10,000 simulated units are used and the script says so):

* ``medium demo YEAR``: the medium demo's own survey sample of that year (about 3,600 units);
* ``10,000 units drawn like the medium survey``: a stratified simple random sample of 10,000 live
  enterprises of the medium register in December, allocated to the medium survey's strata in
  proportion to its own allocation (capped at the stratum size), NumPy seed 0.

Auxiliaries: the 44 stratum counts, VAT sales and insured headcount (46 columns). For each sample it
prints the Horvitz-Thompson total, GREG with 200 re-calibrated Rao-Wu bootstrap replicates by the
batched engine, the same by the one-replicate-at-a-time loop (the previous implementation, timed on
20 replicates and scaled to 200), raking and JKn (one replicate per unit), with ratios.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.methods.estimate import SurveyDesign, calibrate, model_matrix, replicate_estimate, total
from workbench.methods.estimate.replicate import replicate_factors


def _truth() -> Path:
    return Path(os.environ.get("WORKBENCH_DEMO_MEDIUM", "/tmp/demo_medium")) / "truth"


def medium_samples() -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """[(label, sample, population)] with columns stratum, design_weight, population_in_stratum, y and auxiliaries."""
    root = _truth()
    if not (root / "survey_samples.parquet").exists():
        rng = np.random.default_rng(0)
        n = 10_000
        pop = pd.DataFrame({"stratum": rng.integers(0, 44, 10 * n).astype(str),
                            "vat_sales": rng.gamma(2, 1e5, 10 * n), "si_headcount": rng.poisson(20, 10 * n) + 1.0})
        pop["employment"] = pop["si_headcount"] * rng.gamma(20, 0.05, len(pop))
        return [("simulated (no medium demo found)", _draw(pop, pop["stratum"].value_counts() // 10, rng), pop)]
    s = pd.read_parquet(root / "survey_samples.parquet")
    year = int(s["sample_year"].max()) - 1
    s = s[s["sample_year"] == year]
    ent = pd.read_parquet(root / "enterprises.parquet", columns=["credit_code", "section", "size_class"])
    month = pd.read_parquet(root / "enterprise_month.parquet", columns=["credit_code", "employment", "vat_sales",
                                                                        "si_headcount"],
                            filters=[("month", "==", f"{year}-12")])
    pop = month.merge(ent, on="credit_code")
    pop["stratum"] = pop["section"] + "-" + pop["size_class"]
    pop = pop[pop["stratum"].isin(set(s["stratum"]))].fillna({"vat_sales": 0.0, "si_headcount": 0.0})
    own = s.merge(pop, on=["credit_code", "stratum"]).dropna(subset=["employment"])
    size = pop.groupby("stratum").size()
    scale = 10_000 / len(s)
    while np.minimum((s.groupby("stratum").size() * scale).round(), size).sum() < 10_000:
        scale *= 1.02  # strata that are taken whole leave room for more units elsewhere
    alloc = np.minimum((s.groupby("stratum").size() * scale).round(), size).astype(int)
    big = _draw(pop, alloc, np.random.default_rng(0))
    return [(f"medium demo {year}", own, pop), ("10,000 units drawn like the medium survey", big, pop)]


def _draw(pop: pd.DataFrame, alloc: pd.Series, rng) -> pd.DataFrame:
    parts = []
    for stratum, group in pop.groupby("stratum"):
        n = int(min(max(alloc.get(stratum, 2), 2), len(group)))
        take = group.iloc[np.sort(rng.choice(len(group), n, replace=False))].copy()
        take["population_in_stratum"] = len(group)
        take["design_weight"] = len(group) / n
        parts.append(take)
    return pd.concat(parts, ignore_index=True)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run(label: str, df: pd.DataFrame, pop: pd.DataFrame) -> None:
    design = SurveyDesign(df["design_weight"].to_numpy(), df["stratum"].to_numpy(),
                          fpc=df["population_in_stratum"].to_numpy(float))
    cats, nums = ["stratum"], ["vat_sales", "si_headcount"]
    X = model_matrix(df, categorical=cats, numeric=nums).to_numpy()
    T = model_matrix(pop, categorical=cats, numeric=nums).sum().to_numpy()
    y = df["employment"]
    print(f"\n{label}: n={len(df)} strata={df['stratum'].nunique()} auxiliaries={X.shape[1]}")
    ht, t_ht = timed(lambda: total(design, y))
    reps = replicate_factors(design, "bootstrap", n_boot=200, seed=1)
    (cal, _), t_cal = timed(lambda: calibrate(design, X, T, "linear"))
    taylor = total(cal, y)
    boot, t_boot = timed(lambda: replicate_estimate(design, y, "total", reps=reps, X=X, totals=T))
    few = replicate_factors(design, "bootstrap", n_boot=20, seed=1)
    _, t_loop20 = timed(lambda: replicate_estimate(design, y, "total", reps=few, X=X, totals=T, engine="loop"))
    t_loop = t_loop20 * 10
    rake, t_rake = timed(lambda: replicate_estimate(design, y, "total", reps=reps, X=X, totals=T,
                                                    calibration="raking"))
    jk, t_jk = timed(lambda: replicate_estimate(design, y, "total", X=X, totals=T, method="JKn"))
    print(f"  HT total + Taylor SE                        {t_ht:8.3f} s   total {ht.estimate[0]:.6g} SE {ht.se[0]:.4g}")
    print(f"  GREG weights + Taylor (residual) SE         {t_cal:8.3f} s   total {taylor.estimate[0]:.6g} "
          f"SE {taylor.se[0]:.4g}")
    print(f"  GREG, 200 bootstrap replicates, batched     {t_boot:8.3f} s   SE {boot.se[0]:.4g}  "
          f"({t_boot / t_ht:.0f}x HT)")
    print(f"  GREG, 200 bootstrap replicates, loop        {t_loop:8.3f} s   (20 timed x 10; "
          f"batched is {t_loop / t_boot:.1f}x faster)")
    print(f"  raking, 200 bootstrap replicates, batched   {t_rake:8.3f} s   SE {rake.se[0]:.4g}")
    print(f"  GREG, JKn ({jk.extra['replicates']} replicates), batched  {t_jk:8.3f} s   SE {jk.se[0]:.4g}")
    print(f"  whole calibrated estimate with bootstrap SE (weights + Taylor + replicates): "
          f"{t_cal + t_boot:.2f} s (target < 30 s)")


def main() -> None:
    for label, df, pop in medium_samples():
        run(label, df, pop)


if __name__ == "__main__":
    main()
