"""Malformed and hostile deliveries (issue 20): a bad file is rejected with its name and
reason, never an exception that stops the good files beside it.

The named cases are the ones seen on copies of the demo lake; the fuzz test throws
random and half-valid bytes at every reader.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.config import load_settings
from workbench.pipeline import run_jobs
from workbench.sources.contract import RejectedFile, contract
from workbench.sources.readers import ParsedFile, read_delivery

VAT_HEADER = "纳税人识别号,纳税人名称,所属期,销售额,税额"
PRICE = {"scraped_at": "2024-01-05T10:00:00+08:00", "retailer": "r1", "product_id": "p1", "product_name": "米",
         "price": 12.5}


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def payments_parquet(**columns) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"merchant_id": ["m1", "m2"], "txn_date": ["2024-01-02", "2024-01-03"],
                             "txn_count": [3, 4], "txn_amount": [10.5, 20.0], **columns}), sink)
    return sink.getvalue()


def test_utf16_csv_with_a_byte_order_mark_is_read(tmp_path):
    text = f"{VAT_HEADER}\r\nA1,甲,2024-01,100,6\r\n"
    path = write(tmp_path / "vat_2024-01.csv", b"\xff\xfe" + text.encode("utf-16-le"))
    parsed = read_delivery(str(path), contract("vat"), "vat/vat_2024-01.csv")
    assert parsed.table.column("taxpayer_name").to_pylist() == ["甲"]
    assert "UTF-16" in parsed.notes[0]


def test_utf16_csv_without_a_byte_order_mark_is_rejected_naming_the_file(tmp_path):
    path = write(tmp_path / "v.csv", f"{VAT_HEADER}\nA1,甲,2024-01,100,6\n".encode("utf-16-le"))
    with pytest.raises(RejectedFile, match="vat/v.csv"):
        read_delivery(str(path), contract("vat"), "vat/v.csv")


def test_a_json_line_nested_100000_deep_is_a_quarantined_row(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    lines = [json.dumps(PRICE), deep, json.dumps({**PRICE, "product_id": "p2"})]
    path = write(tmp_path / "prices_2024-01.jsonl", "\n".join(lines).encode())
    parsed = read_delivery(str(path), contract("prices"), "prices/prices_2024-01.jsonl")
    assert parsed.table.column("product_id").to_pylist() == ["p1", "p2"]
    [bad] = parsed.quarantine
    assert bad["row_number"] == 2 and "prices/prices_2024-01.jsonl row 2: not valid JSON" in bad["reason"]
    assert "RecursionError" in bad["reason"]


def test_parquet_with_list_struct_and_binary_columns_is_kept_as_text(tmp_path):
    data = payments_parquet(txn_count=pa.array([[1, 2], None], pa.list_(pa.int64())),
                            txn_amount=pa.array([{"yuan": 1}, {"yuan": 2}]),
                            merchant_id=pa.array([b"\xff\x01", b"m2"], pa.binary()))
    path = write(tmp_path / "payments_2024-01.parquet", data)
    parsed = read_delivery(str(path), contract("card_payments"), "cards/payments_2024-01.parquet")
    assert parsed.table.column("txn_count").to_pylist() == ["[1, 2]", None]
    assert parsed.table.column("txn_amount").to_pylist() == ['{"yuan": 1}', '{"yuan": 2}']
    assert parsed.table.column("merchant_id").to_pylist() == ["ff01", "m2"]


@pytest.fixture()
def env(tmp_path, lake, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DEMO_OUT", str(tmp_path / "demo"))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    return tmp_path / "demo" / "deliveries", lake, load_settings()


def test_a_hostile_file_does_not_stop_the_good_files_beside_it(env):
    """One source per format, each with a good file and a hostile one: the good ones load,
    the hostile ones are logged as rejected with their name, the jobs report ok."""
    deliveries, lake, settings = env
    write(deliveries / "vat/vat_2024-01.csv", f"{VAT_HEADER}\nA1,甲,2024-01,100,6\n".encode())
    write(deliveries / "vat/vat_2024-02.csv", f"{VAT_HEADER}\nA1,甲,2024-02,1,0\n".encode("utf-16-le"))
    write(deliveries / "prices/prices_2024-01.jsonl", json.dumps(PRICE).encode())
    write(deliveries / "prices/prices_2024-02.jsonl", b"{" * 100_000)
    write(deliveries / "cards/payments_2024-01.parquet", payments_parquet())
    write(deliveries / "cards/payments_2024-02.parquet", b"PAR1" + bytes(range(256)) * 4 + b"PAR1")
    write(deliveries / "social_insurance/si_2024-01.xlsx", b"PK\x03\x04 not really a workbook")
    results = run_jobs(["bronze_vat", "bronze_prices", "bronze_card_payments", "bronze_social_insurance"],
                       lake=lake, settings=settings)
    assert [r.status for r in results] == ["ok"] * 4, [r.message for r in results]
    loads = {l["file_path"]: l for l in lake.read_arrow("workbench.loads", ["file_path", "status", "reason"])
             .to_pylist()}
    for good in ("vat/vat_2024-01.csv", "prices/prices_2024-01.jsonl", "cards/payments_2024-01.parquet"):
        assert loads[good]["status"] == "loaded", loads[good]
    assert loads["vat/vat_2024-02.csv"]["status"] == "rejected"
    assert loads["cards/payments_2024-02.parquet"]["status"] == "rejected"
    assert loads["social_insurance/si_2024-01.xlsx"]["status"] == "rejected"
    for path in ("vat/vat_2024-02.csv", "cards/payments_2024-02.parquet", "social_insurance/si_2024-01.xlsx"):
        assert loads[path]["reason"].startswith(path), loads[path]
    assert loads["prices/prices_2024-02.jsonl"]["status"] == "loaded"  # its one line is quarantined
    assert lake.row_count("bronze.vat") == 1 and lake.row_count("bronze.card_payments") == 2


# ---- fuzz -----------------------------------------------------------------------

HEADERS = {
    "csv": VAT_HEADER.encode(),
    "jsonl": json.dumps(PRICE).encode(),
}
SOURCE_OF = {"csv": "vat", "jsonl": "prices", "parquet": "card_payments", "xlsx": "social_insurance"}
PREFIX = {"csv": HEADERS["csv"] + b"\n", "jsonl": HEADERS["jsonl"] + b"\n", "parquet": b"PAR1",
          "xlsx": b"PK\x03\x04"}
# Bytes that trip parsers: quotes, separators, line ends, byte-order marks, NUL, GBK and
# broken UTF-8 sequences, JSON openers.
TRICKY = st.sampled_from([b'"', b",", b"\n", b"\r", b"\r\n", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3",
                          b"\xe4\xb8", b"[", b"{", b"}", b'{"price": 1e999}', b"NaN", b"\t", b"A1,", b"2024-01"])
CHUNKS = st.lists(st.one_of(st.binary(max_size=40), TRICKY), max_size=30).map(b"".join)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "xlsx"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=CHUNKS, valid_prefix=st.booleans())
def test_no_exception_escapes_a_reader(tmp_path, fmt, body, valid_prefix):
    data = (PREFIX[fmt] if valid_prefix else b"") + body
    path = write(tmp_path / f"fuzz.{fmt}", data)
    try:
        parsed = read_delivery(str(path), contract(SOURCE_OF[fmt]), f"fuzz/fuzz.{fmt}")
    except RejectedFile as exc:
        assert str(exc).startswith("fuzz/fuzz."), exc
        return
    assert isinstance(parsed, ParsedFile)
    assert parsed.rows_read == parsed.table.num_rows + len(parsed.quarantine)


# Well-formed containers with hostile contents: any header, any cell, any column type.
CELLS = st.one_of(st.none(), st.text(max_size=12), st.integers(-10**20, 10**20),
                  st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.lists(st.sampled_from(["统一社会信用代码", "单位名称", "", "x", "所属期"]), max_size=3),
       rows=st.lists(st.lists(CELLS, max_size=8), max_size=6))
def test_no_exception_escapes_the_xlsx_reader_on_any_workbook(tmp_path, extra, rows):
    from workbench.demo.writers import xlsx_write

    header = ["单位编号", "所属期", "参保人数", *extra]  # the required headers, so the cells get read
    path = xlsx_write(str(tmp_path / "si_2024-01.xlsx"), "Sheet1", header, rows)
    try:
        parsed = read_delivery(path, contract("social_insurance"), "social_insurance/si_2024-01.xlsx")
    except RejectedFile as exc:
        assert str(exc).startswith("social_insurance/si_2024-01.xlsx"), exc
        return
    assert parsed.rows_read == parsed.table.num_rows + len(parsed.quarantine)


ARROW_COLUMNS = st.sampled_from([
    pa.array([1, None], pa.int64()), pa.array([1.5, float("nan")]), pa.array(["a", None]),
    pa.array([b"\xff", b"ok"]), pa.array([[1], None], pa.list_(pa.int64())), pa.array([{"a": 1}, None]),
    pa.array([None, None], pa.null()), pa.array([1, 2], pa.timestamp("ns", tz="Asia/Shanghai")),
    pa.array([True, False]), pa.array([{"k": [1, 2]}, {"k": None}]),
    pa.array([1, 2], pa.int64()).dictionary_encode(), pa.array(["1.25", "2"]).cast(pa.decimal128(10, 2)),
])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(columns=st.fixed_dictionaries({c: ARROW_COLUMNS for c in ("merchant_id", "txn_date", "txn_count",
                                                                    "txn_amount")},
                                     optional={"other": ARROW_COLUMNS}))
def test_no_exception_escapes_the_parquet_reader_on_any_column_types(tmp_path, columns):
    path = tmp_path / "payments_2024-01.parquet"
    pq.write_table(pa.table(columns), path)
    try:
        parsed = read_delivery(str(path), contract("card_payments"), "cards/payments_2024-01.parquet")
    except RejectedFile as exc:
        assert str(exc).startswith("cards/payments_2024-01.parquet"), exc
        return
    assert parsed.rows_read == parsed.table.num_rows + len(parsed.quarantine)
    assert all(parsed.table.schema.field(c).type == pa.string() for c in contract("card_payments").column_names)
