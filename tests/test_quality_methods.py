"""Quality methods on literal data: rule files, rule evaluation in the engine, HB, robust z,
screening and imputation of one group. Reference numbers are computed by hand in the comments."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from workbench.quality import editing, screening
from workbench.quality.outliers import hidiroglou_berthelot, robust_z
from workbench.quality.rules import RuleError, all_rule_sets, parse_rules
from workbench.quality.validate import enrich, evaluate, failing_cells, summarise

# ---- Hidiroglou-Berthelot: a hand-computed example ----------------------------------
# Seven units (previous, current), chosen so max(x_t, x_{t-1})^0.5 is a whole number:
#   unit  prev  curr  r=curr/prev  max^0.5  s (r_M = 1.0)       E = s * max^0.5
#   1     100   100   1.0          10       0                   0
#   2     400   360   0.9          20       1 - 1/0.9 = -1/9    -20/9 = -2.2222
#   3     750   900   1.2          30       0.2                 6
#   4     1600  1600  1.0          40       0                   0
#   5     1250  2500  2.0          50       1.0                 50
#   6     3600  1800  0.5          60       1 - 1/0.5 = -1      -60
#   7     4900  4900  1.0          70       0                   0
#   8     0     10    excluded (a zero)
#   9     NaN   10    excluded (missing)
# Ratios sorted 0.5 0.9 1 1 1 1.2 2: median r_M = 1.0.
# E sorted: -60, -20/9, 0, 0, 0, 6, 50. R type-7 quartiles (h = 6p): Q1 at h=1.5 -> (-20/9 + 0)/2
# = -10/9; median 0; Q3 at h=4.5 -> (0 + 6)/2 = 3.
# d_Q1 = max(0 + 10/9, |0.05 * 0|) = 10/9; d_Q3 = max(3 - 0, 0) = 3.
# C = 4: bounds [-40/9, 12] -> outliers: unit 5 (50 > 12, upward) and unit 6 (-60 < -4.444).
HB_PREV = [100, 400, 750, 1600, 1250, 3600, 4900, 0, np.nan]
HB_CURR = [100, 360, 900, 1600, 2500, 1800, 4900, 10, 10]


def test_hb_matches_the_hand_computed_example():
    r = hidiroglou_berthelot(HB_PREV, HB_CURR, U=0.5, A=0.05, C=4)
    assert r.median_ratio == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(r.quartiles, (-10 / 9, 0.0, 3.0), atol=1e-12)
    np.testing.assert_allclose(r.score[:7], [0, -20 / 9, 6, 0, 50, -60, 0], atol=1e-12)
    assert r.lower == pytest.approx(-40 / 9, abs=1e-12) and r.upper == pytest.approx(12.0, abs=1e-12)
    assert r.outlier.tolist() == [False, False, False, False, True, True, False, False, False]
    assert r.upward.tolist() == [False, False, False, False, True, False, False, False, False]
    assert np.isnan(r.score[7:]).all() and np.isnan(r.ratio[7:]).all()  # zeros and NAs left out, as HBmethod


def test_hb_asymmetric_c_and_the_a_floor():
    # C = (7, 4): lower bound -70/9 = -7.78, upper 12: unit 6 (-60) still below, unit 5 above.
    r = hidiroglou_berthelot(HB_PREV, HB_CURR, C=(7, 4))
    assert r.lower == pytest.approx(-70 / 9) and r.upper == pytest.approx(12.0)
    # The A term floors the spread at |A * E_M|: shift every E by scaling so E_M != 0 is not needed;
    # instead check d_Q3 = max(Q3 - E_M, |A E_M|) with a big A on data whose median E is 6:
    prev, curr = [100, 100, 100], [120, 130, 110]  # r = 1.2 1.3 1.1, r_M = 1.2
    # s = 0, 1.3/1.2-1 = 1/12, 1 - 1.2/1.1 = -1/11; max^0.5 = sqrt(120), sqrt(130), sqrt(110)
    e = np.array([0.0, np.sqrt(130) / 12, -np.sqrt(110) / 11])
    r = hidiroglou_berthelot(prev, curr, A=10.0, C=1)
    q1, qm, q3 = np.quantile(e, [0.25, 0.5, 0.75])
    assert qm == pytest.approx(0.0)  # the median unit has r = r_M, so E_M = 0 and A adds nothing
    assert r.upper == pytest.approx(qm + (q3 - qm)) and r.lower == pytest.approx(qm - (qm - q1))


def test_hb_with_too_few_units_flags_nothing():
    r = hidiroglou_berthelot([1, 2], [1, 9], min_units=5)
    assert not r.outlier.any() and np.isnan(r.upper)


def test_robust_z_against_r_mad():
    # R: mad(c(1, 2, 3, 4, 100)) = 1.4826 (median 3, absolute deviations 2 1 0 1 97 -> median 1)
    z = robust_z([1, 2, 3, 4, 100, np.nan])
    np.testing.assert_allclose(z[:5], np.array([-2, -1, 0, 1, 97]) / 1.4826, rtol=1e-12)
    assert np.isnan(z[5])
    assert np.isnan(robust_z([5, 5, 5])).all()  # MAD 0: no scale, no score


# ---- rule files ----------------------------------------------------------------------

def test_committed_rule_files_load_and_cover_every_rule_type():
    sets = all_rule_sets()
    assert {"silver.survey_returns", "silver.vat_monthly", "silver.social_insurance_monthly",
            "silver.enterprises"} <= set(sets)
    types = {r.type for rs in sets.values() for r in rs.rules}
    assert types == {"field", "record", "cross_record", "cross_source", "period"}
    for rs in sets.values():
        for r in rs.rules:
            assert r.description_zh and r.description_en and r.severity in ("error", "warning", "info")
    assert {r.id for r in sets["silver.survey_returns"].tagged("unit_error")} == {"SR-R02", "SR-C02", "SR-P02"}


BASE_RULES = {
    "table": "silver.t", "keys": ["unit"], "period": "period", "previous": ["y"],
    "lookups": {"aux": {"table": "silver.aux", "by": ["unit", "period"], "value": "sum(a)"}},
    "rules": [
        {"id": "F1", "type": "field", "severity": "error", "expression": "y >= 0", "targets": ["y"],
         "description": {"zh": "非负", "en": "not negative"}},
        {"id": "R1", "type": "record", "severity": "warning", "when": "y > 0", "expression": "n > 0",
         "description": {"zh": "有收入则有人", "en": "n > 0 when y > 0"}},
        {"id": "X1", "type": "cross_record", "severity": "error", "unique": ["unit", "period"],
         "description": {"zh": "唯一", "en": "unique"}},
        {"id": "C1", "type": "cross_source", "severity": "warning", "expression": "y / aux BETWEEN 0.5 AND 2",
         "targets": ["y"], "description": {"zh": "与辅助来源相符", "en": "y near aux"}},
        {"id": "P1", "type": "period", "severity": "warning", "expression": "y / prev_y BETWEEN 0.5 AND 2",
         "description": {"zh": "环比", "en": "month on month"}},
    ],
}


@pytest.mark.parametrize("change, message", [
    ({"rules": [{**BASE_RULES["rules"][0], "severity": "fatal"}]}, "severity 'fatal' is not allowed"),
    ({"rules": [{**BASE_RULES["rules"][0], "description": {"zh": "只有中文"}}]}, "needs both zh and en"),
    ({"rules": [BASE_RULES["rules"][0], BASE_RULES["rules"][0]]}, "rule id F1 is used twice"),
    ({"rules": [{**BASE_RULES["rules"][2], "expression": "x"}]}, "cross_record rule lists the columns"),
    ({"rules": [{**BASE_RULES["rules"][0], "colour": 1}]}, "unknown key(s) ['colour']"),
    ({"lookups": {"aux": {"table": "silver.aux", "on": ["unit"], "value": "sum(a)"}}}, "by (the join columns)"),
    ({"period": None, "previous": []}, "a period rule needs"),
])
def test_malformed_rule_files_are_refused_with_the_reason(change, message):
    with pytest.raises(RuleError) as err:
        parse_rules({**BASE_RULES, **change}, "conf/rules/t.yaml")
    assert message in str(err.value) and "conf/rules/t.yaml" in str(err.value)


# ---- evaluation in the engine --------------------------------------------------------

def _month(m: int) -> dt.date:
    return dt.date(2024, m, 1)


@pytest.fixture()
def tiny(spark):
    base = pd.DataFrame({
        "unit": ["a", "a", "a", "b", "b", "c"],
        "period": [_month(1), _month(2), _month(4), _month(1), _month(1), _month(2)],
        "y": [10.0, 30.0, 31.0, 5.0, -1.0, None],
        "n": [1, 0, 2, 3, 3, 0],
    })
    aux = pd.DataFrame({"unit": ["a", "a", "a", "b"], "period": [_month(1), _month(1), _month(2), _month(1)],
                        "a": [4.0, 4.0, 100.0, 5.0]})
    return spark.createDataFrame(base), {"silver.aux": spark.createDataFrame(aux)}


def _outcomes(results) -> dict[tuple[str, str, str], str]:
    pdf = results.toPandas()
    return {(r.rule_id, r.record_key, str(r.period)[:7]): r.status for r in pdf.itertuples()}


def test_rules_give_pass_fail_and_na_per_record(tiny):
    base, tables = tiny
    rules = parse_rules(BASE_RULES)
    enriched = enrich(base, rules, tables)
    assert enriched.count() == 6  # the lookup is aggregated first: two aux rows for (a, Jan) add up, not multiply
    results = evaluate(enriched, rules)
    f1 = results.filter("rule_id = 'F1'").toPandas()
    assert sorted(f1["status"]) == ["fail", "na", "pass", "pass", "pass", "pass"]  # b/Jan y=-1 fails, c y NULL is na
    out = _outcomes(results)
    # R1 (if y > 0 then n > 0): a/Feb has y 30, n 0 -> fail; c has y NULL -> na; b with y -1 -> condition false -> pass
    assert out[("R1", "a", "2024-02")] == "fail" and out[("R1", "c", "2024-02")] == "na"
    # X1: b has two rows for January
    assert out[("X1", "b", "2024-01")] == "fail" and out[("X1", "a", "2024-01")] == "pass"
    # C1: a/Jan 10 / (4 + 4) = 1.25 pass; a/Feb 30 / 100 fail; a/Apr no aux -> na
    assert out[("C1", "a", "2024-01")] == "pass" and out[("C1", "a", "2024-02")] == "fail"
    assert out[("C1", "a", "2024-04")] == "na"
    # P1: a/Feb 30 / 10 = 3 fail; a/Apr follows a gap (no March): na, not a comparison with February
    assert out[("P1", "a", "2024-02")] == "fail" and out[("P1", "a", "2024-04")] == "na"


def test_detail_text_spells_doubles_the_same_way_on_every_engine(spark):
    """Spark casts 24000999.24 to the string 2.400099924E7 and Sail to 24000999.24; the detail
    text must not depend on the engine (the parity suite compares the two lakes' results)."""
    from workbench.quality.validate import _as_text

    values = [24000999.24, 0.5, -3.0, 0.0, 1234567.123456, 1e25, float("nan"), None]
    df = spark.createDataFrame([(v,) for v in values], "x double")
    shown = [r["t"] for r in df.select(_as_text(df["x"], "double").alias("t")).collect()]
    assert shown[:6] == ["24000999.24", "0.5", "-3", "0", "1234567.123456", shown[5]]
    assert shown[5] is not None and "e" in shown[5].lower(), "a huge value keeps the engine's own spelling"
    assert shown[6] == "NaN" and shown[7] is None
    ints = spark.createDataFrame([(7,)], "n bigint")
    assert ints.select(_as_text(ints["n"], "bigint").alias("t")).collect()[0]["t"] == "7"


def test_failures_carry_the_values_looked_at_and_summaries_count(tiny):
    base, tables = tiny
    rules = parse_rules(BASE_RULES)
    results = evaluate(enrich(base, rules, tables), rules)
    detail = results.filter("rule_id = 'C1' AND status = 'fail'").collect()[0]["detail"]
    # doubles in a fixed form, trailing zeros trimmed: the same text on Sail and on Spark
    assert detail == "y=30, aux=100"
    summary = summarise(results).toPandas().groupby("rule_id")[["evaluated", "passed", "failed", "missing"]].sum()
    assert summary.loc["F1"].tolist() == [6, 4, 1, 1]
    assert (summary["evaluated"] == summary["passed"] + summary["failed"] + summary["missing"]).all()
    cells = failing_cells(results, rules).toPandas()
    assert set(zip(cells["record_key"], cells["column"])) == {("b", "y")}  # only error rules with targets


def test_an_expression_that_does_not_analyse_names_its_rule(tiny):
    base, tables = tiny
    bad = parse_rules({**BASE_RULES, "rules": [{**BASE_RULES["rules"][0], "expression": "no_such_column > 0"}]})
    with pytest.raises(RuleError, match="rule F1"):
        evaluate(enrich(base, bad, tables), bad)


# ---- screening and imputation of one group -------------------------------------------

def _panel(months: int = 12) -> pd.DataFrame:
    rows = []
    for u, size in enumerate([100.0, 200.0, 300.0, 400.0, 500.0, 600.0]):
        for m in range(1, months + 1):
            rows.append({"credit_code": f"u{u}", "period": dt.date(2024, m, 1), "vat_sales": size * 1000,
                         "si_headcount": size / 10, "employment": size / 5})
    return pd.DataFrame(rows)


def test_screen_group_scores_a_persistent_gap_highest():
    df = _panel()
    df["value"] = df["vat_sales"] * np.where((df["credit_code"] == "u2") & (df["period"] >= dt.date(2024, 6, 1)),
                                             1.3, 1.0)
    noise = np.random.default_rng(1).normal(0, 0.02, len(df))
    df["value"] *= np.exp(noise)
    df = df.assign(gap_center=0.0, gap_scale=0.02, si_center=np.log(2.0), si_scale=0.05)
    out = screening.screen_group(df, {"min_group": 3})
    peak = out.groupby("credit_code")["fraud_score"].max()
    assert peak.idxmax() == "u2" and peak["u2"] > 3 * peak.drop("u2").max()
    # gap_z for u2 after the start is about ln(1.3) / 0.02 = 13: clipped to 10 in the score's parts
    late = out[(out["credit_code"] == "u2") & (out["period"] >= dt.date(2024, 8, 1))]
    assert (late["gap_z"] > 10).all() and (late["history_share"] > 0.3).all()


def test_impute_group_fills_failed_and_missing_cells_by_the_ratio_to_vat():
    df = _panel().rename(columns={"employment": "employment_reported"})
    df["revenue_reported"] = df["vat_sales"] * 1.1
    df["response"] = "respondent"
    df["revenue_fail"] = False
    df["employment_fail"] = False
    unit_error = (df["credit_code"] == "u1") & (df["period"] == dt.date(2024, 3, 1))
    df.loc[unit_error, ["revenue_reported", "revenue_fail"]] = [df.loc[unit_error, "revenue_reported"].iloc[0] * 1e4,
                                                                True]
    missing = (df["credit_code"] == "u4") & (df["period"] == dt.date(2024, 7, 1))
    df.loc[missing, ["revenue_reported", "employment_reported", "response"]] = [np.nan, np.nan, "nonrespondent"]
    out = editing.impute_group(df).set_index(["credit_code", "period"])
    fixed = out.loc[("u1", dt.date(2024, 3, 1))]
    assert fixed["revenue"] == pytest.approx(200_000 * 1.1) and fixed["revenue_method"] == "ratio_vat_own"
    assert fixed["revenue_flag"] == "imputed"
    nonresp = out.loc[("u4", dt.date(2024, 7, 1))]
    assert nonresp["revenue"] == pytest.approx(500_000 * 1.1) and nonresp["employment"] == 100
    assert nonresp["employment_method"] == "ratio_si_own"
    assert (out.drop([("u1", dt.date(2024, 3, 1)), ("u4", dt.date(2024, 7, 1))])["revenue_flag"] == "reported").all()


def test_impute_group_falls_back_to_history_and_donor():
    df = _panel(4).rename(columns={"employment": "employment_reported"})
    df["revenue_reported"] = df["vat_sales"] * 1.1
    df["response"], df["revenue_fail"], df["employment_fail"] = "respondent", False, False
    # u0 has no VAT in April and only... its own ratio needs VAT this month: history takes over.
    april = (df["credit_code"] == "u0") & (df["period"] == dt.date(2024, 4, 1))
    df.loc[april, ["vat_sales", "revenue_reported"]] = [np.nan, np.nan]
    # u5 has no VAT at all and no clean month: the donor nearest in employment (u4, 100 vs 120) gives its value.
    u5 = df["credit_code"] == "u5"
    df.loc[u5, ["vat_sales", "revenue_reported"]] = [np.nan, np.nan]
    out = editing.impute_group(df).set_index(["credit_code", "period"])
    hist = out.loc[("u0", dt.date(2024, 4, 1))]
    assert hist["revenue_method"] == "ratio_history"
    assert hist["revenue"] == pytest.approx(100_000 * 1.1)  # March value x the group's growth (1.0)
    donor = out.loc[("u5", dt.date(2024, 2, 1))]
    assert donor["revenue_method"] == "donor" and donor["revenue"] == pytest.approx(500_000 * 1.1)
