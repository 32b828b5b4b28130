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


def panel_content(lake) -> set:
    return {tuple(r) for r in lake.read("gold.enterprise_month").collect()}


def test_a_new_register_rewrites_only_the_months_its_births_and_new_links_touch(env, tmp_path):
    """A register delivered whole changes few enterprises: a birth touches its own months, and
    the account it now links by name only the months that enterprise is alive. The panel is
    then the one a full build of the same deliveries makes."""
    from workbench.lake import Lake

    out, lake, settings = env
    deliver(out, "vat/vat_2024-02.csv", f"{VAT}{A},友谊,2024-02,1100,66\n")
    deliver(out, "vat/vat_2024-03.csv", f"{VAT}{A},友谊,2024-03,1200,72\n")
    deliver(out, "electricity/elec_2024-03.csv", f"{ELEC}E2,某某加油站,不详,商业,2024-03,11\n")
    run_all(lake, settings)
    # the filling station is registered (born in March): account E2 now links to it by name
    c = make_credit_code("91440101", "MA5C0003")
    deliver(out, "register/register_2026-01.csv",
            REGISTER + f"{c},某某加油站有限公司,长青区油站路2号,660102002,5265,有限责任公司,微型,2024-03-10,,王五,"
                       "110101198501011234,13700000000\n", "gbk")
    results = run_all(lake, settings)
    links = {r["record_id"]: r["credit_code"] for r in lake.read("silver.links").filter("source = 'electricity'").collect()}
    assert links == {"E1": A, "E2": c}
    # E2 has kWh in January and March, C is alive from March: only March is rewritten
    assert "rewrote 1 month(s): 2024-03..2024-03" in results["gold_enterprise_month"].message
    panel = {(r["credit_code"], str(r["period"])): r for r in lake.read("gold.enterprise_month").collect()}
    assert panel[(c, "2024-03-01")]["electricity_kwh"] == 11 and (c, "2024-02-01") not in panel

    fresh = Lake(str(tmp_path / "fresh_lake"), spark=lake.spark, settings=settings)
    run_all(fresh, settings)
    assert panel_content(lake) == panel_content(fresh)


def test_a_month_no_source_reported_is_in_the_panel_and_a_vacuumed_register_rebuilds_it(env, tmp_path):
    """Electricity jumps from January to April: February and March are in the panel too (every
    enterprise alive, no values), as in a full build. And when the register version the last
    build read has been vacuumed, the panel is rebuilt whole rather than diffed or failed."""
    from workbench.lake import Lake

    out, lake, settings = env
    run_all(lake, settings)
    deliver(out, "electricity/elec_2024-04.csv", f"{ELEC}E1,友谊贸易（人民路店）,友谊县人民路1号,商业,2024-04,130\n")
    results = run_all(lake, settings)
    assert "rewrote 3 month(s): 2024-02..2024-04" in results["gold_enterprise_month"].message
    months = {str(r["period"]) for r in lake.read("gold.enterprise_month").collect()}
    assert months == {"2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"}

    deliver(out, "register/register_2026-01.csv", REGISTER.replace("友谊贸易有限公司", "友谊商贸有限公司"), "gbk")
    run_jobs(["bronze_register", "silver_enterprises", "silver_linkage"], lake=lake, settings=settings)
    lake.vacuum("silver.enterprises", retention_hours=0, dry_run=False)  # the merge rewrote every file
    (gold,) = run_jobs(["gold_enterprise_month"], lake=lake, settings=settings)
    assert gold.status == "ok" and "full rebuild" in gold.message, gold.message
    fresh = Lake(str(tmp_path / "fresh_lake"), spark=lake.spark, settings=settings)
    run_all(fresh, settings)
    assert panel_content(lake) == panel_content(fresh)
    assert {r["name"] for r in lake.read("gold.enterprise_month").filter(f"credit_code = '{A}'").collect()} == {
        "友谊商贸有限公司"}


def test_a_record_linked_twice_to_one_enterprise_counts_once(spark):
    from datetime import date

    from jobs.gold_panels import PANEL_ATTRIBUTES, enterprise_month

    enterprises = spark.createDataFrame(
        [(A, "n", "t", "c", "i", "d", "s", "small", "lf", date(2020, 1, 1), None, True)],
        "credit_code string, name string, township_code string, county_code string, industry_code string, "
        "industry_division string, industry_section string, size_class string, legal_form string, "
        "birth_date date, death_date date, credit_code_valid boolean").select(*PANEL_ATTRIBUTES)
    elec = spark.createDataFrame([("E1", date(2024, 1, 1), 5.0)], "account_id string, period date, kwh double")
    links = spark.createDataFrame([("electricity", "E1", A, "exact_name_key"), ("electricity", "E1", A, "splink")],
                                  "source string, record_id string, credit_code string, method string")
    (row,) = enterprise_month(enterprises, (date(2024, 1, 1), date(2024, 1, 1)), None, None, None, elec, None,
                              None, links).collect()
    assert row["electricity_kwh"] == 5.0


def test_a_relinked_record_touches_the_months_it_has_values_for_both_enterprises(spark):
    """A reviewer moves account E1 from A to B: A loses its kWh in every month E1 reported,
    B gains them in the months it is alive, and no other month is rewritten."""
    from datetime import date

    from jobs.gold_panels import PANEL_ATTRIBUTES, months_of_changed_links

    def links(target):
        return spark.createDataFrame([("electricity", "E1", target), ("electricity", "E9", A)],
                                     "source string, record_id string, credit_code string")

    elec = spark.createDataFrame([("E1", date(2024, m, 1), 1.0) for m in (1, 2)] + [("E9", date(2024, 3, 1), 1.0)],
                                 "account_id string, period date, kwh double")
    rows = [(A, date(2020, 1, 1), None), (B, date(2024, 2, 5), None)]
    enterprises = spark.createDataFrame(
        [(code, "n", "t", "c", "i", "d", "s", "small", "lf", born, died, True) for code, born, died in rows],
        "credit_code string, name string, township_code string, county_code string, industry_code string, "
        "industry_division string, industry_section string, size_class string, legal_form string, "
        "birth_date date, death_date date, credit_code_valid boolean").select(*PANEL_ATTRIBUTES)
    months = (date(2024, 1, 1), date(2024, 3, 1))
    touched = months_of_changed_links(links(A), links(B), {"electricity": elec}, enterprises, months)
    assert sorted({r["period"] for r in touched.collect()}) == [date(2024, 1, 1), date(2024, 2, 1)]
    assert months_of_changed_links(links(A), links(A), {"electricity": elec}, enterprises, months) is None


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


def unlinked(lake) -> set:
    return {(r["source"], r["record_id"]) for r in lake.read("silver.linkage_unlinked").collect()}


def scored(result) -> dict:
    """Records each source's model scored in a linkage run, from the job's messages."""
    said = [dict(m.args) for m in result.messages if m.key in ("jobmsg.linked", "jobmsg.linked_trained")]
    return {a["source"]: a["scored"] for a in said}


def test_the_linkage_scores_again_only_records_a_change_can_reach(env):
    """The linkage keeps the records its model left unlinked (``silver.linkage_unlinked``). A
    register change that no unlinked record shares a blocking key with scores none of them
    again; a new account is scored; an enterprise registered under an unlinked account's name
    takes it out of the unlinked."""
    out, lake, settings = env
    run_all(lake, settings)
    assert unlinked(lake) == {("electricity", "E2")}
    # a firm far from E2 in every key is born: the register changed, E2 is not scored again
    d = make_credit_code("91440101", "MA5C0004")
    register = REGISTER + f"{d},远方机电设备有限公司,长青区工业路99号,660102002,3411,有限责任公司,微型,2024-02-01,,赵六," \
                          "110101198501011234,13700000001\n"
    deliver(out, "register/register_2026-01.csv", register, "gbk")
    results = run_all(lake, settings)
    assert scored(results["silver_linkage"]) == {"electricity": 0}
    assert unlinked(lake) == {("electricity", "E2")}
    # a new account: it alone is scored
    deliver(out, "electricity/elec_2024-02.csv", f"{ELEC}E3,新开小吃,不详,商业,2024-02,3\n")
    results = run_all(lake, settings)
    assert scored(results["silver_linkage"]) == {"electricity": 1}
    assert unlinked(lake) == {("electricity", "E2"), ("electricity", "E3")}
    # the filling station registers under E2's name: E2 links (by its unique name key) and leaves
    c = make_credit_code("91440101", "MA5C0003")
    deliver(out, "register/register_2026-02.csv",
            register + f"{c},某某加油站有限公司,长青区油站路2号,660102002,5265,有限责任公司,微型,2024-01-10,,王五,"
                       "110101198501011234,13700000000\n", "gbk")
    run_all(lake, settings)
    links = {r["record_id"]: r["credit_code"] for r in lake.read("silver.links").filter("source = 'electricity'").collect()}
    assert links["E2"] == c and unlinked(lake) == {("electricity", "E3")}


def test_a_source_whose_every_row_was_quarantined_leaves_linkage_and_panel_running(env):
    """A first delivery of which no row passes (here a month of electricity readings, none
    of them a number) leaves an empty silver table. The linkage says it has nothing to link
    for that source and keeps its trained model; the panel runs on the other sources. Before,
    the linkage failed in Splink (one input frame) and the panel comparing the empty table's
    newest row (None) with the others'."""
    out, lake, settings = env
    run_all(lake, settings)
    trained = {r["source"]: r["model_json"] for r in lake.read("silver.linkage_models").collect()}
    assert "electricity" in trained
    # a lake that starts from deliveries of which every electricity row is bad
    again = lake.root + "-again"
    settings_again = settings.with_lake_root(again)
    from workbench.lake import Lake

    fresh = Lake(again, lake.spark)
    (out / "deliveries" / "electricity" / "elec_2024-01.csv").write_bytes(
        f"{ELEC}E1,友谊贸易（人民路店）,友谊县人民路1号,商业,2024-01,很多\nE2,某某加油站,不详,商业,2024-01,许多\n".encode())
    results = run_all(fresh, settings_again)
    assert fresh.exists("silver.electricity_monthly") and fresh.row_count("silver.electricity_monthly") == 0
    said = [m for m in results["silver_linkage"].messages if m.key == "jobmsg.no_records"]
    assert [dict(m.args)["source"] for m in said] == ["electricity"]
    assert "银层" in said[0].text("zh") and "holds no records" in said[0].text("en")
    assert results["gold_enterprise_month"].status == "ok"
    assert {(r["credit_code"], str(r["period"])) for r in fresh.read("gold.enterprise_month").collect()} == {
        (A, "2024-01-01"), (B, "2024-01-01")}
    # on the first lake, a source whose table holds no records this time keeps its trained model
    def own_rows(table: str) -> set:  # the model's rows (deterministic links follow today's table)
        rows = lake.read(table).filter("source = 'electricity'")
        if table == "silver.links":
            rows = rows.filter("method IN ('splink', 'clerical')")
        return {tuple(r) for r in rows.drop("linked_run_id", "queued_run_id").collect()} if lake.exists(table) \
            else set()

    kept = {t: own_rows(t) for t in ("silver.links", "silver.link_review_queue", "silver.linkage_unlinked")}
    assert kept["silver.linkage_unlinked"], "E2 is left unlinked"
    lake.write("silver.electricity_monthly", lake.read("silver.electricity_monthly").limit(0), mode="overwrite")
    (linkage,) = run_jobs(["silver_linkage"], lake=lake, settings=settings)
    assert linkage.status == "ok", linkage.message
    assert [dict(m.args)["source"] for m in linkage.messages if m.key == "jobmsg.no_records"] == ["electricity"]
    assert {r["source"]: r["model_json"] for r in lake.read("silver.linkage_models").collect()} == trained
    # and its links, open pairs and unlinked records stay as the last run left them
    assert {t: own_rows(t) for t in kept} == kept
