"""Why rows were quarantined, grouped by cause.

A quarantine reason names the file and the row (``vat/vat_2018-03.csv row 804: field 销售额
(sales_amount): '#VALUE!' is not a valid decimal``), so no two reasons are alike and a filter on
the reason text filters nothing. :func:`cause_of` separates the cause (a code, the field and the
expected type) from that detail; :func:`causes` counts rows per cause. The reason texts are
written by the bronze readers and the silver typing step; the patterns below follow them and
anything else falls in ``other`` with its text, so a new wording is visible, not lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

# (code, pattern): the first that matches wins. Groups: field = the contract column, type = expected type.
_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("file_rejected", re.compile(r"^file rejected: (?P<detail>[^:]+):")),
    ("invalid_value", re.compile(r"field (?P<header>.+?) \((?P<field>[^)]+)\): "
                                  r"(?:'.*'|the value \(personal, not shown\)) is not a valid (?P<type>\w+)")),
    ("not_in_codelist", re.compile(r"field (?P<header>.+?) \((?P<field>[^)]+)\): "
                                    r"(?:'.*'|the value \(personal, not shown\)) is not a code of the (?P<type>\w+) code list")),
    ("required_empty", re.compile(r"required field (?P<header>.+?) \((?P<field>[^)]+)\) is empty")),
    ("field_count", re.compile(r"row \d+: \d+ field\(s\), expected (?P<type>\d+)")),
    ("extra_values", re.compile(r"row \d+: \d+ value\(s\) beyond the header")),
    ("invalid_json", re.compile(r"row \d+: not valid JSON")),
    ("not_object", re.compile(r"row \d+: a JSON \w+, not an object")),
    ("undecodable", re.compile(r"bytes not valid (?P<type>[\w-]+)")),
)
CAUSE_CODES = tuple(code for code, _ in _PATTERNS) + ("other",)


@dataclass(frozen=True)
class Cause:
    """One cause of quarantine: a code, the field it concerns, the expected type or count."""

    code: str
    field: str = ""
    header: str = ""
    expected: str = ""
    text: str = ""  # for "other": the reason with its file and row taken off

    @property
    def key(self) -> str:
        """A stable identifier of the cause (``invalid_value:sales_amount:decimal``)."""
        return ":".join(p for p in (self.code, self.field, self.expected, self.text) if p)


_WHERE = re.compile(r"^\S+ row \d+: ")


def cause_of(reason: str | None) -> Cause:
    """The cause of one quarantine *reason* (file and row left out)."""
    text = reason or ""
    for code, pattern in _PATTERNS:
        m = pattern.search(text)
        if m:
            groups = m.groupdict()
            # a file rejected whole: the cause is the file, every row of it shares it
            return Cause(code, groups.get("field") or "", groups.get("header") or "",
                         groups.get("type") or groups.get("detail") or "")
    return Cause("other", text=_WHERE.sub("", text)[:200])


def causes(reason_counts: pd.DataFrame) -> pd.DataFrame:
    """Rows per cause, largest first, from a frame of ``reason`` and ``count`` (distinct reasons
    with their row counts, as the engine groups them). Columns: cause (key), code, field,
    header, expected, text, rows, reasons (the distinct reasons of the cause)."""
    rows: dict[str, dict] = {}
    for reason, count in zip(reason_counts["reason"], reason_counts["count"]):
        c = cause_of(reason)
        row = rows.setdefault(c.key, {"cause": c.key, "code": c.code, "field": c.field, "header": c.header,
                                      "expected": c.expected, "text": c.text, "rows": 0, "reasons": []})
        row["rows"] += int(count)
        row["reasons"].append(reason)
    out = pd.DataFrame(list(rows.values()),
                       columns=["cause", "code", "field", "header", "expected", "text", "rows", "reasons"])
    return out.sort_values(["rows", "cause"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


__all__ = ["Cause", "CAUSE_CODES", "cause_of", "causes"]
