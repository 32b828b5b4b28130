"""Links and gold panels end to end on literal deliveries (register, VAT, survey, electricity)."""

from pathlib import Path

import pytest

from workbench.config import load_settings
from workbench.linkage.identifiers import make_credit_code
from workbench.pipeline import run_jobs

A, B = make_credit_code("91440101", "MA5C0001"), make_credit_code("91440101", "MA5C0002")
REGISTER = ("统一社会信用代码,企业名称,住所,乡镇街道代码,行业代码,企业类型,企业规模,成立日期,注销日期,法定代表人,法定代表人证件号码,联系电话\n"  # noqa: E501 - the header row as delivered
            f"{A},友谊贸易有限公司,友谊县人民路1号,660121101,5212,有限责任公司,小型,2015-03-01,,张三,110101199003074514,13800000000\n"
            f"{B},长青机械股份有限公司,长青区工业路8号,660102002,3411,股份有限公司,中型,2010-01-01,2024-01-15,李四,110101198001011234,13900000000\n")
VAT = "纳税人识别号,纳税人名称,所属期,销售额,税额\n"
ELEC = "户号,户名,用电地址,用电类别,抄表年月,用电量\n"


def deliver(root: Path, rel: str, text: str, encoding: str = "utf-8") -> None:
    path = root / "deliveries" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))


@pytest.fixture()
def env(tmp_path, lake, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DEMO_OUT", str(tmp_path / "demo"))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    out = tmp_path / "demo"
    deliver(out, "register/register_2025-12.csv", REGISTER, "gbk")
    deliver(out, "vat/vat_2024-01.csv", f"{VAT}{A},友谊,2024-01,1000,60\n{B},长青,2024-01,5000,300\n")
    deliver(out, "electricity/elec_2024-01.csv", f"{ELEC}E1,友谊贸易（人民路店）,友谊县人民路1号,商业,2024-01,120.5\n"
                                                  f"E2,某某加油站,不详,商业,2024-01,9\n")
    return out, lake, load_settings()


def run_all(lake, settings):
    results = run_jobs("all", lake=lake, settings=settings)
    failed = [r for r in results if r.status == "failed"]
    assert not failed, failed[0].message
    return {r.name: r for r in results}


def test_panel_joins_sources_with_flags_and_lifetimes(env):
    out, lake, settings = env
    run_all(lake, settings)
    links = {r["record_id"]: r["credit_code"] for r in lake.read("silver.links").filter("source = 'electricity'").collect()}
    assert links == {"E1": A}  # E2 matches no enterprise and stays unlinked
    panel = {(r["credit_code"], str(r["period"])): r for r in lake.read("gold.enterprise_month").collect()}
    assert set(panel) == {(A, "2024-01-01"), (B, "2024-01-01")}  # B died 2024-01-15: alive in January
    a = panel[(A, "2024-01-01")]
    assert a["vat_sales"] == 1000 and a["has_vat"] and a["electricity_kwh"] == 120.5 and a["has_electricity"]
    assert a["industry_section"] == "F" and not a["has_survey"] and a["survey_revenue"] is None
    assert panel[(B, "2024-01-01")]["industry_section"] == "C"
    enterprises = lake.read("silver.enterprises").columns
    assert "legal_rep_id" not in enterprises and "legal_rep_id_pseudonym" in enterprises
    areas = lake.read("gold.area_industry_month").filter("industry_section = 'F'").collect()
    assert areas[0]["vat_sales"] == 1000 and areas[0]["enterprises"] == 1
    indicators = {r["indicator"]: r for r in lake.read("gold.indicators_monthly").collect()}
    assert indicators["vat_sales_total"]["value"] == 6000
    assert str(indicators["vat_sales_total"]["available_date"]) == "2024-02-20"


def test_new_month_rewrites_only_that_month(env):
    out, lake, settings = env
    run_all(lake, settings)
    deliver(out, "vat/vat_2024-02.csv", f"{VAT}{A},友谊,2024-02,1100,66\n")
    results = run_all(lake, settings)
    assert "rewrote 1 month(s): 2024-02..2024-02" in results["gold_enterprise_month"].message
    last = lake.history("gold.enterprise_month")[0]
    assert last["operationParameters"].get("predicate", "").startswith("period IN")
    panel = {(r["credit_code"], str(r["period"])): r["vat_sales"] for r in lake.read("gold.enterprise_month").collect()}
    assert panel == {(A, "2024-01-01"): 1000, (B, "2024-01-01"): 5000, (A, "2024-02-01"): 1100}
    # nothing new: gold is left alone
    again = run_all(lake, settings)
    assert again["gold_enterprise_month"].status == "skipped"
    assert lake.row_count("gold.enterprise_month") == 3


def test_exact_sum_does_not_depend_on_row_order(spark):
    """A double sum does: (1e16 + 1) - 1e16 is 0 in doubles, 1 in any other order. Totals
    in gold must not move when a rebuild reads the same rows in another order."""
    from jobs.gold_panels import exact_sum

    orders = ([1e16, 1.0, -1e16, 0.1], [-1e16, 1e16, 1.0, 0.1], [0.1, 1.0, 1e16, -1e16])
    sums = set()
    for values in orders:
        df = spark.createDataFrame([(v,) for v in values], "kwh double").repartition(1)
        sums.add(df.agg(exact_sum("kwh").alias("total")).collect()[0]["total"])
    assert sums == {1.1}  # exact: 1e16 - 1e16 + 1.0 + 0.1, rounded to a double once


def test_a_rebuilt_link_keeps_the_run_id_that_made_it(spark):
    """Before, every rebuild restamped linked_run_id with its own run, so it no longer
    named the run that made a link."""
    from jobs.gold_panels import keep_link_run_ids

    schema = "source string, record_id string, credit_code string, method string, linked_run_id string"
    previous = spark.createDataFrame([("electricity", "E1", "C1", "exact_name_key", "run_old"),
                                      ("electricity", "E2", "C2", "exact_name_key", "run_old"),
                                      ("electricity", "E3", "C3", "splink", "run_splink")], schema)
    rebuilt = spark.createDataFrame([("electricity", "E1", "C1", "exact_name_key", "run_new"),
                                     ("electricity", "E2", "C9", "exact_name_key", "run_new"),  # relinked
                                     ("electricity", "E4", "C4", "exact_name_key", "run_new")], schema)
    got = {r["record_id"]: r["linked_run_id"] for r in keep_link_run_ids(rebuilt, previous).collect()}
    assert got == {"E1": "run_old", "E2": "run_new", "E4": "run_new"}
