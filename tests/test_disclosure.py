"""Disclosure control: primary rules, secondary suppression, the release gate, an attack on the demo.

Known truths: the rules' definitions on hand-made cells (Hundepool et al. 2012, Statistical
Disclosure Control, section 4.2); the minimum number of complementary suppressions by an
exhaustive search; and on the demo, an attacker (``sdc_attack``, code apart from the
suppression algorithm) who solves the published margins must not narrow any suppressed
cell to within 10 % of its true value.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

import sdc_attack
from workbench.auth import User
from workbench.disclosure.cells import TOTAL, equation_matrix, equations, hierarchical_cells
from workbench.disclosure.gate import REPORTS, DisclosureError, verify_pattern
from workbench.disclosure.reader import PUBLIC, ReleaseReader
from workbench.disclosure.rules import primary
from workbench.disclosure.secondary import audit, protect
from workbench.disclosure.settings import Rules, TableSpec, load_disclosure_settings
from workbench.disclosure.tables import KIND  # registers the run kind
from workbench.runs import registry, review
from workbench.runs.release import list_releases, release_run

STAT = User("stat", "Statistician", ("statistician",))
SUPER = User("super", "Supervisor", ("supervisor",))
SUPER2 = User("super2", "Second supervisor", ("supervisor",))
SPEC = TableSpec("t", "gold.x", "id", "period", ("county", "town"), "section", ("v",))


def cells_from(contributions: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for name, values in contributions.items():
        top = sorted((abs(v) for v in values), reverse=True) + [np.nan, np.nan]
        rows.append({"cell": name, "n": len(values), "total": sum(values), "magnitude": sum(abs(v) for v in values),
                     "top1": top[0], "top2": top[1]})
    return pd.DataFrame(rows)


def test_primary_rules_follow_their_definitions():
    rules = Rules(min_frequency=3, dominance_n=1, dominance_k=60.0, p_percent=10.0)
    cells = cells_from({
        "two": [60, 40],                       # n < 3; and x1 = 60 > 60 % of 100? no (equal); p %: 0 < 6
        "safe": [50, 30, 10, 5, 5],            # 50 <= 60 % of 100; p %: 100-50-30 = 20 >= 5
        "dominant": [70, 10, 10, 10],          # 70 > 60 % of 100; p %: 100-70-10 = 20 >= 7
        "p_only": [50, 46, 1, 1, 1, 1],        # 50 <= 60; p %: 100-50-46 = 4 < 5
        "p_edge": [50, 45, 1, 1, 1, 1, 1],     # p %: 100-50-45 = 5, not < 5
        "refund": [-80, 10, 10, 10],           # magnitudes: 80 of 110 > 60 %
        "empty": [],
    })
    out = primary(cells, rules).set_index("cell")
    assert out.loc["two", "rules"] == "frequency,p_percent"
    assert out.loc["dominant", "rules"] == "dominance"
    assert out.loc["p_only", "rules"] == "p_percent"
    assert out.loc["refund", "rules"] == "dominance"
    assert not out.loc[["safe", "p_edge", "empty"], "primary"].any()


def two_way(values: np.ndarray) -> pd.DataFrame:
    """A rows x columns table with margins as cells (one geographic level)."""
    finest = pd.DataFrame([{"r": f"r{i}", "c": f"c{j}", "n": 5, "total": float(values[i, j]), "top1": 1.0}
                           for i in range(values.shape[0]) for j in range(values.shape[1])])
    return hierarchical_cells(finest, ["r"], "c")


def protected_by(values, A, pattern, protection=0.10) -> bool:
    lower, upper, _ = audit(values, A, pattern)
    hidden = pattern & (values > 0)
    return bool(((upper[hidden] >= values[hidden] * (1 + protection) - 1e-6)
                 & (lower[hidden] <= values[hidden] * (1 - protection) + 1e-6)).all())


def test_secondary_suppression_is_minimal_on_a_two_way_table():
    # Exhaustive search is the known truth: no pattern with fewer complementary cells protects.
    values = np.array([[20, 50, 10], [8, 19, 17], [30, 12, 40]], dtype=float)
    cells = two_way(values)
    A = equation_matrix(len(cells), equations(cells, ["r"], "c"))
    v = cells["total"].to_numpy()
    np.testing.assert_allclose(A @ v, 0)
    first = np.flatnonzero((cells["r"] == "r1") & (cells["c"] == "c0"))[0]
    prim = np.zeros(len(v), bool)
    prim[first] = True
    assert not protected_by(v, A, prim)  # alone it is the row total minus the row's other cells
    result = protect(v, A, prim, 0.10, cost="count")
    assert protected_by(v, A, result.suppressed)
    others = [k for k in range(len(v)) if k != first]
    smallest = next(size for size in range(1, 5) for extra in itertools.combinations(others, size)
                    if protected_by(v, A, prim | np.isin(np.arange(len(v)), extra)))
    assert result.secondary.sum() == smallest == 3


def test_one_town_county_is_suppressed_in_both_tables():
    # County c2 has one town: its county row repeats the town row, so the same cell must be
    # hidden in the town table and the county table (linked tables, one pattern).
    finest = pd.DataFrame([
        {"county": "c1", "town": "t1", "section": "A", "n": 9, "total": 120.0, "top1": 30.0, "top2": 20.0},
        {"county": "c1", "town": "t1", "section": "B", "n": 7, "total": 80.0, "top1": 20.0, "top2": 15.0},
        {"county": "c1", "town": "t2", "section": "A", "n": 6, "total": 90.0, "top1": 25.0, "top2": 20.0},
        {"county": "c1", "town": "t2", "section": "B", "n": 8, "total": 70.0, "top1": 15.0, "top2": 12.0},
        {"county": "c2", "town": "t3", "section": "A", "n": 1, "total": 55.0, "top1": 55.0, "top2": np.nan},
        {"county": "c2", "town": "t3", "section": "B", "n": 9, "total": 95.0, "top1": 20.0, "top2": 19.0},
    ])
    cells = primary(hierarchical_cells(finest, ["county", "town"], "section"), Rules())
    A = equation_matrix(len(cells), equations(cells, ["county", "town"], "section"))
    np.testing.assert_allclose(A @ cells["total"].to_numpy(), 0)
    result = protect(cells["total"].to_numpy(), A, cells["primary"].to_numpy())
    hidden = cells[result.suppressed].set_index(["county", "town", "section"]).index
    assert ("c2", "t3", "A") in hidden and ("c2", TOTAL, "A") in hidden
    published = cells.assign(value=np.where(result.suppressed, np.nan, cells["total"]))
    attack = sdc_attack.intervals(published, ["county", "town"], "section").merge(
        cells[["county", "town", "section", "total"]], on=["county", "town", "section"])
    assert (attack["low"] <= 0.9 * attack["total"] + 1e-6).all() and (attack["high"] >= 1.1 * attack["total"] - 1e-6).all()


def test_audit_refuses_a_pattern_without_complements():
    finest = pd.DataFrame([{"county": "c", "town": "t", "section": s, "n": n, "total": x, "top1": x, "top2": 0.0}
                           for s, n, x in (("A", 1, 10.0), ("B", 5, 40.0), ("C", 6, 50.0))])
    cells = hierarchical_cells(finest, ["county", "town"], "section").assign(period="2026-01", measure="v")
    cells["suppressed"] = (cells["section"] == "A") & (cells["town"] == "t")
    with pytest.raises(DisclosureError, match="derived to within 10%"):
        verify_pattern(cells, SPEC, 0.10)


DEMO_MONTH = "2026-08"  # has a refund (a negative VAT total), so the sign-free model is exercised too


@pytest.fixture(scope="module")
def demo_release(demo_lake, spark, tmp_path_factory):
    """The demo's microdata for one month in a fresh lake, run, approved and released through the gate."""
    from workbench.lake import Lake

    lake = Lake(str(tmp_path_factory.mktemp("sdc") / "lake"), spark=spark)
    micro = demo_lake.lake.read("gold.enterprise_month").filter(
        F.date_format("period", "yyyy-MM") == DEMO_MONTH)
    lake.write("gold.enterprise_month", micro)
    params = {"measures": ["vat_sales", "si_headcount"], "first": DEMO_MONTH, "last": DEMO_MONTH}
    run_id = registry.run_method(lake, KIND, params, ["gold.enterprise_month"], user=STAT, title="area x industry")
    review.submit(lake, run_id, STAT)
    review.approve(lake, run_id, SUPER)
    rel = release_run(lake, run_id, SUPER2, "area_industry", output="table")
    truth = registry.read_output(lake, run_id, "table").toPandas()
    return lake, rel, truth


def test_demo_release_cannot_be_narrowed_by_an_attacker(demo_release):
    lake, rel, truth = demo_release
    published = ReleaseReader(lake).rows(ReleaseReader(lake).public(PUBLIC)[0]).to_pandas()
    assert len(published) == len(truth) and published["vintage"].eq(1).all()
    keys = ["period", "measure", "county_code", "township_code", "industry_section"]
    geo, cat = ["county_code", "township_code"], "industry_section"
    checked = 0
    for (period, measure), table in published.groupby(["period", "measure"]):
        attack = sdc_attack.intervals(table, geo, cat).assign(period=period, measure=measure)
        attack = attack.merge(truth[keys + ["value"]], on=keys)
        d = 0.10 * attack["value"].abs()
        slack = 1e-6 * (attack["value"].abs() + 1)
        assert (attack["low"] <= attack["value"] - d + slack).all(), attack[attack["low"] > attack["value"] - d]
        assert (attack["high"] >= attack["value"] + d - slack).all(), attack[attack["high"] < attack["value"] + d]
        checked += len(attack)
    assert checked == int(published["value"].isna().sum()) > 100
    # the published cells are the true values
    both = published.merge(truth, on=keys, suffixes=("", "_true"))
    shown = both["value"].notna()
    np.testing.assert_allclose(both.loc[shown, "value"], both.loc[shown, "value_true"], rtol=1e-12)


def test_demo_release_hides_every_small_cell_and_reports_why(demo_release, demo_lake):
    lake, rel, truth = demo_release
    # independent of the engine code: town x section cells with 1 or 2 VAT payers, from the microdata in pandas
    micro = demo_lake.lake.read("gold.enterprise_month").filter(
        F.date_format("period", "yyyy-MM") == DEMO_MONTH).select(
        "credit_code", "county_code", "township_code", "industry_section", "vat_sales").toPandas()
    counts = micro.dropna(subset=["vat_sales"]).groupby(["township_code", "industry_section"]).size()
    small = set(counts[counts < 3].index)
    published = ReleaseReader(lake).rows(rel).to_pandas()
    vat = published[(published["measure"] == "vat_sales") & (published["township_code"] != TOTAL)
                    & (published["industry_section"] != TOTAL)].set_index(["township_code", "industry_section"])
    assert small and all(np.isnan(vat.loc[k, "value"]) and vat.loc[k, "conf_status"] == "C" for k in small)
    report = lake.read(REPORTS).toPandas()
    assert len(report) == int(published["value"].isna().sum())
    assert set(report["status"]) == {"primary", "secondary"}
    assert (report.loc[report["status"] == "primary", "rules"].str.len() > 0).all()
    summary = list_releases(lake, "area_industry")[0].quality_report["disclosure"]
    assert summary["audit"] == "passed" and summary["primary"] == int((published["conf_status"] == "C").sum())
    assert summary["secondary"] == int((published["conf_status"] == "D").sum()) > 0
    assert summary["narrowest_interval"] >= 0.10 - 1e-6


def test_release_refused_when_output_does_not_match_its_microdata(demo_release, spark):
    lake, _, truth = demo_release
    tampered = truth.copy()
    tampered.loc[0, "value"] += 1.0
    version = lake.version("gold.enterprise_month")
    params = {"measures": ["vat_sales", "si_headcount"], "first": DEMO_MONTH, "last": DEMO_MONTH}
    run_id = registry.record_run(lake, KIND, params, {"gold.enterprise_month": version}, {"table": tampered},
                                 user=STAT)
    review.submit(lake, run_id, STAT)
    review.approve(lake, run_id, SUPER)
    with pytest.raises(DisclosureError, match="do not match its microdata"):
        release_run(lake, run_id, SUPER2, "area_industry", output="table")
    assert review.state(lake, run_id) == "approved"
    assert [r.vintage for r in list_releases(lake, "area_industry")] == [1]


def test_settings_come_from_conf():
    settings = load_disclosure_settings()
    assert settings.tables[KIND].microdata == "gold.enterprise_month"
    assert settings.rules.protection == 0.10


def test_released_survey_estimates_hide_townships_resting_on_too_few_firms(demo_lake, spark, tmp_path_factory):
    """Township survey estimates on the demo: a township estimate from one or two sampled firms
    (in a census stratum a firm's design weight is 1, so the estimate is its own figure) is
    published hidden with status C; townships add up to the published total, so a lone hidden
    one takes the next-smallest with it (status D). The report says which and why."""
    from workbench.lake import Lake
    from workbench.methods.estimate import runs as estimate_runs

    lake = Lake(str(tmp_path_factory.mktemp("sdc_estimates") / "lake"), spark=spark)
    lake.write("gold.enterprise_month", demo_lake.lake.read("gold.enterprise_month").filter(
        F.date_format("period", "yyyy-MM") == DEMO_MONTH))
    lake.write("silver.survey_sample", demo_lake.lake.read("silver.survey_sample"))
    params = {"period": DEMO_MONTH, "variable": "employment", "domain": "township_code", "calibration": "none"}
    run_id = registry.run_method(lake, "survey_estimate", params, estimate_runs.inputs_for(False), user=STAT)
    review.submit(lake, run_id, STAT)
    review.approve(lake, run_id, SUPER)
    original = registry.read_output(lake, run_id, "estimates").toPandas().set_index("domain")
    few = original.index[(original.index != "total") & (original["n"] < 3)]
    assert len(few) >= 2, "the demo's township samples no longer exercise the rule"
    rel = release_run(lake, run_id, SUPER2, "township_employment_survey", output="estimates")
    published = ReleaseReader(lake).rows(rel).to_pandas().set_index("domain")
    assert set(published.loc[few, "conf_status"]) == {"C"}
    assert published.loc[few, ["estimate", "se", "cv", "ci_low", "ci_high", "deff"]].isna().all().all()
    assert published.loc[few, "n"].tolist() == original.loc[few, "n"].tolist()
    free = published[published["conf_status"] == "F"]
    assert "total" in free.index and len(free) == len(original) - (published["conf_status"] != "F").sum()
    np.testing.assert_allclose(free["estimate"], original.loc[free.index, "estimate"], rtol=1e-12)
    report = lake.read(REPORTS).toPandas()
    report = report[report["release_id"] == rel.release_id]
    assert sorted(report["cell"]) == sorted(published.index[published["conf_status"] != "F"])
    assert set(report.loc[report["status"] == "primary", "rules"]) == {"n<3"}
    assert rel.quality_report["disclosure"]["primary"] == len(few)
