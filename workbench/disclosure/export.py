"""Export of a released vintage: CSV, Excel, Parquet, SDMX-CSV and its data structure definition.

* CSV: UTF-8 with a byte-order mark, so Excel on a Chinese Windows opens it without
  garbling (Excel assumes the ANSI code page, GBK, without the BOM);
* Excel: a ``data`` sheet and a ``metadata`` sheet (series, vintage, release date,
  disclosure rules and what the status flags mean);
* Parquet: typed columns, the metadata as JSON in the file's key-value metadata;
* SDMX-CSV 1.0 (SDMX 2.1 technical notes, section "SDMX-CSV"): first column
  ``DATAFLOW`` = ``AGENCY:ID(VERSION)``, then the dimensions, ``TIME_PERIOD``,
  ``OBS_VALUE`` and the attributes (``CONF_STATUS`` with SDMX's F/C/D codes); the
  data structure definition is an SDMX-ML 2.1 structure message with one code list
  per dimension.

Every format carries what a reader needs to take the numbers away (one formatting layer,
:mod:`workbench.formatting`): the reference period as a ``period`` column (inserted from
the run when its output has none), the unit of every value (``unit``; in SDMX the
``UNIT_MEASURE`` and ``UNIT_MULT`` attributes), values in the unit and precision the
variable is published in (money in 万元 to one decimal, headcounts in persons), and a
name beside every code (``industry_section_name``: the GB/T 4754 section; township and
district names; in SDMX the names are in the code lists, in Chinese and English).

File names carry series and vintage: ``<series>_v<vintage>.<ext>``. Pure functions
from a pandas frame and a :class:`~workbench.runs.release.Release` to bytes.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workbench import formatting
from workbench.disclosure.settings import SdmxSettings
from workbench.i18n import MESSAGES, translate
from workbench.runs.release import Release
from workbench.spreadsheets import csv_bytes, xlsx_bytes

FORMATS = {
    "csv": (".csv", "text/csv"),
    "xlsx": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "parquet": (".parquet", "application/vnd.apache.parquet"),
    "sdmx": (".sdmx.csv", "text/csv"),
    "dsd": (".dsd.xml", "application/xml"),
}
CONF_STATUS = {"F": "free for publication", "C": "confidential (primary suppression)",
               "D": "secondary confidentiality (suppressed to protect another cell)"}
TIME_COLUMNS = ("period", "month", "date", "time_period")
RELEASE_COLUMNS = ("vintage", "release_date")
# Columns holding a value of the released variable itself (the area-industry table's value, an
# estimate and its bounds): shown in that variable's unit and precision.
MEASURE_COLUMNS = ("value", "estimate", "se", "ci_low", "ci_high", "direct", "direct_se", "direct_low",
                   "direct_high", "synthetic", "eblup", "eblup_se", "eblup_low", "eblup_high", "benchmarked",
                   "original", "trend", "seasadj", "filled")
# Columns holding a variance of the released variable (in the square of its unit): published at
# the variable's precision, squared units (a variance of persons has no decimals to show).
VARIANCE_COLUMNS = ("direct_var", "mse", "variance")
# Lower bounds of an interval: cut at zero for a variable that cannot be negative, as the pages show them.
LOWER_BOUNDS = ("ci_low", "direct_low", "eblup_low")
UPPER_BOUNDS = ("ci_high", "direct_high", "eblup_high")
# The survey and small-area methods' default (their runs record ``alpha`` from then on).
DEFAULT_ALPHA = 0.05
# Attributes of an observation, never dimensions (SDMX-CSV).
ATTRIBUTE_COLUMNS = ("conf_status", "unit_measure", "unit_mult")
LABEL_COLUMNS = ("unit",)
NS = {
    "message": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "structure": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "common": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
}


@dataclass(frozen=True)
class ReleaseContext:
    """What the released rows do not say themselves: the run's reference period (``YYYY-MM``)
    and the variable its values measure, when the output has no ``period`` or ``measure`` column."""

    reference_period: str = ""
    measure: str = ""
    confidence_level: float | None = None  # of the intervals an output carries (0.95), if it has any
    # the unit code the values are in when *measure* is no variable of the catalogue (a published
    # series such as retail sales is in the unit gold.targets gives it, 亿元)
    unit: str = ""

    @classmethod
    def from_params(cls, params: dict[str, Any] | None, unit: str = "") -> "ReleaseContext":
        p = params or {}
        alpha = p.get("alpha", DEFAULT_ALPHA)
        measure = p.get("variable") or p.get("measure") or p.get("indicator") or p.get("series") or ""
        return cls(str(p.get("period") or p.get("last") or ""), str(measure),
                   round(1 - float(alpha), 6) if alpha is not None else None, unit)


@dataclass(frozen=True)
class Export:
    file_name: str
    data: bytes
    mime: str


def file_name(series: str, vintage: int, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}")
    return f"{series}_v{vintage}{FORMATS[fmt][0]}"


def _measure_variable(name: str, unit: str = "") -> formatting.Variable:
    """The variable *name* the released values measure: a catalogue column (``employment``),
    an indicator (``vat_sales_total``), or a published series in *unit* (``retail_sales``)."""
    reg = formatting.registry()
    if reg.column(name) is not None:
        return reg.column(name)
    if name in reg.indicators or any("*" in p for p in reg.indicators if name.startswith(p.split("*")[0])):
        return reg.indicator(name)
    labels = MESSAGES.get(f"nowcast.series.{name}") or {}
    return formatting.Variable(name, labels.get("zh", name), labels.get("en", name), unit=unit)


def prepared_frame(frame: pd.DataFrame, context: ReleaseContext | None = None) -> pd.DataFrame:
    """The released rows as published: a ``period`` column, values of the measured variable in
    its published unit and precision (``unit_measure``/``unit_mult`` say which), every other known
    column rounded to the precision it is published at. Codes are left as they are."""
    context = context or ReleaseContext()
    out = frame.copy()
    if not any(c in out.columns for c in TIME_COLUMNS) and context.reference_period:
        at = sum(c in out.columns for c in RELEASE_COLUMNS)
        out.insert(at, "period", context.reference_period)
    measures = out["measure"].astype(str) if "measure" in out.columns else pd.Series(context.measure, index=out.index)
    shown = [c for c in MEASURE_COLUMNS if c in out.columns and pd.api.types.is_numeric_dtype(out[c])]
    variances = [c for c in VARIANCE_COLUMNS if c in out.columns and pd.api.types.is_numeric_dtype(out[c])]
    out[shown + variances] = out[shown + variances].astype(float)
    unit_code = pd.Series("", index=out.index, dtype=object)
    unit_mult = pd.Series(0, index=out.index, dtype="int64")
    for name, rows in out.groupby(measures, sort=False).groups.items():
        var = _measure_variable(str(name), context.unit)
        for c in shown:
            out.loc[rows, c] = (out.loc[rows, c] * var.scale).round(var.places)
        for c in variances:
            out.loc[rows, c] = (out.loc[rows, c] * var.scale ** 2).round(var.places)
        unit = var.shown_unit
        unit_code.loc[rows] = unit.sdmx or unit.code
        unit_mult.loc[rows] = round(float(np.log10(unit.factor))) if unit.factor >= 1 else 0
    others = formatting.rounded(out.drop(columns=shown + variances))
    out[others.columns] = others
    if shown:
        out["unit_measure"] = unit_code
        out["unit_mult"] = unit_mult
    return out


def labelled_frame(prepared: pd.DataFrame, lang: str = "zh", context: ReleaseContext | None = None) -> pd.DataFrame:
    """*prepared* with a name beside every code (``<code column>_name``) and the unit in words."""
    reg = formatting.registry()
    unit = (context or ReleaseContext()).unit
    out = prepared.copy()
    for col in list(prepared.columns):
        if col == "measure":
            names = prepared[col].map(lambda m: _measure_variable(str(m), unit).label(lang))
        elif formatting.codelist_for(col, reg):
            dim = formatting.codelist_for(col, reg)
            names = prepared[col].map(lambda c, d=dim: reg.code_name(d, c, lang))
        else:
            continue
        out.insert(out.columns.get_loc(col) + 1, f"{col}_name", names)
    if "unit_measure" in prepared.columns:
        measures = prepared["measure"].astype(str) if "measure" in prepared.columns else \
            pd.Series((context or ReleaseContext()).measure, index=prepared.index)
        out.insert(out.columns.get_loc("unit_measure"), "unit",
                   [_measure_variable(m, unit).shown_unit.label(lang) for m in measures])
    return out


def _row_measures(frame: pd.DataFrame, context: ReleaseContext) -> pd.Series:
    """The variable each row's values measure (a ``measure`` column, else the run's variable)."""
    if "measure" in frame.columns:
        return frame["measure"].astype(str)
    return pd.Series(context.measure, index=frame.index, dtype=object)


def published_frame(prepared: pd.DataFrame, lang: str = "zh", context: ReleaseContext | None = None) -> pd.DataFrame:
    """*prepared* as a person reads it, for the CSV and Excel files: headings in *lang* with
    their units, the measured variable named on every row, codes beside their names, fractions
    in per cent, yes/no in words, a lower bound of a variable that cannot be negative cut at
    zero (as the pages show it), and the intervals' confidence level. The machine formats
    (Parquet, SDMX) keep codes and identifiers; every format has the same values."""
    context = context or ReleaseContext()
    reg = formatting.registry()
    out = labelled_frame(prepared, lang, context)
    measures = _row_measures(prepared, context)
    variables = measures.map(lambda m: _measure_variable(m, context.unit))
    if "measure" not in out.columns and context.measure:
        at = max(out.columns.get_loc(c) for c in (*RELEASE_COLUMNS, *TIME_COLUMNS) if c in out.columns) + 1 \
            if any(c in out.columns for c in (*RELEASE_COLUMNS, *TIME_COLUMNS)) else 0
        out.insert(at, "measure_name", variables.map(lambda v: v.label(lang)))
    for low in LOWER_BOUNDS:
        if low in out.columns:
            cut = variables.map(lambda v: v.nonnegative).astype(bool) & (out[low] < 0)
            out[low] = out[low].where(~cut, 0.0)
    bounds = [i for i, c in enumerate(out.columns) if c in (*LOWER_BOUNDS, *UPPER_BOUNDS)]
    if bounds and context.confidence_level is not None:
        out.insert(bounds[-1] + 1, "confidence_level", context.confidence_level)
    for column in list(out.columns):
        series = out[column]
        var = reg.column(column)
        if pd.api.types.is_bool_dtype(series):
            out[column] = series.map(lambda b: translate("common.yes" if b else "common.no", lang))
        elif var is not None and var.shown_unit.percent and pd.api.types.is_numeric_dtype(series) \
                and column not in MEASURE_COLUMNS:
            out[column] = (series.astype(float) * var.scale).round(var.places)
    # a value published without decimals (persons, a confidence level of 95 %) is written as a
    # whole number, not as 9764.0
    whole = {c for c in out.columns if pd.api.types.is_float_dtype(out[c]) and (
        (c in (*MEASURE_COLUMNS, *VARIANCE_COLUMNS) and len(variables) and all(v.places == 0 for v in variables))
        or (reg.column(c) is not None and reg.column(c).shown_unit.percent and reg.column(c).places == 0))}
    for c in whole:
        out[c] = out[c].round().astype("Int64")
    one_unit = variables.iloc[0].shown_unit.label(lang) if len(variables) and measures.nunique() == 1 else ""
    out.columns = [_published_heading(c, out.columns, lang, reg, one_unit) for c in out.columns]
    return out


def _published_heading(column: str, columns, lang: str, reg: formatting.Registry, unit: str) -> str:
    """A released column's heading in *lang*: a code column says it holds codes (its names stand
    beside it under the plain label); a value of the measured variable carries that variable's
    unit when the file has one (else its ``unit`` column says it per row)."""
    if column.endswith("_name") and column[:-5] in columns:
        var = reg.column(column[:-5])
        return var.label(lang) if var else column
    if column == "measure_name":
        return reg.column("measure").label(lang)
    var = reg.column(column)
    if var is None:
        return column
    if f"{column}_name" in columns:
        return translate("export.code_heading", lang, label=var.label(lang))
    if column in MEASURE_COLUMNS or column in VARIANCE_COLUMNS:
        shown = f"{unit}²" if unit and column in VARIANCE_COLUMNS else unit
        if not shown:
            return var.label(lang)
        return f"{var.label(lang)}（{shown}）" if lang == "zh" else f"{var.label(lang)} ({shown})"
    return var.heading(lang)


def metadata_sheet(meta: dict[str, Any], lang: str) -> pd.DataFrame:
    """The metadata as the Excel file shows it: each entry under its name in *lang*."""
    items = [(translate(f"export.meta.{k}", lang) if f"export.meta.{k}" in MESSAGES else k, v) for k, v in meta.items()]
    return pd.DataFrame({translate("export.meta.heading_key", lang): [k for k, _ in items],
                         translate("export.meta.heading_value", lang): [str(v) for _, v in items]})


def unit_words(prepared: pd.DataFrame, context: ReleaseContext, lang: str) -> str:
    """The unit of the released values in words (``万元``; per measure for a table of several)."""
    if "measure" in prepared.columns:
        return "; ".join(f"{_measure_variable(m, context.unit).label(lang)}: "
                         f"{_measure_variable(m, context.unit).shown_unit.label(lang)}"
                         for m in sorted(prepared["measure"].astype(str).unique()))
    return _measure_variable(context.measure, context.unit).shown_unit.label(lang) if context.measure else ""


def metadata(release: Release, frame: pd.DataFrame | None = None, context: ReleaseContext | None = None,
             lang: str = "zh") -> dict[str, Any]:
    """What a user needs to read the numbers: which vintage, which period, what unit, when, how protected."""
    context = context or ReleaseContext()
    prepared = prepared_frame(frame, context) if frame is not None else None
    period = ""
    if prepared is not None:
        time = next((c for c in prepared.columns if c.lower() in TIME_COLUMNS), None)
        period = formatting.reference_period(prepared[time], lang) if time else ""
    meta: dict[str, Any] = {
        "series": release.series, "vintage": release.vintage, "release_date": str(release.release_date),
        "reference_period": period or formatting.reference_period([context.reference_period], lang),
        "unit": unit_words(prepared, context, lang) if prepared is not None else "",
        "released_at": release.released_at.isoformat() if release.released_at else "", "rows": release.rows,
        "run_id": release.run_id,
    }
    if context.measure and (prepared is None or "measure" not in prepared.columns):
        meta["variable"] = _measure_variable(context.measure, context.unit).label(lang)
    if prepared is not None and context.confidence_level is not None \
            and any(c in prepared.columns for c in LOWER_BOUNDS):
        meta["confidence_level"] = f"{context.confidence_level:.0%}"
    meta["notes"] = translate("export.meta.notes_text", lang)
    disclosure = (release.quality_report or {}).get("disclosure")
    if disclosure:
        meta["disclosure_rules"] = json.dumps(disclosure.get("rules", {}), ensure_ascii=False)
        meta["cells_primary_suppressed"] = disclosure.get("primary")
        meta["cells_secondary_suppressed"] = disclosure.get("secondary")
        status = formatting.registry().column("conf_status")
        meta.update({f"{status.label(lang)} {k}": formatting.registry().code_name("conf_status", k, lang)
                     for k in CONF_STATUS})
    return meta


@dataclass(frozen=True)
class SdmxStructure:
    """How a release frame maps onto SDMX: dimensions, time, measure and attributes."""

    dataflow: str
    dimensions: tuple[str, ...]
    time: str | None
    measure: str
    attributes: tuple[str, ...]

    def ids(self, column: str) -> str:
        if column == self.time:
            return "TIME_PERIOD"
        if column == self.measure:
            return "OBS_VALUE"
        return column.upper()


def sdmx_structure(frame: pd.DataFrame, release: Release, sdmx: SdmxSettings) -> SdmxStructure:
    columns = [c for c in frame.columns if c not in RELEASE_COLUMNS]
    time = next((c for c in columns if c.lower() in TIME_COLUMNS), None)
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    measure = "value" if "value" in numeric else next((c for c in numeric if pd.api.types.is_float_dtype(frame[c])),
                                                      numeric[0] if numeric else None)
    if measure is None:
        raise ValueError(f"release {release.series} v{release.vintage} has no numeric column to publish as OBS_VALUE")
    dims = tuple(c for c in columns if c not in (time, measure, *ATTRIBUTE_COLUMNS) and c not in numeric)
    attrs = tuple(c for c in columns if c != measure and (c in numeric or c in ATTRIBUTE_COLUMNS))
    flow = f"{sdmx.agency}:DF_{release.series.upper()}({sdmx.version})"
    return SdmxStructure(flow, dims, time, measure, attrs)


def _sdmx_csv(frame: pd.DataFrame, s: SdmxStructure) -> bytes:
    cols = [*s.dimensions, *([s.time] if s.time else []), s.measure, *s.attributes]
    out = frame[cols].rename(columns={c: s.ids(c) for c in cols})
    out.insert(0, "DATAFLOW", s.dataflow)
    if s.time:
        out["TIME_PERIOD"] = out["TIME_PERIOD"].astype(str)
    return csv_bytes(out, bom=False)


def _dsd(frame: pd.DataFrame, release: Release, s: SdmxStructure, sdmx: SdmxSettings) -> bytes:
    for prefix, uri in NS.items():
        ET.register_namespace(prefix, uri)
    m, st, com = (f"{{{NS[k]}}}" for k in ("message", "structure", "common"))
    root = ET.Element(f"{m}Structure")
    header = ET.SubElement(root, f"{m}Header")
    ET.SubElement(header, f"{m}ID").text = f"DSD_{release.series.upper()}_V{release.vintage}"
    ET.SubElement(header, f"{m}Test").text = "false"
    ET.SubElement(header, f"{m}Prepared").text = (release.released_at.isoformat() if release.released_at
                                                  else str(release.release_date))
    ET.SubElement(ET.SubElement(header, f"{m}Sender", id=sdmx.agency), f"{com}Name").text = sdmx.agency
    structures = ET.SubElement(root, f"{m}Structures")
    common = {"agencyID": sdmx.agency, "version": sdmx.version}

    codelists = ET.SubElement(structures, f"{st}Codelists")
    reg = formatting.registry()
    lang_attr = "{http://www.w3.org/XML/1998/namespace}lang"
    for dim in s.dimensions:
        cl = ET.SubElement(codelists, f"{st}Codelist", id=f"CL_{dim.upper()}", **common)
        var = reg.column(dim)
        for lang in ("zh", "en"):
            ET.SubElement(cl, f"{com}Name", {lang_attr: lang}).text = var.label(lang) if var else dim
        codelist = formatting.codelist_for(dim, reg)
        for code in sorted(frame[dim].dropna().astype(str).unique()):
            item = ET.SubElement(cl, f"{st}Code", id=code)
            for lang in ("zh", "en"):
                if dim == "measure":
                    name = _measure_variable(code).label(lang)
                else:
                    name = reg.code_name(codelist, code, lang) or code
                ET.SubElement(item, f"{com}Name", {lang_attr: lang}).text = name
    if "conf_status" in s.attributes:
        cl = ET.SubElement(codelists, f"{st}Codelist", id="CL_CONF_STATUS", **common)
        ET.SubElement(cl, f"{com}Name").text = "Confidentiality status"
        for code, text in CONF_STATUS.items():
            ET.SubElement(ET.SubElement(cl, f"{st}Code", id=code), f"{com}Name").text = text

    concepts = ET.SubElement(ET.SubElement(structures, f"{st}Concepts"), f"{st}ConceptScheme",
                             id=f"CS_{release.series.upper()}", **common)
    ET.SubElement(concepts, f"{com}Name").text = f"Concepts of {release.series}"
    all_ids = [s.ids(c) for c in (*s.dimensions, *([s.time] if s.time else []), s.measure, *s.attributes)]
    for cid in all_ids:
        ET.SubElement(ET.SubElement(concepts, f"{st}Concept", id=cid), f"{com}Name").text = cid

    def concept_ref(parent: ET.Element, cid: str) -> None:
        ref = ET.SubElement(ET.SubElement(parent, f"{st}ConceptIdentity"), "Ref", id=cid,
                            maintainableParentID=f"CS_{release.series.upper()}",
                            maintainableParentVersion=sdmx.version, agencyID=sdmx.agency)
        ref.set("class", "Concept")
        ref.set("package", "conceptscheme")

    def codelist_ref(parent: ET.Element, cl: str) -> None:
        rep = ET.SubElement(ET.SubElement(parent, f"{st}LocalRepresentation"), f"{st}Enumeration")
        ET.SubElement(rep, "Ref", id=cl, agencyID=sdmx.agency, version=sdmx.version, package="codelist").set(
            "class", "Codelist")

    dsd_id = f"DSD_{release.series.upper()}"
    dsd = ET.SubElement(ET.SubElement(structures, f"{st}DataStructures"), f"{st}DataStructure", id=dsd_id, **common)
    ET.SubElement(dsd, f"{com}Name").text = f"{release.series} (vintage {release.vintage})"
    comps = ET.SubElement(dsd, f"{st}DataStructureComponents")
    dims = ET.SubElement(comps, f"{st}DimensionList", id="DimensionDescriptor")
    for pos, dim in enumerate(s.dimensions, start=1):
        el = ET.SubElement(dims, f"{st}Dimension", id=dim.upper(), position=str(pos))
        concept_ref(el, dim.upper())
        codelist_ref(el, f"CL_{dim.upper()}")
    if s.time:
        el = ET.SubElement(dims, f"{st}TimeDimension", id="TIME_PERIOD", position=str(len(s.dimensions) + 1))
        concept_ref(el, "TIME_PERIOD")
    if s.attributes:
        attrs = ET.SubElement(comps, f"{st}AttributeList", id="AttributeDescriptor")
        for a in s.attributes:
            el = ET.SubElement(attrs, f"{st}Attribute", id=s.ids(a), assignmentStatus="Conditional")
            concept_ref(el, s.ids(a))
            if a == "conf_status":
                codelist_ref(el, "CL_CONF_STATUS")
            ET.SubElement(ET.SubElement(el, f"{st}AttributeRelationship"), f"{st}PrimaryMeasure").append(
                _ref("OBS_VALUE"))
    measures = ET.SubElement(comps, f"{st}MeasureList", id="MeasureDescriptor")
    concept_ref(ET.SubElement(measures, f"{st}PrimaryMeasure", id="OBS_VALUE"), "OBS_VALUE")
    flow = ET.SubElement(ET.SubElement(structures, f"{st}Dataflows"), f"{st}Dataflow",
                         id=f"DF_{release.series.upper()}", **common)
    ET.SubElement(flow, f"{com}Name").text = release.series
    ET.SubElement(ET.SubElement(flow, f"{st}Structure"), "Ref", id=dsd_id, agencyID=sdmx.agency,
                  version=sdmx.version, package="datastructure").set("class", "DataStructure")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _ref(cid: str) -> ET.Element:
    el = ET.Element("Ref", id=cid)
    return el


def export(frame: pd.DataFrame, release: Release, fmt: str, sdmx: SdmxSettings | None = None,
           context: ReleaseContext | None = None, lang: str = "zh") -> Export:
    """One vintage in one format, as bytes with its file name and MIME type.

    *context* supplies the reference period and measured variable an output does not carry
    (``ReleaseContext.from_params(run.params)``); *lang* is the language of names and metadata."""
    name = file_name(release.series, release.vintage, fmt)
    mime = FORMATS[fmt][1]
    sdmx = sdmx or SdmxSettings()
    context = context or ReleaseContext()
    meta = metadata(release, frame, context, lang)
    prepared = prepared_frame(frame, context)
    if fmt == "csv":
        return Export(name, csv_bytes(published_frame(prepared, lang, context)), mime)
    if fmt == "xlsx":
        return Export(name, xlsx_bytes({"data": published_frame(prepared, lang, context),
                                        "metadata": metadata_sheet(meta, lang)}), mime)
    frame = labelled_frame(prepared, lang, context)
    if fmt == "parquet":
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"workbench.release": json.dumps(meta, default=str).encode()})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return Export(name, buf.getvalue(), mime)
    structure = sdmx_structure(prepared, release, sdmx)
    if fmt == "sdmx":
        return Export(name, _sdmx_csv(prepared, structure), mime)
    return Export(name, _dsd(prepared, release, structure, sdmx), mime)
