"""Silver on literal deliveries: typing quarantine, pseudonyms, incremental periods, late corrections."""

from pathlib import Path

import pytest
from pyspark.sql import functions as F

from workbench.config import load_settings
from workbench.linkage.identifiers import credit_code_check_char
from workbench.pipeline import run_jobs
from workbench.pseudonym import pseudonym

KEY = "test-key-0123456789abcdef"


def code(stem: str) -> str:
    return stem + credit_code_check_char(stem)


A, B = code("91440101MA5C00001"), code("91440101MA5C00002")
SURVEY_HEADER = "统一社会信用代码,报告期,营业收入(万元),从业人员期末人数,填表人,联系电话,报送时间"


def deliver(root: Path, rel: str, text: str) -> None:
    path = root / "deliveries" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture()
def env(tmp_path, lake, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DEMO_OUT", str(tmp_path / "demo"))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
    return tmp_path / "demo", lake, load_settings()


def run(lake, settings, *names):
    results = run_jobs(list(names), lake=lake, settings=settings)
    for r in results:
        assert r.status != "failed", r.message
    return results


def test_survey_typed_pseudonymised_and_bad_values_quarantined(env):
    out, lake, settings = env
    deliver(out, "survey/survey_2024-01.csv",
            f"{SURVEY_HEADER}\n{A},2024-01,12.5,30,张三,13800000000,2024-02-05 10:00:00\n"
            f"{B},2024-01,abc,31,李四,13900000000,2024-02-05 11:00:00\n"
            f"{B[:17]}0,202401,3,,王五,,\n")
    _, silver = run(lake, settings, "bronze_survey", "silver_survey_returns")
    assert (silver.rows_read, silver.rows_written, silver.rows_quarantined) == (3, 1, 2)
    row = lake.read("silver.survey_returns").collect()[0]
    assert row["revenue"] == 125000 and row["employment"] == 30
    assert str(row["period"]) == "2024-01-01" and row["credit_code_valid"] is True
    assert row["respondent_name_pseudonym"] == pseudonym("张三", KEY.encode())
    columns = lake.read("silver.survey_returns").columns
    assert "respondent_name" not in columns and "respondent_phone" not in columns
    reasons = sorted(r["reason"] for r in lake.read("quarantine.survey").filter("stage = 'silver'").collect())
    assert "row 3" in reasons[0] and "营业收入(万元)" in reasons[0] and "'abc' is not a valid double" in reasons[0]
    assert "row 4" in reasons[1] and "从业人员期末人数" in reasons[1] and "is empty" in reasons[1]


def test_new_month_overwrites_its_partition_and_late_correction_is_merged(env):
    out, lake, settings = env
    deliver(out, "survey/survey_2024-01.csv", f"{SURVEY_HEADER}\n{A},2024-01,10,30,,,\n{B},2024-01,20,40,,,\n")
    run(lake, settings, "bronze_survey", "silver_survey_returns")
    deliver(out, "survey/survey_2024-02.csv", f"{SURVEY_HEADER}\n{A},2024-02,11,30,,,\n")
    deliver(out, "survey/survey_2024-01_correction.csv", f"{SURVEY_HEADER}\n{B},2024-01,22,41,,,\n")
    run(lake, settings, "bronze_survey", "silver_survey_returns")
    got = {(r["credit_code"], str(r["period"])): (float(r["revenue"]), r["employment"])
           for r in lake.read("silver.survey_returns").collect()}
    assert got == {(A, "2024-01-01"): (100000.0, 30), (B, "2024-01-01"): (220000.0, 41),
                   (A, "2024-02-01"): (110000.0, 30)}
    operations = [h["operation"] for h in lake.history("silver.survey_returns")]
    assert "MERGE" in operations
    # idempotent: a third run finds nothing new and changes nothing
    version = lake.version("silver.survey_returns")
    _, again = run(lake, settings, "bronze_survey", "silver_survey_returns")
    assert again.status == "skipped" and lake.version("silver.survey_returns") == version
    assert lake.row_count("silver.survey_returns") == 3
