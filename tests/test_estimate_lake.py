"""Survey estimates, small areas and seasonal adjustment as registered runs on a lake; the imputation hook.

The lake holds literal tables shaped like the jobs' and the quality layer's output (generated with
NumPy, seed 0): ``gold.enterprise_month`` for two months, ``silver.survey_sample``,
``quality.survey_panel`` with imputed and edited cells, and ``gold.indicators_monthly``.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from workbench.auth import load_users
from workbench.methods.estimate import runs as estimate_runs
from workbench.methods.estimate.survey import estimation_frame, survey_estimates
from workbench.methods.seasonal import X13Spec
from workbench.runs import registry, review

PERIODS = (date(2025, 11, 1), date(2025, 12, 1))


def survey_tables(seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = 600
    ent = pd.DataFrame({
        "credit_code": [f"91{i:016d}" for i in range(n)],
        "township_code": [f"6601{t:05d}" for t in rng.integers(0, 12, n)],
        "industry_section": rng.choice(["C", "F"], n), "size_class": rng.choice(["小型", "微型"], n, p=[0.3, 0.7]),
    })
    ent["county_code"] = ent["township_code"].str[:6]
    # in the survey's frame: non-individual, born before the sample year, alive
    ent["legal_form"], ent["birth_date"] = "有限责任公司", date(2010, 1, 1)
    ent["death_date"] = pd.Series(pd.NaT, index=ent.index, dtype="datetime64[us]")
    ent["si_headcount"] = np.where(ent["size_class"] == "小型", 40, 8) * rng.gamma(4, 0.25, n)
    ent["vat_sales"] = ent["si_headcount"] * 2e4 * rng.gamma(8, 0.125, n)
    ent["strat"] = ent["industry_section"] + "-" + ent["size_class"]
    sample = ent.groupby("strat").sample(frac=0.3, random_state=seed)
    sample = sample.assign(sample_year=2025, stratum=sample["strat"],
                           population_in_stratum=sample["strat"].map(ent["strat"].value_counts()))
    sample["sample_in_stratum"] = sample["stratum"].map(sample["stratum"].value_counts())
    sample["design_weight"] = sample["population_in_stratum"] / sample["sample_in_stratum"]
    months = []
    for k, period in enumerate(PERIODS):
        m = ent.copy()
        m["period"] = period
        m["employment_true"] = np.round(m["si_headcount"] * rng.gamma(25, 0.044, n) * (1 + 0.02 * k))
        sampled = m["credit_code"].isin(sample["credit_code"])
        responds = sampled & (rng.random(n) > 0.15)
        m["survey_employment"] = np.where(responds, m["employment_true"], np.nan)
        m["survey_revenue"] = np.where(responds, m["vat_sales"] * 1.02, np.nan)
        m["has_survey"] = responds
        months.append(m)
    register = pd.concat(months, ignore_index=True)
    dec = register[(register["period"] == PERIODS[1]) & register["credit_code"].isin(sample["credit_code"])]
    panel = pd.DataFrame({"credit_code": dec["credit_code"], "period": PERIODS[1],
                          "employment": dec["survey_employment"], "revenue": dec["survey_revenue"]})
    missing = panel["employment"].isna().to_numpy()
    # the quality layer imputes every non-respondent but three (left 'failed'), and a statistician edits one cell
    fill = np.flatnonzero(missing)[3:]
    panel["employment_flag"] = np.where(missing, "failed", "reported")
    panel.iloc[fill, panel.columns.get_loc("employment")] = dec["employment_true"].to_numpy()[fill]
    panel.iloc[fill, panel.columns.get_loc("employment_flag")] = "imputed"
    edited = np.flatnonzero(~missing)[0]
    panel.iloc[edited, panel.columns.get_loc("employment_flag")] = "edited"
    panel["revenue_flag"] = np.where(panel["revenue"].isna(), "failed", "reported")
    idx = pd.date_range("2015-01-01", "2025-12-01", freq="MS")
    pattern = np.tile([0.0, -0.08, 0.03, 0.01, 0.02, 0.04, -0.02, 0.0, 0.01, 0.03, -0.01, -0.03], len(idx) // 12)
    indicators = pd.DataFrame({"indicator": "vat_sales_total", "month": idx.date, "unit": "yuan",
                               "value": np.exp(10 + 0.004 * np.arange(len(idx)) + pattern
                                               + rng.normal(0, 0.01, len(idx))),
                               "available_date": (idx + pd.offsets.MonthEnd(1)).date})
    register = register.drop(columns=["strat", "employment_true"])
    return {"gold.enterprise_month": register,
            "silver.survey_sample": sample[["credit_code", "sample_year", "stratum", "population_in_stratum",
                                            "sample_in_stratum", "design_weight"]].reset_index(drop=True),
            "quality.survey_panel": panel.reset_index(drop=True), "gold.indicators_monthly": indicators}


def write_survey_lake(lake, spark, with_panel: bool = True) -> dict[str, pd.DataFrame]:
    tables = survey_tables()
    for name, df in tables.items():
        if name == "quality.survey_panel" and not with_panel:
            continue
        lake.write(name, spark.createDataFrame(df))
    return tables


@pytest.fixture(scope="module")
def survey_lake(spark, tmp_path_factory):
    from workbench.lake import Lake

    lake = Lake(str(tmp_path_factory.mktemp("estimates") / "lake"), spark=spark)
    return lake, write_survey_lake(lake, spark)


# ---- the imputation hook (pure) ------------------------------------------------------------------

def test_estimation_frame_carries_the_quality_layers_values_and_flags():
    t = survey_tables()
    reg = t["gold.enterprise_month"]
    dec = reg[reg["period"] == PERIODS[1]]
    panel = t["quality.survey_panel"]
    frame = estimation_frame(t["silver.survey_sample"], dec, "employment", panel)
    counts = frame["flag"].value_counts()
    assert counts["imputed"] == (panel["employment_flag"] == "imputed").sum() > 0
    assert counts["edited"] == 1 and counts["missing"] == 3  # 'failed' cells stay missing
    imputed = frame[frame["flag"] == "imputed"].merge(panel, on="credit_code")
    assert np.allclose(imputed["y"], imputed["employment"])
    # Without a panel only reported values count and the non-respondents are missing.
    bare = estimation_frame(t["silver.survey_sample"], dec, "employment")
    assert set(bare["flag"]) == {"reported", "missing"}
    assert (bare["flag"] == "missing").sum() == counts["imputed"] + counts["missing"]


def test_estimates_report_the_imputed_share_of_the_total():
    t = survey_tables()
    reg = t["gold.enterprise_month"]
    dec = reg[reg["period"] == PERIODS[1]]
    frame = estimation_frame(t["silver.survey_sample"], dec, "employment", t["quality.survey_panel"])
    result = survey_estimates(frame, dec, {"calibration": "none", "domain": "industry_section"})
    table, weights = result.estimates, result.weights
    assert result.values == "edited_imputed" and not result.problems
    # By hand: the share of the weighted total contributed by imputed or edited values; the three units
    # left missing hand their weight to their stratum's respondents (weighting-class adjustment).
    from workbench.methods.estimate import nonresponse_adjust

    ok = (frame["flag"] != "missing").to_numpy()
    w = nonresponse_adjust(frame["design_weight"].to_numpy(), ok, frame["stratum"].to_numpy())
    y = frame["y"].fillna(0).to_numpy()
    share = (w * y * frame["flag"].isin(["imputed", "edited"]).to_numpy()).sum() / (w * y).sum()
    top = table.set_index("domain").loc["total"]
    assert top["estimate"] == pytest.approx((w * y).sum(), rel=1e-12)
    assert top["imputed_share"] == pytest.approx(share, rel=1e-12) and 0 < share < 0.3
    assert top["n_imputed"] == (frame["flag"].isin(["imputed", "edited"])).sum()
    # design effect by hand: the variance over SRS-without-replacement's of the same n, N and weighted s2
    n, N = ok.sum(), w[ok].sum()
    yy, ww = y[ok], w[ok]
    s2 = (ww * (yy - (ww * yy).sum() / N) ** 2).sum() / N * n / (n - 1)
    assert top["deff"] == pytest.approx(top["se"] ** 2 / (N ** 2 * (1 - n / N) * s2 / n), rel=1e-9)
    assert table.set_index("domain").loc[["C", "F"], "estimate"].sum() == pytest.approx(top["estimate"], rel=1e-12)
    # Refusing imputed values: they count as non-response, the share is 0 and the respondents carry the weight.
    reported_only = survey_estimates(frame, dec, {"calibration": "none", "use_imputed": False})
    assert reported_only.estimates["imputed_share"].iloc[0] == 0 and reported_only.values == "reported"
    assert weights["nonrespondents"].iloc[0] == 3
    # issue 29, 9: a unit whose value was imputed is not counted a respondent
    assert weights["respondents"].iloc[0] == frame["flag"].isin(["reported", "edited"]).sum()
    assert weights["imputed_units"].iloc[0] == (frame["flag"] == "imputed").sum() > 0
    assert weights[["respondents", "imputed_units", "nonrespondents"]].iloc[0].sum() == len(frame)


# ---- registered runs: recorded with the inputs' versions, reproducible ----------------------------

def test_survey_estimate_run_is_recorded_with_versions_and_reproduces(survey_lake):
    lake, tables = survey_lake
    users = load_users()
    params = {"period": "2025-12", "variable": "employment", "domain": "county_code", "calibration": "raking",
              "replicates": "bootstrap", "n_boot": 50, "seed": 3, "cv_threshold": 0.1}
    run_id = registry.run_method(lake, "survey_estimate", params, estimate_runs.inputs_for(True), user=users["stat"])
    run = registry.get_run(lake, run_id)
    assert run.inputs == {t: lake.version(t) for t in estimate_runs.inputs_for(True)}
    est = registry.read_output(lake, run_id, "estimates").toPandas().set_index("domain")
    # the synthetic register's true December employment is not stored; the estimate is in its range
    assert 0.8 * tables["gold.enterprise_month"]["si_headcount"].sum() / 2 < est.loc["total", "estimate"]
    assert set(est.columns) >= {"estimate", "se", "cv", "ci_low", "ci_high", "unreliable", "imputed_share"}
    assert (est["unreliable"] == (est["cv"] > 0.1)).all()
    assert run.metrics["imputed_share"] > 0
    assert registry.reproduce(lake, run_id).matches


def test_a_survey_run_does_not_depend_on_the_order_the_engine_returns_rows_in(survey_lake):
    """The bootstrap numbers PSUs in order of appearance and draws its replicates in that
    numbering: the same seed gave other standard errors on the Spark cluster than on the
    embedded engine until the run put its frames in credit-code order."""
    from pyspark.sql import functions as F

    lake, _ = survey_lake
    params = {"period": "2025-12", "variable": "employment", "domain": "county_code", "calibration": "raking",
              "replicates": "bootstrap", "n_boot": 30, "seed": 3, "cv_threshold": 0.1}
    names = estimate_runs.inputs_for(True)
    as_stored = {n: lake.read(n) for n in names}
    reversed_ = {n: lake.read(n).orderBy(F.col("credit_code").desc()) for n in names}
    first = estimate_runs.survey_estimate_run(as_stored, params)["estimates"]
    again = estimate_runs.survey_estimate_run(reversed_, params)["estimates"]
    assert (first["se"] > 0).all()
    pd.testing.assert_frame_equal(first, again, check_exact=False, rtol=1e-12)


def test_small_area_and_seasonal_runs_reproduce(survey_lake):
    lake, _ = survey_lake
    stat = load_users()["stat"]
    sae = registry.run_method(lake, "small_area_estimate", {"period": "2025-12"}, estimate_runs.inputs_for(True),
                              user=stat)
    areas = registry.read_output(lake, sae, "areas").toPandas()
    assert len(areas) == 12 and ((areas["shrinkage"] >= 0) & (areas["shrinkage"] <= 1)).all()
    assert registry.get_run(lake, sae).metrics["areas_fitted"] >= 10
    # benchmarked EBLUPs add up to the direct total of all areas
    assert areas["benchmarked"].sum() == pytest.approx(areas["direct"].sum(), rel=1e-9)
    assert registry.reproduce(lake, sae).matches
    spec = X13Spec(transform="log", spring_festival=True, outlier=False).as_dict()
    sa = registry.run_method(lake, "seasonal_adjustment", {"indicator": "vat_sales_total", "spec": spec},
                             ["gold.indicators_monthly"], user=stat)
    run = registry.get_run(lake, sa)
    assert run.params["spec"] == spec and run.metrics["method"] == "x13"
    assert 0 <= run.metrics["Q"] <= 3
    spc = registry.read_output(lake, sa, "spec").toPandas()["spc"].iloc[0]
    assert "transform{ function=log }" in spc and "spring_festival" in spc
    assert registry.reproduce(lake, sa).matches


# ---- releasing estimates: the disclosure policy for run kinds that are not tables ----------------

def test_a_run_kind_without_a_disclosure_rule_is_refused(survey_lake):
    from workbench.auth import User
    from workbench.disclosure.gate import DisclosureError
    from workbench.runs.release import release_run

    @registry.method("undeclared_sum")
    def undeclared_sum(inputs, params):
        return {"sums": inputs["gold.enterprise_month"].groupBy("township_code").count()}

    lake, _ = survey_lake
    stat, sup, sup2 = (User("stat", "S", ("statistician",)), User("super", "A", ("supervisor",)),
                       User("super2", "B", ("supervisor",)))
    run_id = registry.run_method(lake, "undeclared_sum", {}, ["gold.enterprise_month"], user=stat)
    review.submit(lake, run_id, stat)
    review.approve(lake, run_id, sup)
    with pytest.raises(DisclosureError, match="has no disclosure rule"):
        release_run(lake, run_id, sup2, "undeclared", output="sums")
    assert review.state(lake, run_id) == "approved"
