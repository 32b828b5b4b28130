"""Byte-exact, deterministic file writers: CSV (any encoding), a minimal .xlsx
(no timestamps, so reruns are byte-identical), JSON lines and Parquet."""

from __future__ import annotations

import hashlib
import os
import zipfile
from typing import Iterable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _csv_field(value: str) -> str:
    if "," in value or '"' in value or "\n" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_line(values: Sequence[str]) -> str:
    # Most lines need no quoting: joined as they are, a line holding exactly one comma
    # fewer than its fields and no quote or line break had none to quote (a third of the
    # medium demo's generation went to checking every field on its own).
    line = ",".join(values)
    if line.count(",") == len(values) - 1 and '"' not in line and "\n" not in line:
        return line
    return ",".join(_csv_field(v) for v in values)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]], encoding: str) -> bytes:
    """RFC 4180 CSV with CRLF line ends (as departments' Windows exports have)."""
    lines = [_csv_line(header)]
    lines.extend(map(_csv_line, rows))
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def write_bytes(path: str, data: bytes) -> str:
    """Write and return the sha256 hex digest."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _xml_escape(s: str) -> str:
    if "&" in s or "<" in s or ">" in s:
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s


def _col_letter(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>')
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '</Relationships>')
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '</Relationships>')


def xlsx_write(path: str, sheet: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """One-sheet workbook; str cells as inline strings, int/float as numbers.

    Written by hand because openpyxl and xlsxwriter stamp the creation time
    (reruns would differ) and are several times slower on 10^5-row sheets.
    """
    letters = [_col_letter(i) for i in range(len(header))]
    sheet_head = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                  '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')

    def row_xml(n: int, values: Sequence[object]) -> str:
        cells = []
        for col, v in zip(letters, values):
            if v is None or v == "":
                continue
            if isinstance(v, str):
                cells.append(f'<c r="{col}{n}" t="inlineStr"><is><t>{_xml_escape(v)}</t></is></c>')
            else:
                cells.append(f'<c r="{col}{n}"><v>{v}</v></c>')
        return f'<row r="{n}">{"".join(cells)}</row>'

    workbook = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                f'<sheets><sheet name="{_xml_escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>')
    os.makedirs(os.path.dirname(path), exist_ok=True)

    def info(name: str) -> zipfile.ZipInfo:
        entry = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
        entry.compress_type = zipfile.ZIP_DEFLATED
        entry._compresslevel = 1  # ZipFile.open ignores the archive's level; level 1 is 3x faster than 6
        return entry

    with zipfile.ZipFile(path, "w") as zf:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                           ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", _WB_RELS)):
            zf.writestr(info(name), text.encode("utf-8"))
        # The sheet is streamed in blocks of rows: a million-row sheet built as one
        # string would hold the whole XML (several hundred MB) in memory three times.
        with zf.open(info("xl/worksheets/sheet1.xml"), "w", force_zip64=True) as sheet_xml:
            sheet_xml.write(sheet_head.encode("utf-8") + row_xml(1, list(header)).encode("utf-8"))
            block: list[str] = []
            for i, r in enumerate(rows):
                block.append(row_xml(i + 2, r))
                if len(block) == 20_000:
                    sheet_xml.write("".join(block).encode("utf-8"))
                    block = []
            sheet_xml.write(("".join(block) + "</sheetData></worksheet>").encode("utf-8"))
    return sha256_file(path)


def parquet_write(path: str, table: pa.Table) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(table, path, compression="zstd")
    return sha256_file(path)
