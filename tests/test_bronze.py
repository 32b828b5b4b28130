"""Bronze landing on literal deliveries: reconciliation, idempotency, renamed and rejected files."""

from pathlib import Path

import pytest

from workbench.config import load_settings
from workbench.pipeline import run_jobs
from workbench.sources.contract import contract
from workbench.sources.readers import read_delivery

VAT_HEADER = "纳税人识别号,纳税人名称,所属期,销售额,税额"


def deliver(root: Path, rel: str, text: str, encoding: str = "utf-8") -> Path:
    path = root / "deliveries" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture()
def env(tmp_path, lake, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DEMO_OUT", str(tmp_path / "demo"))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    return tmp_path / "demo", lake, load_settings()


def test_csv_reader_quarantines_malformed_rows_with_row_numbers(tmp_path):
    path = deliver(tmp_path, "vat/vat_2024-01.csv",
                   f"{VAT_HEADER}\nA1,甲,2024-01,N/A,6\nA2,乙,2024-01\nA3,\"丙,有限公司\",2024-01,7,1\n\nA4,丁,2024-01,1,2,3\n")
    parsed = read_delivery(str(path), contract("vat"), "vat/vat_2024-01.csv")
    assert parsed.rows_read == 5
    assert parsed.table.column("credit_code").to_pylist() == ["A1", "A3"]
    assert parsed.table.column("taxpayer_name").to_pylist() == ["甲", "丙,有限公司"]
    assert parsed.table.column("sales_amount").to_pylist() == ["N/A", "7"]  # kept as typed, not read as null
    assert parsed.table.column("_row_number").to_pylist() == [2, 4]
    reasons = {q["row_number"]: q["reason"] for q in parsed.quarantine}
    assert set(reasons) == {3, 5, 6}
    assert "vat/vat_2024-01.csv row 3: 3 field(s), expected 5" in reasons[3]
    assert "empty line" in reasons[5]
    assert "row 6: 6 field(s)" in reasons[6]


def test_gbk_file_is_transcoded_and_wrong_encoding_noted(tmp_path):
    register = "统一社会信用代码,企业名称\n91440101MA59XXXX0U,友谊贸易有限公司\n"
    path = deliver(tmp_path, "register/register_2025-12.csv", register, "gbk")
    parsed = read_delivery(str(path), contract("register"), "r.csv")
    assert parsed.table.column("name").to_pylist() == ["友谊贸易有限公司"]
    assert parsed.notes == []
    vat_in_gbk = deliver(tmp_path, "vat/vat_2024-02.csv", f"{VAT_HEADER}\nA1,友谊,2024-02,1,0\n", "gbk")
    parsed = read_delivery(str(vat_in_gbk), contract("vat"), "v.csv")
    assert parsed.table.column("taxpayer_name").to_pylist() == ["友谊"]
    assert "delivered in GBK" in parsed.notes[0]


def test_bronze_job_reconciles_skips_duplicates_and_is_idempotent(env):
    out, lake, settings = env
    deliver(out, "vat/vat_2024-01.csv", f"{VAT_HEADER}\nA1,甲,2024-01,100,6\nA2,乙,2024-01\n")
    deliver(out, "vat/vat_2024-02.csv", "纳税人识别号,纳税人名称,所属期,销售收入,税额\nA1,甲,2024-02,110,6\n")  # alias
    deliver(out, "vat/vat_2024-02_resend.csv", "纳税人识别号,纳税人名称,所属期,销售收入,税额\nA1,甲,2024-02,110,6\n")
    deliver(out, "vat/vat_2024-03.csv", "纳税人识别号,金额,所属期\nA1,5,2024-03\nA2,6,2024-03\n")  # unmappable
    [result] = run_jobs(["bronze_vat"], lake=lake, settings=settings)
    assert result.status == "ok", result.message
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (5, 2, 3)
    bronze = lake.read("bronze.vat").orderBy("_file_path", "_row_number").toPandas()
    assert bronze["sales_amount"].tolist() == ["100", "110"]
    assert bronze["_row_number"].tolist() == [2, 2]
    assert set(bronze["_file_sha256"].str.len()) == {64}
    loads = lake.read("workbench.loads").toPandas().set_index("file_path")
    assert loads.loc["vat/vat_2024-02_resend.csv", "status"] == "skipped_duplicate"
    assert loads.loc["vat/vat_2024-03.csv", "status"] == "rejected"
    assert "金额" in loads.loc["vat/vat_2024-03.csv", "reason"]
    quarantine = lake.read("quarantine.vat").toPandas()
    assert len(quarantine) == 3 and set(quarantine["stage"]) == {"bronze"}
    assert (loads["rows_read"] == loads["rows_loaded"] + loads["rows_quarantined"]).all()

    versions = {t: lake.version(t) for t in ("bronze.vat", "quarantine.vat", "workbench.loads")}
    [again] = run_jobs(["bronze_vat"], lake=lake, settings=settings)
    assert again.status == "skipped" and again.rows_read == 0
    assert {t: lake.version(t) for t in versions} == versions
    assert lake.row_count("bronze.vat") == 2 and lake.row_count("workbench.loads") == 4


def test_unknown_job_is_refused(env):
    _, lake, settings = env
    with pytest.raises(ValueError, match="unknown job"):
        run_jobs(["bronze_nothing"], lake=lake, settings=settings)


REGISTER_ROWS = [
    "91660100MA0000001X,甲有限公司,东风路1号,660102001,C13,有限责任公司,小型,2019-03-01,,张伟,110101199003071234,13800138000",
    "91660100MA0000002X,乙有限公司,东风路2号,660102001,C13,有限责任公司,小型,2019-03-01,,李娜,110101198505054321,13900139000",
]


def test_a_register_without_its_header_keeps_personal_values_out_of_the_load_log(env):
    """Issue 28, 3: the first data row stood where the header belongs, and the reason quoted
    it as "unknown headers" into workbench.loads: a name, an ID number and a phone."""
    out, lake, settings = env
    deliver(out, "register/register_2024-01.csv", "\n".join(REGISTER_ROWS) + "\n", encoding="gbk")
    [result] = run_jobs(["bronze_register"], lake=lake, settings=settings)
    assert result.status == "ok", result.message
    [line] = lake.read_arrow("workbench.loads", ["file_path", "status", "reason"]).to_pylist()
    assert line["status"] == "rejected"
    reason = line["reason"]
    assert reason.startswith("register/register_2024-01.csv: the header(s) of column(s) 1, 2, 3"), reason
    assert "the file may lack its header line" in reason
    for value in filter(None, REGISTER_ROWS[0].split(",")):
        assert value not in reason, value
    assert "张伟" not in result.message and "110101199003071234" not in result.message
    # nothing lost: every row is quarantined, the first one (where the header belongs) too
    kept = lake.read_arrow("quarantine.register", ["_row_number", "raw_text"]).to_pylist()
    assert sorted((r["_row_number"], r["raw_text"]) for r in kept) == \
        [(i, row) for i, row in enumerate(REGISTER_ROWS, start=1)]


def test_a_duplicated_unknown_header_is_named_by_position_and_a_known_one_by_name(tmp_path):
    from workbench.sources.contract import RejectedFile

    path = deliver(tmp_path, "register/register_2024-02.csv",
                   "统一社会信用代码,企业名称,张伟,张伟\n", encoding="gbk")
    with pytest.raises(RejectedFile) as unknown:
        read_delivery(str(path), contract("register"), "register/register_2024-02.csv")
    assert "column 3, column 4" in str(unknown.value) and "张伟" not in str(unknown.value)
    path.write_bytes("统一社会信用代码,企业名称,企业名称\n".encode("gbk"))
    with pytest.raises(RejectedFile, match="'企业名称', '企业名称'"):
        read_delivery(str(path), contract("register"), "register/register_2024-02.csv")
