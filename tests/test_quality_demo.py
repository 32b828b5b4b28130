"""Quality on the small demo, measured against the generator's hidden truth; the three pages.

The rules, screening and imputation run once for the module on a copy of the demo
lake's silver tables (so the shared ``demo_lake`` stays as the jobs left it).
"""

from __future__ import annotations

import math
import shutil

import pandas as pd
import pytest
from pyspark.sql import functions as F

from test_app import table
from test_app_runs import page
from workbench.formatting import format_value
from workbench.i18n import translate
from workbench.lake import Lake
from workbench.quality import store
from workbench.quality.rules import all_rule_sets
from workbench.quality.screening import fraud_queue

SILVER = ("silver.survey_returns", "silver.vat_monthly", "silver.social_insurance_monthly", "silver.enterprises",
          "silver.survey_sample")


@pytest.fixture(scope="module")
def quality(demo_lake, spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("quality") / "lake"
    for name in SILVER:
        shutil.copytree(demo_lake.lake.path(name), root.joinpath(*name.split(".")))
    lake = Lake(str(root), spark=spark)
    runs = {r.table: r for r in store.run_all(lake, "stat")}
    panel = store.build_panel(lake, "stat")
    return lake, runs, panel, demo_lake.manifest["out"]


def _truth(out: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(f"{out}/truth/{name}.parquet")


def test_fraud_score_ranks_the_injected_inflators_in_the_top_5_percent(quality):
    lake, _, _, out = quality
    scores = lake.read(store.SCREENING).toPandas()
    ranking = fraud_queue(scores)
    truth = _truth(out, "survey_returns_truth")
    inflators = set(truth.loc[truth["inflation_factor"] > 1, "credit_code"]) & set(ranking["credit_code"])
    top = set(ranking.head(math.ceil(0.05 * len(ranking)))["credit_code"])
    share = len(inflators & top) / len(inflators)
    print(f"\nrespondents {len(ranking)}, injected inflators {len(inflators)}, "
          f"in the top 5% ({len(top)}): {len(inflators & top)} = {share:.0%}")
    assert len(inflators) >= 5 and share >= 0.8
    stored = lake.read(store.FRAUD_QUEUE).orderBy("rank").toPandas()
    assert stored["credit_code"].tolist() == ranking["credit_code"].head(len(stored)).tolist()


def test_unit_errors_and_impossible_head_counts_are_caught_by_rules(quality):
    lake, runs, _, out = quality
    rules = all_rule_sets()["silver.survey_returns"]
    tagged = [r.id for r in rules.tagged("unit_error")]
    fails = (lake.read(store.RESULTS).filter(F.col("rule_id").isin(tagged) & (F.col("status") == "fail"))
             .select("record_key", "period").distinct().toPandas())
    flagged = set(zip(fails["record_key"], fails["period"].astype(str)))
    ue = _truth(out, "survey_unit_errors")
    truth = set(zip(ue["credit_code"], pd.to_datetime(ue["period"]).dt.strftime("%Y-%m-%d")))
    recall, precision = len(truth & flagged) / len(truth), len(truth & flagged) / len(flagged)
    print(f"\nunit errors injected {len(truth)}, flagged {len(flagged)}: recall {recall:.3f}, precision {precision:.3f}")
    assert recall >= 0.95 and precision >= 0.95
    impossible = lake.read(store.RESULTS).filter("rule_id = 'SR-F03' AND status = 'fail'").count()
    assert impossible == _manifest_errors(out)["impossible_value"]  # head counts of 10^7, counted by the generator


def _manifest_errors(out: str) -> dict:
    import json

    with open(f"{out}/manifest.json", encoding="utf-8") as fh:
        return json.load(fh)["errors_by_source"]["survey"]


def test_every_table_with_rules_was_evaluated_and_counts_add_up(quality):
    lake, runs, _, _ = quality
    assert set(runs) == {"silver.survey_returns", "silver.vat_monthly", "silver.social_insurance_monthly",
                         "silver.enterprises"}
    sets = all_rule_sets()
    for name, run in runs.items():
        rows = lake.row_count(name)
        assert run.counts["evaluated"] == rows * len(sets[name].rules)  # every rule x every record
        assert run.counts["evaluated"] == run.counts["passed"] + run.counts["failed"] + run.counts["missing"]
        assert run.inputs[name] == lake.version(name)
    logged = store.quality_runs(lake)
    assert set(logged["kind"]) == {"rules", "imputation"} and len(logged) == 5
    summary = store.latest_summary(lake)
    assert set(summary["table_name"]) == set(runs) and summary["pass_rate"].dropna().between(0, 1).all()


def test_imputation_of_nonrespondents_and_unit_errors_against_the_truth(quality):
    lake, _, panel_run, out = quality
    panel = lake.read(store.PANEL).toPandas()
    truth = _truth(out, "enterprise_month").rename(columns={"revenue": "true_revenue"})
    truth["period"] = pd.to_datetime(truth["month"]).dt.date
    m = panel.merge(truth[["credit_code", "period", "true_revenue"]], on=["credit_code", "period"])
    assert len(m) == len(panel)
    err = (m["revenue"] / m["true_revenue"] - 1).abs()
    nonresp = m["response"] == "nonrespondent"
    imputed = m["revenue_flag"] == "imputed"
    print(f"\nnon-respondent cells {nonresp.sum()}, imputed {(nonresp & imputed).sum()}: median |error| "
          f"{err[nonresp & imputed].median():.3%}; respondents' imputed cells {(~nonresp & imputed).sum()}: "
          f"{err[~nonresp & imputed].median():.3%}")
    assert (nonresp & imputed).sum() >= 0.95 * nonresp.sum()
    assert err[nonresp & imputed].median() < 0.05  # VAT is true revenue x exp(N(0, 0.03))
    ue = _truth(out, "survey_unit_errors")
    fixed = m.merge(ue.assign(period=pd.to_datetime(ue["period"]).dt.date), on=["credit_code", "period"])
    assert (fixed["revenue_flag"] == "imputed").all() and (fixed["revenue"] / fixed["true_revenue"] - 1).abs().max() < 0.25
    log = lake.read(store.EDITS).filter(F.col("batch_id") == panel_run.run_id)
    assert log.count() == int(imputed.sum() + (panel["employment_flag"] == "imputed").sum())
    assert log.filter("method IS NULL OR reason IS NULL OR user <> 'stat'").count() == 0


def test_edits_need_a_reason_are_logged_and_survive_reimputation(quality):
    lake, _, _, _ = quality
    cell = lake.read(store.PANEL).filter("revenue_flag = 'imputed'").orderBy("credit_code", "period").first()
    with pytest.raises(store.QualityError, match="reason"):
        store.edit_cell(lake, cell["credit_code"], cell["period"], "revenue", 123.0, " ", "stat")
    before = lake.version(store.PANEL)
    version = store.edit_cell(lake, cell["credit_code"], cell["period"], "revenue", 123456.0, "phoned the firm", "stat")
    assert version > before
    log = store.edits_frame(lake, cell["credit_code"], manual_only=True).iloc[0]
    assert (log["before"], log["after"], log["method"], log["reason"], log["user"]) == (
        pytest.approx(cell["revenue"]), 123456.0, "manual", "phoned the firm", "stat")
    value, method, _ = store.impute_cell(lake, cell["credit_code"], cell["period"], "employment", "stat", "check")
    assert method.startswith(("ratio_", "donor")) and value >= 0
    store.build_panel(lake, "stat")  # a new batch keeps the statistician's value
    row = lake.read(store.PANEL).filter((F.col("credit_code") == cell["credit_code"]) &
                                        (F.col("period") == cell["period"])).first()
    assert row["revenue"] == 123456.0 and row["revenue_flag"] == "edited" and row["revenue_method"] == "manual"


def test_fraud_decisions_need_evidence_and_the_latest_counts(quality):
    lake, _, _, _ = quality
    code = lake.read(store.FRAUD_QUEUE).orderBy("rank").first()["credit_code"]
    with pytest.raises(store.QualityError, match="comment"):
        store.decide(lake, code, "confirmed", "stat")
    with pytest.raises(store.QualityError, match="not in the fraud review queue"):
        store.decide(lake, "NOPE", "cleared", "stat")
    store.decide(lake, code, "confirmed", "stat", "VAT 30% below the survey for a year")
    store.decide(lake, code, "cleared", "super", "VAT return corrected by the tax bureau")
    queue = store.fraud_queue(lake).set_index("credit_code")
    assert queue.loc[code, "decision"] == "cleared" and queue.loc[code, "user"] == "super"


def test_cli_lists_rules_and_names_an_unknown_table(capsys):
    from workbench.cli import main

    assert main(["quality", "rules", "survey_returns"]) == 0
    assert "SR-C02" in capsys.readouterr().out
    assert main(["quality", "run", "no_such_table"]) == 1
    assert "no rule file for table 'no_such_table'" in capsys.readouterr().err


# ---- pages ------------------------------------------------------------------------------

@pytest.fixture()
def app_quality(quality, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", quality[0].root)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "en")
    return quality[0]


def test_quality_page_shows_pass_rates_report_and_failing_records(app_quality):
    at = page("quality.py", "stat")
    assert not at.exception, at.exception
    assert at.get_by_key("quality_chart") is not None
    at.selectbox(key="quality_table").set_value("silver.survey_returns").run()
    report = table(at, "quality_rules").set_index("rule_id")
    assert report.loc["SR-R02", "failed"] > 0 and report.loc["SR-R02", "description"].startswith("Monthly revenue")
    at.selectbox(key="quality_drill_rule").set_value("SR-R02").run()
    failures = table(at, "quality_failures")
    # the values the rule looked at, by name and in their unit (the engine wrote revenue_10k=...)
    assert len(failures) == report.loc["SR-R02", "failed"]
    assert failures["detail"].str.startswith("Revenue reported ").all() and failures["detail"].str.contains(
        " 10k yuan").all() and not failures["detail"].str.contains("revenue_10k=").any()


def test_fraud_page_ranks_shows_evidence_and_records_a_decision(app_quality):
    at = page("fraud.py", "super")
    assert not at.exception, at.exception
    queue = table(at, "fraud_queue")
    assert queue["rank"].is_monotonic_increasing and len(queue) > 0
    assert at.get_by_key("fraud_chart") is not None
    code = at.selectbox(key="fraud_pick").value
    at.button(key="fraud_confirm").click().run()
    assert [e.value for e in at.error] == [translate("quality.rule.needs_comment", "en")]
    at.session_state["lang"] = "zh"  # said by its rule: a switch says it in the other language
    at.run()
    assert [e.value for e in at.error] == [translate("quality.rule.needs_comment", "zh")]
    at.session_state["lang"] = "en"
    at.run()
    at.text_area(key="fraud_comment").input("survey 35% above VAT for 10 months").run()
    at.button(key="fraud_confirm").click().run()
    assert store.fraud_queue(app_quality).set_index("credit_code").loc[code, "decision"] == "confirmed"


def test_editing_page_edits_with_a_reason_and_shows_the_log(app_quality):
    at = page("editing.py", "stat")
    assert not at.exception, at.exception
    assert len(table(at, "editing_cells")) > 0
    # the value is typed in the unit it is shown in: revenue in 万元 (stored in yuan)
    assert at.radio(key="editing_column").value == "revenue"
    at.number_input(key="editing_value_revenue").set_value(42.0).run()
    at.button(key="editing_save").click().run()
    assert [e.value for e in at.error] == [translate("quality.rule.needs_reason", "en")]
    at.text_input(key="editing_reason").input("confirmed with the respondent").run()
    at.button(key="editing_save").click().run()
    log = table(at, "editing_log")
    assert log.iloc[0]["reason"] == "confirmed with the respondent"
    # the log in the page's units and months (issue 29, 9: it said 420000 yuan and 2025-03-01)
    for lang in ("en", "zh"):
        at.session_state["lang"] = lang
        at.run()
        log = table(at, "editing_log")
        assert log.iloc[0]["after"] == format_value(420_000.0, "revenue", lang)
        assert log.iloc[0]["after"].endswith("万元" if lang == "zh" else "10k yuan")
        assert log["period"].str.match(r"^\d{4}年\d{1,2}月$" if lang == "zh" else r"^[A-Z][a-z]{2} \d{4}$").all()


@pytest.mark.parametrize("name", ["quality.py", "fraud.py", "editing.py"])
def test_quality_pages_refuse_researchers(app_quality, name):
    at = page(name, "research")
    assert not at.exception and at.error and not at.dataframe
