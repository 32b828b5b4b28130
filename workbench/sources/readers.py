"""Read one delivered file into raw string columns, keeping every row accounted for.

Readers run in Python, not in the engine, for three reasons measured on Sail:
the CSV ``encoding`` option is ignored (GBK must be transcoded here), a row that
cannot be parsed must be kept with its raw text and row number for the
quarantine, and the row number must be the one a person sees in the file
(header = row 1, as in Excel).

Every reader returns a :class:`ParsedFile` whose ``rows_read`` equals the rows in
``table`` plus the rows in ``quarantine``; the bronze job checks that. A file that
cannot be read at all, however malformed or hostile (another encoding, a JSON line
nested a hundred thousand deep, nested Parquet columns, random bytes), raises
:class:`RejectedFile` naming the file and the reason, never another exception: one
bad file must not stop the good files delivered beside it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import BinaryIO, Iterator, Sequence, Union

import pyarrow as pa
import pyarrow.compute  # registers pa.compute
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from workbench.sources.contract import RejectedFile, SourceContract

ROW_NUMBER = "_row_number"
_ALTERNATE_ENCODING = {"utf-8": "gbk", "gbk": "utf-8"}
# A byte-order mark says the encoding outright; UTF-16 text decodes as neither UTF-8
# nor GBK line by line, so without this the whole file would be undecodable.
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
REASON_LIMIT = 300  # characters of an underlying error kept in a reason

# What a reader is given: a path, or a file the caller has opened (and checked) already.
Delivery = Union[str, "os.PathLike[str]", BinaryIO]


@dataclass
class ParsedFile:
    table: pa.Table  # contract columns as strings + _row_number
    quarantine: list[dict] = field(default_factory=list)  # row_number, raw_text, reason
    rows_read: int = 0
    notes: list[str] = field(default_factory=list)


@contextmanager
def opened(delivery: Delivery) -> Iterator[BinaryIO]:
    """The delivery as a binary file at its start. A file the caller opened stays open: the
    caller checked that very descriptor and reads it again after (bronze opens each file once)."""
    if isinstance(delivery, (str, os.PathLike)):
        with open(delivery, "rb") as fh:
            yield fh
    else:
        delivery.seek(0)
        yield delivery


def file_sha256(delivery: Delivery) -> str:
    digest = hashlib.sha256()
    with opened(delivery) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _empty_string_table(contract: SourceContract) -> pa.Table:
    return pa.table({**{c: pa.array([], pa.string()) for c in contract.column_names}, ROW_NUMBER: pa.array([], pa.int64())})


def _conform(columns: dict[str, pa.Array], row_numbers: list[int] | pa.Array, contract: SourceContract) -> pa.Table:
    """Contract column order; optional columns the delivery lacked become nulls."""
    n = len(row_numbers)
    data = {}
    for name in contract.column_names:
        arr = columns.get(name)
        data[name] = arr.cast(pa.string()) if arr is not None else pa.nulls(n, pa.string())
    data[ROW_NUMBER] = pa.array(row_numbers, pa.int64())
    return pa.table(data)


# ---- CSV ---------------------------------------------------------------------

def _decode(raw: bytes, encoding: str, file: str, parsed: ParsedFile) -> tuple[str, dict[int, str]]:
    """Text of the file plus {row_number: reason} for lines that could not be decoded."""
    try:
        return raw.decode(encoding), {}
    except UnicodeDecodeError:
        pass
    for bom, bom_encoding in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode(bom_encoding)
            except UnicodeDecodeError:
                break
            parsed.notes.append(f"{file}: delivered in {bom_encoding.upper()} (byte-order mark), "
                                f"contract says {encoding.upper()}; transcoded")
            return text, {}
    other = _ALTERNATE_ENCODING.get(encoding.lower())
    if other:
        try:
            text = raw.decode(other)
            parsed.notes.append(f"{file}: delivered in {other.upper()}, contract says {encoding.upper()}; transcoded")
            return text, {}
        except UnicodeDecodeError:
            pass
    # Neither encoding fits the whole file: keep the lines that decode, quarantine the rest.
    lines, bad = [], {}
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            lines.append(line.decode(encoding))
        except UnicodeDecodeError as exc:
            bad[number] = f"row {number}: bytes not valid {encoding.upper()} at position {exc.start}"
            lines.append(None)  # placeholder keeps numbering
    parsed.notes.append(f"{file}: {len(bad)} line(s) not decodable as {encoding.upper()}")
    return "\n".join(line if line is not None else "" for line in lines), bad


def read_csv(delivery: Delivery, contract: SourceContract, file: str) -> ParsedFile:
    parsed = ParsedFile(table=_empty_string_table(contract))
    with opened(delivery) as fh:
        raw = fh.read()
    text, undecodable = _decode(raw, contract.encoding, file, parsed)
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise RejectedFile(f"{file}: the file is empty")
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    if not any(h.strip() for h in header):
        raise RejectedFile(f"{file}: the first line (the header) is empty or not readable as {contract.encoding.upper()}")
    mapping = contract.map_headers(header, file)
    invalid: dict[int, tuple[str, str]] = {}

    def on_invalid(row: pacsv.InvalidRow) -> str:
        if row.number in undecodable:
            invalid[row.number] = (row.text, undecodable[row.number])
        elif not row.text.strip():
            invalid[row.number] = (row.text, f"row {row.number}: empty line")
        else:
            invalid[row.number] = (
                row.text,
                f"row {row.number}: {row.actual_columns} field(s), expected {row.expected_columns}",
            )
        return "skip"

    names = [f"c{i}" for i in range(len(header))]
    table = pacsv.read_csv(
        io.BytesIO(text.encode("utf-8")),
        read_options=pacsv.ReadOptions(use_threads=False, column_names=names, skip_rows=1, block_size=1 << 26),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            # Only an empty field is missing: pyarrow's default null markers ("N/A", "NULL",
            # "NaN"...) would silently turn what a department typed into a null.
            column_types={n: pa.string() for n in names}, null_values=[""], strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    # pyarrow numbers records physically (the header is record 1), as we do.
    total = table.num_rows + len(invalid)
    good_numbers = [n for n in range(2, total + 2) if n not in invalid]
    # Blank and undecodable lines come through as rows of nulls: quarantine them too.
    all_null = None
    for n in names:
        col_null = pa.compute.is_null(table.column(n))
        all_null = col_null if all_null is None else pa.compute.and_(all_null, col_null)
    drop = [i for i, flag in enumerate(all_null.to_pylist()) if flag] if table.num_rows else []
    if drop:
        for i in drop:
            n = good_numbers[i]
            invalid[n] = ("", undecodable.get(n, f"row {n}: empty line"))
        keep = sorted(set(range(table.num_rows)) - set(drop))
        table = table.take(pa.array(keep, pa.int64()))
        good_numbers = [good_numbers[i] for i in keep]
    columns = {mapping[h]: table.column(n) for h, n in zip(header, names)}
    parsed.table = _conform({k: v.combine_chunks() for k, v in columns.items()}, good_numbers, contract)
    parsed.quarantine = [
        {"row_number": n, "raw_text": text_, "reason": f"{file} {reason}"} for n, (text_, reason) in sorted(invalid.items())
    ]
    parsed.rows_read = total
    return parsed


# ---- Excel -------------------------------------------------------------------

def _cell_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _column_text(values: Sequence[object]) -> list[str | None]:
    """:func:`_cell_text` of every value of one column, with the two common columns (all text,
    all numbers) converted without a call per cell; any other mix goes cell by cell."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if kinds <= {str}:
        return [value or None for value in values]  # "" is no value, as in _cell_text
    if kinds == {float}:
        return [None if value is None else str(int(value)) if value.is_integer() else str(value)
                for value in values]
    return [_cell_text(value) for value in values]


# ---- Excel bounds ------------------------------------------------------------
#
# An xlsx is a zip of XML. calamine allocates a sheet's whole bounding area (A1 to the
# farthest cell named) and inflates every member it reads, so a 1.7 KB workbook whose one
# cell is XFD1048576 asks for 512 GiB and aborts the process, and a deflate bomb inflates a
# 600 MB cell. The members are therefore inflated here first, within bounds, and calamine is
# given only what passed.

XLSX_MAX_INFLATED_BYTES = 1 << 30  # every member together, inflated; a million-row sheet is ~250 MB
XLSX_MAX_RATIO = 100  # inflated / compressed, for members over 1 MiB; sheets run at 5 to 20
XLSX_RATIO_FROM_BYTES = 1 << 20
XLSX_MAX_COLUMNS = 256  # a contract has a dozen columns; Excel allows 16,384
XLSX_MAX_EMPTY_CELLS = 1_000_000  # cells of the bounding area beyond those present
XLSX_MAX_CELL_CHARS = 32_767  # Excel's own limit on a cell
# Any r="A1" names a cell and r="1" a row: only <c> and <row> carry an `r` attribute in a sheet,
# so matching the attribute alone (from its literal start, not the element around it) misses
# nothing and is several times faster; on anything else it is only stricter. One pattern takes
# every row number, cells' and rows'.
_REF_ROW = re.compile(rb'r="[A-Z]{0,3}0*(\d{1,10})"')  # zeros first: calamine reads A0999999 as row 999,999
_REF_COLUMN = re.compile(rb'r="([A-Z]{1,3})\d')
# The sheet's own statement of its extent: calamine reserves room for it before any cell.
_DIMENSION_REF = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\sref="[A-Z]{0,3}\d{0,10}:?([A-Z]{1,3})0*(\d{1,10})"')
_CELL_COUNT = re.compile(rb"<(?:\w+:)?c[\s>/]")
# A text node longer than a cell may hold, even if every character were written as the
# longest XML escape (&quot;, 6 bytes).
_LONG_TEXT = re.compile(rb">[^<]{%d,}" % (XLSX_MAX_CELL_CHARS * 6 + 1))


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _greater_digits(number: int) -> bytes:
    """A regex alternation matching exactly the decimal numbers (no leading zero) greater than
    *number*, up to 10 digits: longer ones, or as long and larger at the first digit that differs."""
    digits = str(number)
    parts = [rb"[1-9]\d{%d,9}" % len(digits)] if len(digits) < 10 else []
    for i, digit in enumerate(digits):
        if digit != "9":
            low = str(int(digit) + 1)
            rest = len(digits) - i - 1
            parts.append(re.escape(digits[:i].encode()) + b"[" + low.encode() + b"-9]" + (rb"\d{%d}" % rest if rest else b""))
    return b"|".join(parts) or rb"(?!)"


def _greater_letters(letters: bytes) -> bytes:
    """The same for column names: longer names (up to 3 letters), or as long and later at the
    first letter that differs."""
    parts = [rb"[A-Z]{%d,3}" % (len(letters) + 1)] if len(letters) < 3 else []
    for i, letter in enumerate(letters):
        if letter != ord("Z"):
            rest = len(letters) - i - 1
            parts.append(letters[:i] + b"[" + bytes([letter + 1]) + b"-Z]" + (rb"[A-Z]{%d}" % rest if rest else b""))
    return b"|".join(parts) or rb"(?!)"


_LAST_ROW_ELEMENT = re.compile(rb'<(?:\w+:)?row\b[^>]*?\sr="(\d{1,7})"[^>]*>(.*?)(?:</(?:\w+:)?row>|$)', re.DOTALL)
_PREFIXED_CELL = re.compile(rb"<\w+:c[\s>/]")


def _sheet_extent(xml: bytes) -> tuple[int, int, int]:
    """The last row and column any cell or row names, and how many cells are present.

    A sheet as writers make it names its farthest row and column in its last row. That guess is
    taken, then one pass in C looks for any reference beyond it (a pattern built from the guess);
    only a sheet that has one (hand-made, reordered or hostile) is walked reference by reference.
    Matching every reference, 360,000 of them in one of medium's workbooks, was 40 % of reading it."""
    start = xml.rfind(b"<row ")
    prefixed = _PREFIXED_CELL.search(xml) is not None
    last = _LAST_ROW_ELEMENT.match(xml, start) if start >= 0 and not prefixed else None
    if last is not None:
        row = int(last.group(1))
        columns = _REF_COLUMN.findall(last.group(2))
        column = max(columns, key=lambda c: (len(c), c)) if columns else b""
        # a number written with leading zeros (r="A0999999") is read as the number by the full walk
        # and by calamine, and is beyond any pattern of greater numbers: it sends the sheet there
        beyond = re.compile(rb'r="(?:[A-Z]{0,3}(?:0|' + _greater_digits(row) + rb')|(?:' + _greater_letters(column)
                            + rb')\d)')
        dimension_beyond = any(int(r) > row or _column_number(c) > _column_number(column)
                               for c, r in _DIMENSION_REF.findall(xml))
        if not dimension_beyond and beyond.search(xml) is None:
            present = xml.count(b"<c ") + xml.count(b"<c>") + xml.count(b"<c/")
            return row, _column_number(column), present  # b"" is column 0: no cell at all
    return _sheet_extent_by_every_reference(xml)


def _sheet_extent_by_every_reference(xml: bytes) -> tuple[int, int, int]:
    dimension = _DIMENSION_REF.findall(xml)
    last_row = max(map(int, [*_REF_ROW.findall(xml), *(row for _, row in dimension)]), default=0)
    last_column = max(map(_column_number, {*_REF_COLUMN.findall(xml), *(letters for letters, _ in dimension)}),
                      default=0)
    return last_row, last_column, len(_CELL_COUNT.findall(xml))


def _check_sheet(name: str, xml: bytes, file: str) -> None:
    """Refuse a sheet whose bounding area or one of whose text nodes breaks a bound."""
    last_row, last_column, present = _sheet_extent(xml)
    if last_column > XLSX_MAX_COLUMNS:
        raise RejectedFile(f"{file}: sheet {name} reaches column {last_column}; the bound is {XLSX_MAX_COLUMNS} "
                           "columns (xlsx sheet dimensions)")
    area = last_row * max(last_column, 1)
    if area - present > XLSX_MAX_EMPTY_CELLS:
        raise RejectedFile(f"{file}: sheet {name} spans {last_row:,} rows x {last_column} columns for {present:,} "
                           f"cells; the bound is {XLSX_MAX_EMPTY_CELLS:,} empty cells (xlsx sheet dimensions)")
    _check_text_length(name, xml, file)


def _check_text_length(name: str, xml: bytes, file: str) -> None:
    if _LONG_TEXT.search(xml):
        raise RejectedFile(f"{file}: {name} holds a text longer than {XLSX_MAX_CELL_CHARS:,} characters, "
                           "Excel's limit for a cell (xlsx cell size)")


def bounded_workbook(delivery: Delivery, file: str) -> io.BytesIO:
    """The workbook rebuilt from members inflated within the bounds above (raises
    :class:`RejectedFile` naming the file and the bound it breaks). Rebuilt, not passed on:
    a member's stated size can lie, and only what was inflated here is known to fit."""
    with opened(delivery) as fh:
        try:
            archive = zipfile.ZipFile(fh)
            members = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise RejectedFile(f"{file}: not a readable Excel workbook ({_short(exc)})") from None
        stated = sum(m.file_size for m in members)
        if stated > XLSX_MAX_INFLATED_BYTES:
            raise RejectedFile(f"{file}: its members inflate to {stated:,} bytes; the bound is "
                               f"{XLSX_MAX_INFLATED_BYTES:,} (xlsx inflated size)")
        for member in members:
            if member.file_size > XLSX_RATIO_FROM_BYTES and member.file_size > XLSX_MAX_RATIO * max(member.compress_size, 1):
                raise RejectedFile(f"{file}: {member.filename} inflates {member.file_size / max(member.compress_size, 1):,.0f} "
                                   f"times; the bound is {XLSX_MAX_RATIO} (xlsx compression ratio)")
        rebuilt = io.BytesIO()
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_STORED) as out:
            for member in members:
                try:
                    # zipfile stops at the stated size and checks the CRC: what comes out is
                    # at most what the bounds above allowed
                    data = archive.read(member)
                except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
                        RuntimeError) as exc:
                    raise RejectedFile(f"{file}: not a readable Excel workbook ({_short(exc)})") from None
                if member.filename.startswith("xl/worksheets/"):
                    _check_sheet(member.filename, data, file)
                elif member.filename == "xl/sharedStrings.xml":  # texts, no cells: only their length
                    _check_text_length(member.filename, data, file)
                out.writestr(member.filename, data)
    rebuilt.seek(0)
    return rebuilt


def read_xlsx(delivery: Delivery, contract: SourceContract, file: str) -> ParsedFile:
    from python_calamine import CalamineWorkbook

    parsed = ParsedFile(table=_empty_string_table(contract))
    workbook = bounded_workbook(delivery, file)
    try:
        sheet = CalamineWorkbook.from_filelike(workbook).get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
    except Exception as exc:  # a corrupt workbook is rejected whole
        raise RejectedFile(f"{file}: not a readable Excel workbook ({_short(exc)})") from None
    if not rows:
        raise RejectedFile(f"{file}: the workbook's first sheet is empty")
    header = [str(h) if h is not None else "" for h in rows[0]]
    while header and header[-1] == "":
        header.pop()
    mapping = contract.map_headers(header, file)
    width = len(header)
    data = rows[1:]
    sheet_width = max(width, max((len(r) for r in data), default=0))
    # Column by column: a column is nearly always all text or all numbers, and converting it in
    # one comprehension costs a fraction of a call per cell (landing medium's social insurance
    # workbooks spent most of its 117 s on those calls). Rows are then walked as tuples.
    texts = [_column_text(column) for column in zip(*(
        row if len(row) == sheet_width else [*row, *[None] * (sheet_width - len(row))] for row in data))]
    kept: list[int] = []
    for offset, cells in enumerate(zip(*texts)):
        if not any(cells):  # every cell is None or a non-empty text: Excel's trailing blank rows
            continue
        if sheet_width > width and any(cells[width:]):
            extra = [c for c in cells[width:] if c is not None]
            parsed.quarantine.append({"row_number": offset + 2, "raw_text": "\t".join(c or "" for c in cells),
                                      "reason": f"{file} row {offset + 2}: {len(extra)} value(s) beyond the header"})
            continue
        kept.append(offset)
    numbers = [offset + 2 for offset in kept]
    if not data:
        cols: list[list[str | None]] = [[] for _ in range(width)]
    elif len(kept) == len(data):
        cols = texts[:width]
    else:
        cols = [[column[offset] for offset in kept] for column in texts[:width]]
    columns = {mapping[h]: pa.array(cols[i], pa.string()) for i, h in enumerate(header)}
    parsed.table = _conform(columns, numbers, contract)
    parsed.rows_read = len(numbers) + len(parsed.quarantine)
    return parsed


# ---- JSON lines --------------------------------------------------------------

def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def read_jsonl(delivery: Delivery, contract: SourceContract, file: str) -> ParsedFile:
    parsed = ParsedFile(table=_empty_string_table(contract))
    records: list[dict] = []
    numbers: list[int] = []
    keys: set[str] = set()
    with opened(delivery) as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue  # a blank line is not a record
            try:
                record = json.loads(line.decode("utf-8"))
            except (ValueError, RecursionError) as exc:
                # ValueError covers bad JSON, bad UTF-8 and integers past Python's digit limit;
                # RecursionError a line nested deeper than the parser's stack.
                parsed.quarantine.append({"row_number": number, "raw_text": line.decode("utf-8", "replace"),
                                          "reason": f"{file} row {number}: not valid JSON ({_short(exc)})"})
                continue
            if not isinstance(record, dict):
                parsed.quarantine.append({"row_number": number, "raw_text": line.decode("utf-8", "replace"),
                                          "reason": f"{file} row {number}: a JSON {type(record).__name__}, not an object"})
                continue
            keys.update(record)
            records.append(record)
            numbers.append(number)
    if not records and not parsed.quarantine:
        raise RejectedFile(f"{file}: the file is empty")
    mapping = contract.map_headers(sorted(keys), file) if records else {}
    columns = {
        col: pa.array([_json_text(r.get(key)) for r in records], pa.string()) for key, col in mapping.items()
    }
    parsed.table = _conform(columns, numbers, contract)
    parsed.rows_read = len(records) + len(parsed.quarantine)
    return parsed


# ---- Parquet -----------------------------------------------------------------

def _arrow_text(column: pa.ChunkedArray) -> pa.Array:
    """A delivered Parquet column as text. Lists, structs and maps become JSON, bytes that
    are not UTF-8 their hex: bronze keeps what was delivered, typing happens in silver."""
    column = column.combine_chunks()
    try:
        return column.cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        pass

    def text(value: object) -> str | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return value.hex()
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, default=str)

    return pa.array([text(v) for v in column.to_pylist()], pa.string())


def read_parquet(delivery: Delivery, contract: SourceContract, file: str) -> ParsedFile:
    try:
        with opened(delivery) as fh:
            table = pq.read_table(fh)
    except Exception as exc:
        raise RejectedFile(f"{file}: not a readable Parquet file ({_short(exc)})") from None
    if len(set(table.column_names)) != len(table.column_names):
        raise RejectedFile(f"{file}: the Parquet file names a column twice: {table.column_names}")
    mapping = contract.map_headers(table.column_names, file)
    columns = {col: _arrow_text(table.column(h)) for h, col in mapping.items()}
    parsed = ParsedFile(table=_conform(columns, list(range(1, table.num_rows + 1)), contract))
    parsed.rows_read = table.num_rows
    return parsed


READERS = {"csv": read_csv, "xlsx": read_xlsx, "jsonl": read_jsonl, "parquet": read_parquet}


def _short(exc: BaseException) -> str:
    """An error as a bounded reason: some parsers quote whole lines of the file."""
    text = f"{exc.__class__.__name__}: {exc}"
    return text if len(text) <= REASON_LIMIT else text[:REASON_LIMIT] + "..."


def is_panic(exc: BaseException) -> bool:
    """A Rust panic inside a native reader: pyo3 raises it as ``PanicException``, a
    BaseException, so ``except Exception`` lets it through and it stops the landing."""
    return type(exc).__name__ == "PanicException"


def read_delivery(delivery: Delivery, contract: SourceContract, file: str | None = None) -> ParsedFile:
    """Parse one delivered file; raises RejectedFile, and only RejectedFile, when it cannot be used."""
    name = file or str(delivery)
    try:
        parsed = READERS[contract.format](delivery, contract, name)
    except RejectedFile:
        raise
    except Exception as exc:  # any malformed file is rejected, never fatal (RecursionError included)
        raise RejectedFile(f"{name}: not readable as {contract.format} ({_short(exc)})") from None
    except BaseException as exc:
        if not is_panic(exc):
            raise  # KeyboardInterrupt, SystemExit: the process is being stopped
        raise RejectedFile(f"{name}: not readable as {contract.format} (the reader panicked: {_short(exc)})") from None
    if parsed.rows_read != parsed.table.num_rows + len(parsed.quarantine):
        raise RejectedFile(f"{name}: the {contract.format} reader accounted for {parsed.table.num_rows} + "
                           f"{len(parsed.quarantine)} of {parsed.rows_read} rows")
    return parsed
