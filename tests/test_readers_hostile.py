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
from workbench.sources.readers import ParsedFile, _cell_text, _check_sheet, _column_text, read_delivery

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
    loads = {load["file_path"]: load for load in lake.read_arrow("workbench.loads", ["file_path", "status", "reason"])
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


# ---- workbooks that break a bound (issue 28, 6) -------------------------------------------

SI_HEADER = ["单位编号", "所属期", "参保人数"]


def workbook_with_sheet(path: Path, sheet_xml: bytes) -> Path:
    """A real workbook (the demo's writer) whose sheet is replaced by *sheet_xml*, compressed
    as Excel does (deflate)."""
    import zipfile

    from workbench.demo.writers import xlsx_write

    template = tmp = path.with_suffix(".template.xlsx")
    xlsx_write(str(template), "Sheet1", SI_HEADER, [])
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for member in src.infolist():
            data = sheet_xml if member.filename == "xl/worksheets/sheet1.xml" else src.read(member)
            dst.writestr(member.filename, data)
    tmp.unlink()
    return path


def sheet(*cells: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns='
            '"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            + "".join(cells) + "</sheetData></worksheet>").encode("utf-8")


def text_cell(ref: str, text: str) -> str:
    return f'<row r="{ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}"><c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c></row>'


def test_workbooks_that_break_a_bound_are_rejected_by_name_and_the_good_one_lands(tmp_path):
    """A 1.7 KB workbook whose one cell is XFD1048576 made calamine ask for 512 GiB and abort
    the landing (and every rerun); a deflate bomb inflated a 60 MB cell; a cell longer than
    Excel allows. Each is rejected naming the file and the bound; the good workbook lands.
    A real landing process: an abort must show as the process dying, not take pytest down."""
    import os
    import subprocess
    import sys

    from workbench.demo.writers import xlsx_write
    from workbench.lake import Lake

    folder = tmp_path / "demo" / "deliveries" / "social_insurance"
    folder.mkdir(parents=True)
    xlsx_write(str(folder / "si_2024-01.xlsx"), "Sheet1", SI_HEADER, [["U1", "2024-01", 12]])
    hostile = {
        "si_2024-02.xlsx": (sheet(text_cell("XFD1048576", "x")), "xlsx sheet dimensions"),
        "si_2024-03.xlsx": (sheet(text_cell("A1", "单位编号"), text_cell("A2", "A" * 60_000_000)),
                            "xlsx compression ratio"),
        "si_2024-04.xlsx": (sheet(text_cell("A1", "单位编号"), text_cell("A2", os.urandom(100_000).hex())),
                            "xlsx cell size"),
    }
    for name, (xml, _) in hostile.items():
        workbook_with_sheet(folder / name, xml)
    assert (folder / "si_2024-02.xlsx").stat().st_size < 2_000
    root = tmp_path / "lake"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update({"PYTHONPATH": str(Path(__file__).resolve().parent.parent), "RUST_LOG": "error",
                "WORKBENCH_DEMO_OUT": str(tmp_path / "demo"), "WORKBENCH_LAKE_ROOT": str(root),
                "WORKBENCH_PSEUDONYM_KEY": "test-key-0123456789abcdef"})
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "jobs", "run", "bronze_social_insurance"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    lake = Lake(str(root))
    loads = {load["file_path"]: load for load in lake.read_arrow("workbench.loads", ["file_path", "status", "reason"])
             .to_pylist()}
    assert loads["social_insurance/si_2024-01.xlsx"]["status"] == "loaded"
    for name, (_, bound) in hostile.items():
        line = loads[f"social_insurance/{name}"]
        assert line["status"] == "rejected", line
        assert line["reason"].startswith(f"social_insurance/{name}: ") and bound in line["reason"], line
    assert lake.read_arrow("bronze.social_insurance", ["unit_id"]).column("unit_id").to_pylist() == ["U1"]


def test_a_panic_inside_the_xlsx_reader_is_a_rejected_file_not_a_fatal_error(tmp_path, monkeypatch):
    """calamine panics (a Rust panic, raised by pyo3 as PanicException, a BaseException that
    `except Exception` lets through) on a sheet that reaches XFD1048576. The bounds keep such a
    sheet from it; with them lifted, the panic itself must still reject the file by name."""
    from workbench.sources import readers

    monkeypatch.setattr(readers, "XLSX_MAX_COLUMNS", 16_384, raising=False)
    monkeypatch.setattr(readers, "XLSX_MAX_EMPTY_CELLS", 1 << 40, raising=False)
    path = workbook_with_sheet(tmp_path / "si_2024-02.xlsx", sheet(text_cell("XFD1048576", "x")))
    with pytest.raises(RejectedFile, match=r"^social_insurance/si_2024-02.xlsx: .*panicked"):
        read_delivery(str(path), contract("social_insurance"), "social_insurance/si_2024-02.xlsx")


# ---- the fast paths of the xlsx reader (issue 30) read what the cell-by-cell code read ----------

CELL_VALUES = st.one_of(st.none(), st.just(""), st.text(max_size=5), st.floats(allow_nan=True),
                        st.integers(-10**12, 10**12).map(float), st.integers(), st.booleans(),
                        st.dates(), st.datetimes())


@given(st.lists(CELL_VALUES, max_size=30), st.sampled_from(["mixed", "text", "numbers"]))
def test_a_column_converted_at_once_reads_as_cell_by_cell(values, shape):
    if shape == "text":
        values = [v for v in values if v is None or isinstance(v, str)]
    elif shape == "numbers":
        values = [v for v in values if v is None or type(v) is float]
    assert _column_text(values) == [_cell_text(v) for v in values]


def test_a_cell_reference_is_seen_whatever_spells_the_element_around_it():
    """The sheet bounds now look for the `r` attribute alone: a cell far out is refused however its
    element is written (a namespace prefix, a tab or newline before the attribute)."""
    for cell in (b'<c r="XFD1">', b'<x:c r="ZZZ7">', b'<c\tr="IW3"/>', b'<c\nt="s" r="AAA1">'):
        with pytest.raises(RejectedFile, match="reaches column"):
            _check_sheet("sheet1.xml", b"<sheetData><row r=\"1\">" + cell + b"</row></sheetData>", "f.xlsx")
    with pytest.raises(RejectedFile, match="empty cells"):  # a far row, on a row or a cell
        _check_sheet("sheet1.xml", b'<sheetData><row r="1"><c r="A1"/></row><row r="1048576"/></sheetData>',
                     "f.xlsx")
    _check_sheet("sheet1.xml", b'<sheetData><row r="1"><c r="A1"/><c r="IV1"/></row></sheetData>', "f.xlsx")


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(1, 2_000_000), st.lists(st.tuples(
    st.sampled_from(["A", "B", "Z", "AA", "AZ", "BA", "IV", "IW", "ZZ", "AAA", "XFD"]), st.integers(0, 3)),
    max_size=4)), max_size=6),
       dimension=st.one_of(st.none(), st.tuples(st.sampled_from(["A", "C", "IV", "XFD"]), st.integers(1, 9_999_999))),
       shuffle=st.booleans(), zeros=st.sampled_from(["", "", "0", "000"]))
def test_the_quick_sheet_extent_is_the_extent_of_every_reference(rows, dimension, shuffle, zeros):
    """The extent read from the last row, checked by one pass for anything beyond it, equals the
    extent from every reference, whatever the order of rows and cells (a cell may name another
    row than its own, as a hand-made or hostile sheet does)."""
    from workbench.sources.readers import _sheet_extent, _sheet_extent_by_every_reference

    body = []
    for number, cells in (reversed(rows) if shuffle else rows):
        refs = "".join(f'<c r="{col}{zeros}{number + shift}" t="s"><v>0</v></c>' for col, shift in cells)
        body.append(f'<row r="{number}">{refs}</row>')
    head = f'<dimension ref="A1:{dimension[0]}{dimension[1]}"/>' if dimension else ""
    xml = f'<worksheet>{head}<sheetData>{"".join(body)}</sheetData></worksheet>'.encode()
    assert _sheet_extent(xml) == _sheet_extent_by_every_reference(xml)


def test_a_row_number_written_with_leading_zeros_is_not_missed():
    """calamine reads r="A0999999" as row 999,999: the quick extent must too (a review found it
    taking the sheet's last row, 2, instead)."""
    from workbench.sources.readers import RejectedFile, _check_sheet, _sheet_extent

    xml = (b'<worksheet><sheetData><row r="1"><c r="A0999999"><v>1</v></c></row>'
           b'<row r="2"><c r="A2"><v>1</v></c><c r="IV2"><v>1</v></c></row></sheetData></worksheet>')
    assert _sheet_extent(xml)[:2] == (999_999, 256)
    with pytest.raises(RejectedFile, match="empty cells"):
        _check_sheet("sheet1.xml", xml, "f.xlsx")


@pytest.mark.parametrize("number", [0, 1, 9, 10, 99, 100, 123, 1_048_575, 1_048_576, 9_999_999])
def test_the_pattern_of_greater_numbers_matches_exactly_the_greater_ones(number):
    import re as regex

    from workbench.sources.readers import _greater_digits

    pattern = regex.compile(b"(?:" + _greater_digits(number) + b")")
    for candidate in {*range(max(0, number - 120), number + 120), number * 10, 9_999_999, 1, 10_000_000,
                      9_999_999_999}:
        assert bool(pattern.fullmatch(str(candidate).encode())) == (number < candidate), candidate
