"""The one way the project writes CSV and Excel files that people open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read by Excel, LibreOffice and WPS as a formula: a delivered code such as
``=HYPERLINK("http://…"&A1,"…")`` that reached a released file would run in every reader's
spreadsheet (CSV or formula injection). Every CSV and xlsx the project writes goes through
:func:`csv_bytes` and :func:`xlsx_bytes`, which neutralise such cells where they are written:

* CSV follows OWASP's rule: the cell is prefixed with a single quote, which spreadsheets
  show as text and do not evaluate. A cell that is a plain number (``-12.5``, ``+3``) is
  left alone: it is data, and a quote would turn it into text.
* xlsx needs no quote: a cell stored as a string is never evaluated, so text that openpyxl
  would have stored as a formula (it treats every string starting with ``=`` as one) is
  stored as the string it is, and the reader sees the text unchanged.

Pure functions on pandas frames; no I/O beyond the returned bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping

import pandas as pd

# What spreadsheets evaluate when a cell starts with it (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?")


def neutralised(value: object) -> object:
    """*value* made safe to open in a spreadsheet from a CSV (OWASP: a leading quote)."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value.strip()):
        return "'" + value
    return value


def neutralised_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """*frame* with every text cell and heading :func:`neutralised`; numbers untouched."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[column] = series.map(neutralised)
    out.columns = [neutralised(str(c)) if isinstance(c, str) else c for c in out.columns]
    return out


def csv_bytes(frame: pd.DataFrame, *, bom: bool = True) -> bytes:
    """*frame* as CSV without formulas; UTF-8 with a BOM by default, so Excel on Chinese
    Windows reads the text as UTF-8 (machine formats such as SDMX-CSV pass ``bom=False``).

    Rows end in CRLF (RFC 4180): Python's writer quotes a field only for the characters of
    its line ending, so with a bare LF a carriage return inside a cell went unquoted and
    started a new row in a spreadsheet, whose first cell (``=1+1``) was then a formula."""
    text = neutralised_frame(frame).to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8-sig" if bom else "utf-8")


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame], *, header: Mapping[str, bool] | None = None) -> bytes:
    """One workbook, a sheet per ``name -> frame`` in order, where no cell is a formula.

    *header* says per sheet whether its column names are written (default yes).
    """
    from openpyxl.cell.cell import TYPE_FORMULA, TYPE_STRING

    header = header or {}
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        for name, frame in sheets.items():
            frame.to_excel(xl, sheet_name=name, index=False, header=header.get(name, True))
        for sheet in xl.book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.data_type == TYPE_FORMULA:
                        cell.data_type = TYPE_STRING
    return buf.getvalue()
