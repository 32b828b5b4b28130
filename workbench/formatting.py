"""One formatting layer for every table, chart and export: a variable's label, unit and precision.

What a number means lives in one place, ``conf/catalog.toml``:

* ``[columns.<name>]`` describes a column wherever it appears (``vat_sales`` is the same
  variable in the panel, a release and a chart): labels and descriptions in both
  languages, the unit it is stored in, the unit it is shown in and the decimals;
* ``[indicators."<pattern>"]`` describes the monthly indicator series (a ``*`` in the
  name is a code, e.g. ``card_spending_mcc_*``; ``{code}`` in the label takes its name);
* ``[codelists.<dimension>]`` names the codes of a dimension (G City's districts and
  townships; GB/T 4754 sections come from :mod:`workbench.classification`).

Units (:data:`UNITS`) say how a stored value becomes a shown one: money stored in yuan
is shown in 万元 with one decimal when the variable says so; a share stored as a
fraction is shown in per cent with one decimal (CVs and pass rates to 0.1 %).

Everything here is pure: values, frames and the UI language in, strings or frames
out. The app turns :class:`ColumnFormat` into Streamlit column settings; exports use
:func:`export_frame`; charts use :func:`chart_locale` for month names in the language.
"""

from __future__ import annotations

import fnmatch
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from workbench.classification import SECTIONS
from workbench.config import REPO_ROOT
from workbench.spreadsheets import csv_bytes, xlsx_bytes

CATALOG_FILE = REPO_ROOT / "conf" / "catalog.toml"
TOTAL_CODE = "_T"


@dataclass(frozen=True)
class Unit:
    """A unit: *factor* of its base unit (万元 = 1e4 yuan, % = 0.01 of a fraction), label in each language."""

    code: str
    zh: str
    en: str
    factor: float = 1.0
    decimals: int = 0
    percent: bool = False
    sdmx: str = ""  # SDMX UNIT_MEASURE code (with UNIT_MULT = log10 of factor for money and energy)

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


# The units of the lake's variables. A stored unit and a shown unit are both codes here:
# a variable stored in "yuan" may be shown in "10k_yuan" (scale 1e4, like every Chinese
# statistical yearbook shows business totals).
UNITS: dict[str, Unit] = {u.code: u for u in (
    Unit("yuan", "元", "yuan", sdmx="CNY"),
    Unit("10k_yuan", "万元", "10k yuan", factor=1e4, decimals=1, sdmx="CNY"),
    Unit("100m_yuan", "亿元", "100m yuan", factor=1e8, decimals=2, sdmx="CNY"),
    Unit("persons", "人", "persons", sdmx="PS"),
    Unit("kWh", "千瓦时", "kWh", sdmx="KWH"),
    Unit("10k_kWh", "万千瓦时", "10k kWh", factor=1e4, decimals=1, sdmx="KWH"),
    Unit("ads", "条", "ads", sdmx="NUMBER"),
    Unit("enterprises", "家", "enterprises", sdmx="NUMBER"),
    Unit("count", "个", "count"),
    Unit("months", "月", "months"),
    Unit("rows", "行", "rows"),
    Unit("seconds", "秒", "s", decimals=1),
    Unit("fraction", "", "", decimals=3),
    Unit("percent", "%", "%", factor=0.01, decimals=1, percent=True, sdmx="PT"),  # 1 % = 0.01 of a fraction
    Unit("percent_points", "个百分点", "pp", factor=0.01, decimals=2),  # a change of 1 pp = 0.01 of a fraction
    Unit("index", "指数", "index", decimals=1, sdmx="IX"),
    Unit("ratio", "", "", decimals=2),
    Unit("score", "分", "points", decimals=1),
    Unit("weight", "", "", decimals=1),
    Unit("pvalue", "", "", decimals=3),
    Unit("number", "", "", decimals=2),
    Unit("", "", "", decimals=2),
)}
# Spellings found in the lake's own ``unit`` columns, mapped to a unit above.
UNIT_ALIASES = {"index, first month = 100": "index", "元": "yuan", "万元": "10k_yuan", "人": "persons",
                "%": "percent", "kwh": "kWh"}

def unit_code(text: object) -> str:
    """The unit code of a unit as a table writes it (``亿元`` -> ``100m_yuan``, ``persons``
    stays), or "" when no unit is known by that name."""
    said = "" if missing(text) else str(text).strip()
    code = UNIT_ALIASES.get(said, said)
    return code if code in UNITS else next((u.code for u in UNITS.values() if said and said in (u.zh, u.en)), "")


# GB/T 4754-2017 section names in English (the Chinese ones are in workbench.classification).
SECTION_NAMES_EN = {
    "A": "Agriculture, forestry, animal husbandry and fishery", "B": "Mining", "C": "Manufacturing",
    "D": "Electricity, heat, gas and water supply", "E": "Construction", "F": "Wholesale and retail trade",
    "G": "Transport, storage and post", "H": "Accommodation and catering",
    "I": "Information transmission, software and IT services", "J": "Finance", "K": "Real estate",
    "L": "Leasing and business services", "M": "Scientific research and technical services",
    "N": "Water conservancy, environment and public facilities", "O": "Residents' services and repairs",
    "P": "Education", "Q": "Health and social work", "R": "Culture, sports and entertainment",
    "S": "Public administration, social security and social organisations", "T": "International organisations",
}
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Variable:
    """What one column or indicator is: labels, descriptions, stored and shown unit, decimals."""

    name: str
    label_zh: str = ""
    label_en: str = ""
    description_zh: str = ""
    description_en: str = ""
    unit: str = ""          # as stored
    display_unit: str = ""  # as shown ("" = as stored)
    decimals: int | None = None
    codelist: str = ""      # the dimension whose names label this column's codes
    kind: str = ""          # "month", "date", "code", "text" or "" (a number)
    nonnegative: bool = False  # a value below zero is impossible (a total of sales, a headcount)

    def label(self, lang: str) -> str:
        return (self.label_zh if lang == "zh" else self.label_en) or self.label_en or self.name

    def description(self, lang: str) -> str:
        return (self.description_zh if lang == "zh" else self.description_en) or self.description_en

    @property
    def shown_unit(self) -> Unit:
        code = self.display_unit or self.unit
        return UNITS.get(UNIT_ALIASES.get(code, code), UNITS[""])

    @property
    def stored_unit(self) -> Unit:
        return UNITS.get(UNIT_ALIASES.get(self.unit, self.unit), UNITS[""])

    @property
    def scale(self) -> float:
        """Shown value = stored value * scale (yuan -> 万元: 1e-4; a fraction -> %: 100)."""
        return self.stored_unit.factor / self.shown_unit.factor

    @property
    def places(self) -> int:
        return self.shown_unit.decimals if self.decimals is None else self.decimals

    @property
    def numeric(self) -> bool:
        return self.kind == ""

    def heading(self, lang: str) -> str:
        """Label with the shown unit: ``增值税销售额（万元）`` / ``VAT sales (10k yuan)``."""
        unit = self.shown_unit.label(lang)
        if not unit or not self.numeric:
            return self.label(lang)
        return f"{self.label(lang)}（{unit}）" if lang == "zh" else f"{self.label(lang)} ({unit})"


@dataclass(frozen=True)
class Registry:
    """The variables, indicators and code lists of ``conf/catalog.toml``."""

    columns: dict[str, Variable]
    indicators: dict[str, Variable]
    codelists: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)

    def column(self, name: str) -> Variable | None:
        return self.columns.get(name)

    def indicator(self, name: str) -> Variable:
        """The indicator *name*; a pattern entry fills ``{code}`` with the code's label."""
        if name in self.indicators:
            return self.indicators[name]
        for pattern, var in self.indicators.items():
            if "*" in pattern and fnmatch.fnmatchcase(name, pattern):
                code = name[len(pattern.split("*")[0]):]
                names = self.codelists.get(var.codelist, {})
                zh, en = names.get(code, (code, code))
                return Variable(name, var.label_zh.format(code=zh), var.label_en.format(code=en),
                                var.description_zh, var.description_en, var.unit, var.display_unit, var.decimals)
        return Variable(name, name, name)

    def code_name(self, dimension: str, code: object, lang: str) -> str:
        """The name of *code* (``制造业``); a total says total; an unknown code has no name ("")."""
        if missing(code):
            return ""
        text = str(code)
        if text in (TOTAL_CODE, "total"):
            return "合计" if lang == "zh" else "Total"
        zh, en = self.codelists.get(dimension, {}).get(text, ("", ""))
        return zh if lang == "zh" else en

    def code_label(self, dimension: str, code: object, lang: str) -> str:
        """``C 制造业``, ``660102 中山区``; a total code says total; an unknown code stays itself."""
        if missing(code):
            return ""
        text, name = str(code), self.code_name(dimension, code, lang)
        if text in (TOTAL_CODE, "total"):
            return name
        return f"{text} {name}" if name else text


def _variable(name: str, spec: Mapping) -> Variable:
    return Variable(name, str(spec.get("label_zh", "")), str(spec.get("label_en", "")),
                    str(spec.get("description_zh", "")), str(spec.get("description_en", "")),
                    str(spec.get("unit", "")), str(spec.get("display_unit", "")),
                    None if spec.get("decimals") is None else int(spec["decimals"]),
                    str(spec.get("codelist", "")), str(spec.get("kind", "")), bool(spec.get("nonnegative", False)))


@lru_cache(maxsize=4)
def registry(path: Path = CATALOG_FILE) -> Registry:
    """The registry read once from *path* (``conf/catalog.toml``)."""
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    codelists: dict[str, dict[str, tuple[str, str]]] = {
        "industry_section": {s: (zh, SECTION_NAMES_EN.get(s, zh)) for _, _, s, zh in SECTIONS}}
    for dim, codes in (raw.get("codelists") or {}).items():
        codelists.setdefault(dim, {}).update(
            {str(c): (str(v["zh"]), str(v.get("en", v["zh"]))) if isinstance(v, dict) else (str(v), str(v))
             for c, v in codes.items()})
    # "any": a domain column may hold a section, a district or a township code
    codelists["any"] = {c: n for dim in ("industry_section", "county_code", "township_code")
                        for c, n in codelists.get(dim, {}).items()}
    return Registry(
        columns={n: _variable(n, s) for n, s in (raw.get("columns") or {}).items()},
        indicators={n: _variable(n, s) for n, s in (raw.get("indicators") or {}).items()},
        codelists=codelists,
    )


# ---- values ----------------------------------------------------------------------

def missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def format_number(value: object, decimals: int = 0, lang: str = "zh") -> str:
    """``1,234,567.8``: thousands separators (the same in Chinese and English statistical
    publications), fixed decimals, a dash for a missing value."""
    if missing(value):
        return "—"
    # half up, as published tables round (Python's format rounds 1234.5 to 1234)
    exact = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return f"{exact:,.{decimals}f}"


def format_percent(fraction: object, decimals: int = 1, lang: str = "zh") -> str:
    """A fraction as per cent: ``0.0734`` -> ``7.3%``."""
    return "—" if missing(fraction) else f"{format_number(100 * float(fraction), decimals, lang)}%"


def format_value(value: object, variable: Variable | str, lang: str = "zh", with_unit: bool = True) -> str:
    """A stored value in the variable's shown unit and precision: ``12,345.6 万元``."""
    var = variable if isinstance(variable, Variable) else (registry().column(variable) or Variable(variable))
    if missing(value):
        return "—"
    shown = float(value) * var.scale
    unit = var.shown_unit
    if unit.percent:
        return f"{format_number(shown, var.places, lang)}%"
    text = format_number(shown, var.places, lang)
    label = unit.label(lang)
    return f"{text} {label}" if with_unit and label else text


_DETAIL_PAIR = re.compile(r"^\s*(?P<name>[A-Za-z_][\w]*)=(?P<value>.*?)\s*$")


def detail_text(detail: object, lang: str = "zh", reg: Registry | None = None) -> str:
    """A quality rule's detail (``revenue_10k=1660128.46, vat_sales=1653964.29``: the values the
    rule looked at, as the engine wrote them) as a reader reads it: each value under its
    variable's label in its shown unit (``上报营业收入 1,660,128.5 万元；增值税销售额 165.4 万元``).
    A previous period's value (``prev_``) says so; a part that is not ``name=number`` stays as
    written, so nothing is hidden."""
    if missing(detail) or not str(detail).strip():
        return ""
    reg = reg or registry()
    parts = []
    for part in str(detail).split(", "):
        found = _DETAIL_PAIR.match(part)
        if not found:
            parts.append(part)
            continue
        name, value = found["name"], found["value"]
        previous = name.startswith("prev_")
        var = reg.column(name[5:] if previous else name)
        if value in ("true", "false"):  # a check the rule looked at (credit_code_valid=false)
            from workbench.i18n import translate

            label = var.label(lang) if var is not None else name
            answer = translate("common.yes" if value == "true" else "common.no", lang)
            parts.append(f"{label}{'：' if lang == 'zh' else ': '}{answer}")
            continue
        try:
            number = float(value)
        except ValueError:
            number = None
        if var is None or number is None:
            parts.append(part)
            continue
        label = var.label(lang)
        if previous:
            label = f"上期{label}" if lang == "zh" else f"{label}, previous period"
        shown = format_value(number, var, lang) if var.numeric else value
        parts.append(f"{label} {shown}")
    return ("；" if lang == "zh" else "; ").join(parts)


def format_money(yuan: object, lang: str = "zh", unit: str = "yuan") -> str:
    """Money stored in yuan, shown in *unit* (``yuan``, ``10k_yuan`` or ``100m_yuan``)."""
    return format_value(yuan, Variable("money", unit="yuan", display_unit=unit), lang)


def _as_date(value: object) -> date | None:
    if missing(value):
        return None
    if isinstance(value, pd.Period):
        return value.start_time.date()
    if isinstance(value, (datetime, pd.Timestamp)):
        return value.date() if not isinstance(value, pd.Timestamp) else value.to_pydatetime().date()
    if isinstance(value, date):
        return value
    text = str(value)
    m = re.match(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}))?", text)
    if not m:
        return None
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))


_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$")


def format_quarter(value: object, lang: str = "zh") -> str | None:
    """A quarter (``2026Q2``, as quarterly series such as GDP are stored) in the language:
    ``2026年第2季度`` / ``Q2 2026``; None when *value* is not a quarter."""
    if isinstance(value, pd.Period):
        value = str(value) if value.freqstr.startswith("Q") else ""
    m = _QUARTER.match(str(value).strip()) if not missing(value) else None
    if not m:
        return None
    return f"{m.group(1)}年第{m.group(2)}季度" if lang == "zh" else f"Q{m.group(2)} {m.group(1)}"


def format_month(value: object, lang: str = "zh") -> str:
    """A month with its year, in the language: ``2026年8月`` / ``Aug 2026``; a quarterly
    series' period as its quarter (``2026年第2季度`` / ``Q2 2026``), never as a month."""
    quarter = format_quarter(value, lang)
    if quarter is not None:
        return quarter
    d = _as_date(value)
    if d is None:
        return "—" if missing(value) else str(value)
    return f"{d.year}年{d.month}月" if lang == "zh" else f"{MONTHS_EN[d.month - 1]} {d.year}"


def format_date(value: object, lang: str = "zh") -> str:
    d = _as_date(value)
    if d is None:
        return "—" if missing(value) else str(value)
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else f"{d.day} {MONTHS_EN[d.month - 1]} {d.year}"


def bilingual(text: str, lang: str) -> str:
    """``市场监督管理局 (Market Regulation Bureau)``: the part in the UI language."""
    m = re.match(r"^(.*?)\s*\(([^()]*)\)\s*$", text or "")
    if not m or not re.search(r"[\u4e00-\u9fff]", m.group(1)):
        return text
    return m.group(1) if lang == "zh" else m.group(2)


def reference_period(periods: Iterable[object], lang: str = "zh") -> str:
    """The months a table covers: ``2026年8月`` or ``2025年1月至2026年8月``."""
    months = sorted({d.replace(day=1) for p in periods if (d := _as_date(p)) is not None})
    if not months:
        return ""
    first, last = format_month(months[0], lang), format_month(months[-1], lang)
    if first == last:
        return first
    return f"{first}至{last}" if lang == "zh" else f"{first} to {last}"


# ---- tables ----------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnFormat:
    """How one column of a shown table looks: heading, printf format of its numbers."""

    name: str
    heading: str
    printf: str | None = None   # "%,.1f" for numbers; None for text
    kind: str = ""              # "", "month", "date", "code", "text"
    help: str = ""


@dataclass(frozen=True)
class DisplayTable:
    """A frame ready to show: values in shown units, codes labelled, months in the language."""

    frame: pd.DataFrame
    columns: dict[str, ColumnFormat]


def printf(decimals: int, percent: bool = False) -> str:
    return f"%,.{decimals}f" + (" %%" if percent else "")


def codelist_for(name: str, reg: Registry) -> str:
    var = reg.column(name)
    if var is not None and var.codelist:
        return var.codelist
    return name if name in reg.codelists else ""


def format_table(df: pd.DataFrame, lang: str, variables: Mapping[str, Variable | str] | None = None,
                 labels: Mapping[str, str] | None = None, reg: Registry | None = None) -> DisplayTable:
    """*df* for showing: every known column labelled with its unit, scaled, with its precision.

    *variables* maps a column to a registry variable name (or a Variable) when the column's
    own name is generic (``value`` of ``vat_sales``); *labels* overrides a heading.
    Unknown columns keep their values; numbers still get separators and two decimals.
    """
    reg = reg or registry()
    out = df.copy()
    cols: dict[str, ColumnFormat] = {}
    for name in df.columns:
        given = (variables or {}).get(name)
        var = given if isinstance(given, Variable) else reg.column(given or name)
        own = reg.column(name)
        if own is not None and var is not None and own is not var:
            # the column's own name (model estimate) in the unit of the variable it measures (万元)
            var = Variable(name, own.label_zh, own.label_en, own.description_zh or var.description_zh,
                           own.description_en or var.description_en, var.unit, var.display_unit, var.decimals,
                           var.codelist, var.kind)
        heading = (labels or {}).get(name) or (var.heading(lang) if var else name)
        help_text = var.description(lang) if var else ""
        series = df[name]
        codelist = codelist_for(given or name, reg) if not isinstance(given, Variable) else given.codelist
        kind = var.kind if var else ""
        if codelist:
            out[name] = series.map(lambda c, d=codelist: reg.code_label(d, c, lang))
            cols[name] = ColumnFormat(name, heading, None, "code", help_text)
        elif kind == "month" or (kind == "" and name in ("period", "month") and not pd.api.types.is_numeric_dtype(series)):
            out[name] = series.map(lambda v: format_month(v, lang))
            cols[name] = ColumnFormat(name, heading, None, "month", help_text)
        elif kind == "date":
            out[name] = series.map(lambda v: format_date(v, lang))
            cols[name] = ColumnFormat(name, heading, None, "date", help_text)
        elif pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            cols[name] = ColumnFormat(name, heading, None, kind or "text", help_text)
        else:
            if var is not None:
                places, percent = var.places, var.shown_unit.percent
                # a value that rounds to zero is zero: a tiny negative would read -0.00
                shown_values = series.astype(float) * var.scale
                out[name] = shown_values.where(shown_values.round(places) != 0, 0.0)
            else:
                places = 0 if pd.api.types.is_integer_dtype(series) else 2
                percent = False
            cols[name] = ColumnFormat(name, heading, printf(places, percent), "", help_text)
    return DisplayTable(out, cols)


def table_file(df: pd.DataFrame, lang: str, fmt: str, variables: Mapping[str, Variable | str] | None = None,
               labels: Mapping[str, str] | None = None, title: str = "") -> bytes:
    """A result table as a file a statistician takes away: ``csv`` (UTF-8 with BOM, so Excel on
    Chinese Windows opens it) or ``xlsx``; headings with units, values in the shown unit rounded
    to the shown precision, codes with their names."""
    shown = format_table(df, lang, variables, labels)
    frame = shown.frame.copy()
    for name, col in shown.columns.items():
        if col.printf:
            places = int(re.search(r"\.(\d+)f", col.printf).group(1))
            frame[name] = frame[name].astype(float).round(places)
    frame.columns = [shown.columns[c].heading for c in frame.columns]
    if fmt == "csv":
        return csv_bytes(frame)
    if fmt == "xlsx":
        sheets = {"data": frame, **({"about": pd.DataFrame({"": [title]})} if title else {})}
        return xlsx_bytes(sheets, header={"about": False})
    raise ValueError(f"unknown table file format {fmt!r}; formats: csv, xlsx")


def rounded(df: pd.DataFrame, reg: Registry | None = None,
            variables: Mapping[str, Variable | str] | None = None) -> pd.DataFrame:
    """*df* with every known numeric column rounded to the precision it is published at
    (in its stored unit: a 万元 variable keeps 1 decimal of 万元, i.e. hundreds of yuan)."""
    reg = reg or registry()
    out = df.copy()
    for name in df.columns:
        given = (variables or {}).get(name)
        var = given if isinstance(given, Variable) else reg.column(given or name)
        series = df[name]
        if var is None or not var.numeric or pd.api.types.is_bool_dtype(series) \
                or not pd.api.types.is_numeric_dtype(series):
            continue
        if pd.api.types.is_integer_dtype(series):
            continue
        # digits kept in the stored unit: shown decimals + log10 of the scale (万元 1 dp -> -3 in yuan)
        digits = var.places + round(math.log10(var.scale))
        out[name] = series.astype(float).round(int(digits))
    return out


def source_title(source: str, lang: str, sources_file: Path = REPO_ROOT / "conf" / "sources.toml") -> str:
    """A delivering source's title from its contract (``vat`` -> ``增值税发票汇总``)."""
    spec = _sources(sources_file).get(source) or {}
    return str(spec.get(f"title_{lang}") or spec.get("title_en") or source)


@lru_cache(maxsize=2)
def _sources(path: Path) -> dict:
    with path.open("rb") as fh:
        return {k: v for k, v in tomllib.load(fh).items() if isinstance(v, dict)}


# ---- names of columns, types, codes and table operations in the UI language ---------------

_PLAIN_WORD = re.compile(r"^[A-Za-z]+$")


def column_title(name: str, lang: str, reg: Registry | None = None) -> str:
    """A column's name as a reader of *lang* sees it among Chinese text: a bare English word
    (``period``, ``enterprises``) by its registry label (``月份``, ``企业数``); an identifier
    (``credit_code``, ``_source``) and every name in English stay as they are."""
    if lang != "zh" or not _PLAIN_WORD.match(name or ""):
        return name
    var = (reg or registry()).column(name)
    return var.label_zh if var is not None and var.label_zh else name


def code_text(dimension: str, code: object, lang: str, reg: Registry | None = None) -> str:
    """The name of *code* in a code list (``imputation_method`` ``donor`` -> ``近邻替代``);
    a code without a name stays itself, a missing one is ""."""
    if missing(code):
        return ""
    return (reg or registry()).code_name(dimension, code, lang) or str(code)


def industry_text(code: object, lang: str, reg: Registry | None = None) -> str:
    """A GB/T 4754 class or division code with the section it belongs to, by name:
    ``5213（F 批发和零售业）`` / ``5213 (F Wholesale and retail trade)``; a dash when missing."""
    from workbench.classification import section_of_division

    if missing(code) or not str(code).strip():
        return "—"
    text = str(code).strip()
    digits = re.sub(r"^[A-Z]", "", text)
    section = section_of_division(int(digits[:2])) if digits[:2].isdigit() else None
    if section is None:
        return text
    label = (reg or registry()).code_label("industry_section", section, lang)
    return f"{text}（{label}）" if lang == "zh" else f"{text} ({label})"


# Spark and Arrow type names in Chinese (English shows the engine's own name).
TYPE_NAMES_ZH = {
    "string": "文本", "large_string": "文本", "varchar": "文本", "char": "文本",
    "double": "双精度浮点数", "float": "浮点数", "float64": "双精度浮点数", "float32": "浮点数",
    "long": "长整数", "bigint": "长整数", "int64": "长整数", "integer": "整数", "int": "整数", "int32": "整数",
    "short": "短整数", "smallint": "短整数", "int16": "短整数", "byte": "字节", "tinyint": "字节", "int8": "字节",
    "boolean": "布尔值", "bool": "布尔值", "date": "日期", "date32": "日期", "date32[day]": "日期",
    "timestamp": "时间戳", "timestamp_ntz": "时间戳（无时区）", "binary": "二进制", "decimal": "定点小数",
    "array": "数组", "list": "数组", "map": "映射", "struct": "结构", "null": "空",
}


def type_label(dtype: str, lang: str) -> str:
    """A column type for the schema table: ``decimal(18,2)`` -> ``定点小数(18,2)``,
    ``array<string>`` -> ``数组<文本>``, ``timestamp[us, tz=UTC]`` -> ``时间戳（UTC）``."""
    text = str(dtype or "")
    if lang != "zh":
        return text
    if text.startswith("timestamp["):
        return "时间戳（UTC）" if "tz=" in text else "时间戳"
    if text.startswith("struct"):
        return TYPE_NAMES_ZH["struct"]
    text = re.sub(r"\[[^\]]*\]", "", text)  # Arrow's resolution (date32[day]): the type says enough
    return re.sub(r"[A-Za-z_][A-Za-z_0-9]*", lambda m: TYPE_NAMES_ZH.get(m.group(0).lower(), m.group(0)), text)


# Delta Lake history operations (``DESCRIBE HISTORY``) in Chinese; English shows the operation itself.
DELTA_OPERATIONS_ZH = {
    "CREATE TABLE": "创建表", "CREATE TABLE AS SELECT": "创建表并写入", "CREATE OR REPLACE TABLE": "创建或替换表",
    "CREATE OR REPLACE TABLE AS SELECT": "创建或替换表并写入", "REPLACE TABLE": "替换表",
    "REPLACE TABLE AS SELECT": "替换表并写入", "WRITE": "写入", "STREAMING UPDATE": "流式写入", "MERGE": "合并",
    "DELETE": "删除", "UPDATE": "更新", "TRUNCATE": "清空", "OPTIMIZE": "优化文件", "VACUUM START": "开始清理旧文件",
    "VACUUM END": "清理旧文件完成", "RESTORE": "恢复版本", "ADD COLUMNS": "添加列", "CHANGE COLUMN": "修改列",
    "REPLACE COLUMNS": "替换列", "RENAME COLUMN": "重命名列", "DROP COLUMNS": "删除列",
    "SET TBLPROPERTIES": "设置表属性", "UNSET TBLPROPERTIES": "取消表属性", "ADD CONSTRAINT": "添加约束",
    "DROP CONSTRAINT": "删除约束", "CLONE": "克隆", "SHALLOW CLONE": "浅克隆", "CONVERT": "转换为 Delta 表",
    "UPGRADE PROTOCOL": "升级协议", "ADD DELETION VECTORS TOMBSTONES": "写入删除向量",
}


def delta_operation(operation: str, lang: str) -> str:
    """A Delta history operation in *lang* (``WRITE`` -> ``写入``); English and an unknown
    operation keep the operation's own name."""
    if lang != "zh":
        return operation
    return DELTA_OPERATIONS_ZH.get(str(operation or "").upper(), operation)


def schema_frame(columns: Iterable[tuple[str, str]], lang: str, reg: Registry | None = None) -> pd.DataFrame:
    """A table's columns (name, type) with label, unit and description from the registry."""
    reg = reg or registry()
    rows = []
    for name, dtype in columns:
        var = reg.column(name)
        unit = var.shown_unit.label(lang) if var and var.numeric else ""
        stored = var.stored_unit.label(lang) if var and var.numeric else ""
        rows.append({"name": column_title(name, lang, reg), "label": var.label(lang) if var else "",
                     "unit": stored if stored == unit or not unit else f"{stored} → {unit}",
                     "description": var.description(lang) if var else "", "type": type_label(dtype, lang)})
    return pd.DataFrame(rows, columns=["name", "label", "unit", "description", "type"])


def indicator_frame(series: pd.DataFrame, lang: str, reg: Registry | None = None) -> pd.DataFrame:
    """Indicator rows (``indicator``, ``month``, ``value``) for a chart: ``heading`` (name and shown
    unit), ``shown`` (the value in that unit) and ``text`` (formatted with unit)."""
    reg = reg or registry()
    if series.empty:
        return series.assign(heading=pd.Series(dtype=object), shown=pd.Series(dtype=float),
                             text=pd.Series(dtype=object))
    variables = {n: reg.indicator(n) for n in series["indicator"].unique()}
    heading = series["indicator"].map(lambda n: variables[n].heading(lang))
    shown = series["value"].astype(float) * series["indicator"].map(lambda n: variables[n].scale)
    text = [format_value(v, variables[n], lang) for n, v in zip(series["indicator"], series["value"])]
    return series.assign(heading=heading, shown=shown, text=text)


def shown_interval(point: pd.Series, low: pd.Series, high: pd.Series, variable: Variable
                   ) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """An estimate and its interval in the variable's shown unit, for a chart. For a variable
    that cannot be negative the lower bound is cut at zero (a normal interval around a small,
    imprecise total reaches below zero; no value there is possible). Returns point, low, high
    and whether each low was cut."""
    k = variable.scale
    p, lo, hi = point.astype(float) * k, low.astype(float) * k, high.astype(float) * k
    cut = (lo < 0) & variable.nonnegative
    return p, lo.where(~cut, 0.0), hi, cut


# ---- charts ----------------------------------------------------------------------

# d3-format and d3-time-format locale definitions (the zh-CN ones d3 ships), passed to
# Vega-Lite as ``config.locale``: month names, weekdays and separators in the UI language.
_NUMBER_LOCALE = {
    "zh": {"decimal": ".", "thousands": ",", "grouping": [3], "currency": ["¥", ""]},
    "en": {"decimal": ".", "thousands": ",", "grouping": [3], "currency": ["¥", ""]},
}
_TIME_LOCALE = {
    "zh": {
        "dateTime": "%x %A %X", "date": "%Y/%-m/%-d", "time": "%H:%M:%S", "periods": ["上午", "下午"],
        "days": ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
        "shortDays": ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
        "months": ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"],
        "shortMonths": [f"{m}月" for m in range(1, 13)],
    },
    "en": {
        "dateTime": "%x, %X", "date": "%-m/%-d/%Y", "time": "%-I:%M:%S %p", "periods": ["AM", "PM"],
        "days": ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
        "shortDays": ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
        "months": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                   "October", "November", "December"],
        "shortMonths": list(MONTHS_EN),
    },
}
# A month axis label and tooltip: "2026年8月" / "Aug 2026".
MONTH_FORMAT = {"zh": "%Y年%-m月", "en": "%b %Y"}
# a quarterly series' period on a chart axis or tooltip (d3's %q), as format_quarter writes it
QUARTER_FORMAT = {"zh": "%Y年第%q季度", "en": "Q%q %Y"}


def chart_locale(lang: str) -> dict:
    """Vega-Lite ``config.locale`` for *lang*."""
    return {"number": _NUMBER_LOCALE[lang if lang in _NUMBER_LOCALE else "en"],
            "time": _TIME_LOCALE[lang if lang in _TIME_LOCALE else "en"]}


def axis_number_format(variable: Variable) -> str:
    """A d3 format for an axis of *variable* in its shown unit: ``,.0f`` or ``.1%``."""
    if variable.shown_unit.percent:
        return f".{max(variable.places - 1, 0)}%"
    return ",.0f" if variable.places == 0 or variable.shown_unit.factor > 1 else f",.{variable.places}f"


__all__ = ["UNITS", "Unit", "Variable", "Registry", "registry", "format_number", "format_percent", "format_value",
           "format_money", "format_month", "format_quarter", "detail_text", "industry_text", "format_date", "bilingual",
           "reference_period", "ColumnFormat",
           "DisplayTable", "format_table", "rounded", "chart_locale", "axis_number_format", "MONTH_FORMAT", "QUARTER_FORMAT",
           "SECTION_NAMES_EN", "column_title", "code_text", "type_label", "delta_operation"]
