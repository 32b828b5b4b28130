"""The Estimates page's own defaults against the small demo's truth (issue 19, item 1).

For every period, variable and domain the page offers, the page's default settings
(``survey.DEFAULTS``: linear calibration bounded to g in [0.3, 3] to the frame's stratum counts,
VAT sales and insured headcount, Taylor variance, edited and imputed values, Student's t intervals
with the domain's units minus one degrees of freedom) must give no negative weight, no blocked run,
and 95 % intervals that cover the generator's truth in at least 90 % of cells (measured: 91.7 % of
15,187 cells). Known shortfall, printed by the test: the city's revenue total is covered in about
46 % of months, because the demo's survey fraud (returns inflated 15-40 %) that the rules do not
catch biases it by 1-2 % against an SE of about 0.3 %; that is the fraud queue's work, not the
interval's.

The truth the survey estimates: the true revenue / employment (``truth/enterprise_month``) summed
over the survey's target population in the month: the sampling frame of the year (non-individual
enterprises alive on 1 January, ``truth/enterprises``) alive in the month. Cells are domains with
at least two sampled units (one unit gives no variance estimate; the page shows it without an
interval and marked unreliable).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from workbench.methods.estimate import runs as estimate_runs
from workbench.methods.estimate.survey import estimation_frame, settings, survey_estimates

# The page's domain choices and the truth's column for each.
DOMAINS = {None: None, "county_code": "county_code", "industry_section": "section", "size_class": "size_class",
           "township_code": "township_code"}
VARIABLES = ("employment", "revenue")
pytestmark = pytest.mark.timeout(3000)  # the demo lake's build is this session's setup


def target_population(enterprises: pd.DataFrame, year: int) -> pd.DataFrame:
    jan1 = pd.Timestamp(year=year, month=1, day=1)
    birth, death = pd.to_datetime(enterprises["birth_date"]), pd.to_datetime(enterprises["death_date"])
    return enterprises[~enterprises["is_individual"] & (birth < jan1) & (death.isna() | (death >= jan1))]


@pytest.fixture(scope="module")
def cells(demo_lake):
    """One row per (period, variable, domain option, cell): estimate, interval, n, truth, weights."""
    lake = demo_lake.lake
    truth_dir = os.path.join(demo_lake.manifest["out"], "truth")
    truth = pd.read_parquet(os.path.join(truth_dir, "enterprise_month.parquet"))
    enterprises = pd.read_parquet(os.path.join(truth_dir, "enterprises.parquet"))
    register = lake.read(estimate_runs.REGISTER).select("period", *estimate_runs.REGISTER_COLUMNS).toPandas()
    sample = lake.read(estimate_runs.SAMPLE).select(
        "credit_code", "sample_year", "stratum", "design_weight", "population_in_stratum").toPandas()
    panel = lake.read(estimate_runs.PANEL).select(
        "credit_code", "period", "revenue", "revenue_flag", "employment", "employment_flag").toPandas()
    survey_months = lake.read(estimate_runs.REGISTER).filter("has_survey").select("period").distinct().toPandas()
    periods = sorted(str(p)[:7] for p in survey_months["period"])
    by_period = dict(tuple(register.groupby(register["period"].astype(str).str[:7])))
    panel_by = dict(tuple(panel.groupby(panel["period"].astype(str).str[:7])))
    rows = []
    for period in periods:
        year = int(period[:4])
        reg = by_period[period]
        pop = target_population(enterprises, year)[["credit_code", *[c for c in DOMAINS.values() if c]]]
        true_month = truth[truth["month"] == period].merge(pop, on="credit_code")
        smp = sample[sample["sample_year"] == year]
        for variable in VARIABLES:
            frame = estimation_frame(smp, reg, variable, panel_by.get(period))
            for domain, column in DOMAINS.items():
                result = survey_estimates(frame, reg, settings({"variable": variable, "domain": domain}))
                true = {"total": true_month[variable].sum()}
                if column:
                    true.update(true_month.groupby(column)[variable].sum().to_dict())
                w = result.weights.iloc[0]
                for r in result.estimates.itertuples():
                    rows.append({"period": period, "variable": variable, "domain": domain or "-", "cell": r.domain,
                                 "n": r.n, "estimate": r.estimate, "low": r.ci_low, "high": r.ci_high,
                                 "truth": true.get(r.domain, 0.0), "negative_weights": int(w["negative_weights"]),
                                 "g_min": w["g_min"], "g_max": w["g_max"], "blocked": result.blocked,
                                 "values": result.values})
    return pd.DataFrame(rows)


def test_page_defaults_cover_the_truth_with_no_negative_weight(cells):
    assert len(cells["period"].unique()) >= 100  # every survey month of the small demo (2018-01 .. 2026-09)
    assert (cells["values"] == "edited_imputed").all()  # the pipeline built the panel; estimates use it
    assert (cells["negative_weights"] == 0).all() and not cells["blocked"].any()
    # bounded calibration: every g-weight within the page's default bounds (tolerance 1e-9)
    assert cells["g_min"].min() >= 0.3 - 1e-9 and cells["g_max"].max() <= 3.0 + 1e-9
    estimable = cells[cells["n"] >= 2]
    covered = (estimable["low"] <= estimable["truth"]) & (estimable["truth"] <= estimable["high"])
    by = covered.groupby([estimable["variable"], estimable["domain"]]).mean()
    print("coverage of the 95 % intervals by variable and domain:\n", by.round(3).to_string(),
          f"\noverall {covered.mean():.3f} of {len(estimable)} cells")
    assert covered.mean() >= 0.90, by.round(3).to_string()
    # every estimate is finite and of the truth's order: no -2e14 yuan
    ratio = estimable["estimate"] / estimable["truth"].where(estimable["truth"] > 0)
    assert np.isfinite(estimable["estimate"]).all() and ratio.dropna().between(0.2, 5).mean() > 0.97
