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

File names carry series and vintage: ``<series>_v<vintage>.<ext>``. Pure functions
from a pandas frame and a :class:`~workbench.runs.release.Release` to bytes.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.disclosure.settings import SdmxSettings
from workbench.runs.release import Release

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
NS = {
    "message": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "structure": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "common": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
}


@dataclass(frozen=True)
class Export:
    file_name: str
    data: bytes
    mime: str


def file_name(series: str, vintage: int, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}")
    return f"{series}_v{vintage}{FORMATS[fmt][0]}"


def metadata(release: Release) -> dict[str, Any]:
    """What a user needs to read the numbers: which vintage, when, how protected."""
    meta: dict[str, Any] = {
        "series": release.series, "vintage": release.vintage, "release_date": str(release.release_date),
        "released_at": release.released_at.isoformat() if release.released_at else "", "rows": release.rows,
        "run_id": release.run_id,
    }
    disclosure = (release.quality_report or {}).get("disclosure")
    if disclosure:
        meta["disclosure_rules"] = json.dumps(disclosure.get("rules", {}), ensure_ascii=False)
        meta["cells_primary_suppressed"] = disclosure.get("primary")
        meta["cells_secondary_suppressed"] = disclosure.get("secondary")
        meta.update({f"conf_status {k}": v for k, v in CONF_STATUS.items()})
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
    dims = tuple(c for c in columns if c not in (time, measure, "conf_status") and c not in numeric)
    attrs = tuple(c for c in columns if c != measure and (c in numeric or c == "conf_status"))
    flow = f"{sdmx.agency}:DF_{release.series.upper()}({sdmx.version})"
    return SdmxStructure(flow, dims, time, measure, attrs)


def _sdmx_csv(frame: pd.DataFrame, s: SdmxStructure) -> bytes:
    cols = [*s.dimensions, *([s.time] if s.time else []), s.measure, *s.attributes]
    out = frame[cols].rename(columns={c: s.ids(c) for c in cols})
    out.insert(0, "DATAFLOW", s.dataflow)
    if s.time:
        out["TIME_PERIOD"] = out["TIME_PERIOD"].astype(str)
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8")


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
    for dim in s.dimensions:
        cl = ET.SubElement(codelists, f"{st}Codelist", id=f"CL_{dim.upper()}", **common)
        ET.SubElement(cl, f"{com}Name").text = dim
        for code in sorted(frame[dim].dropna().astype(str).unique()):
            item = ET.SubElement(cl, f"{st}Code", id=code)
            ET.SubElement(item, f"{com}Name").text = "Total" if code == "_T" else code
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


def export(frame: pd.DataFrame, release: Release, fmt: str, sdmx: SdmxSettings | None = None) -> Export:
    """One vintage in one format, as bytes with its file name and MIME type."""
    name = file_name(release.series, release.vintage, fmt)
    mime = FORMATS[fmt][1]
    sdmx = sdmx or SdmxSettings()
    meta = metadata(release)
    if fmt == "csv":
        return Export(name, frame.to_csv(index=False, lineterminator="\n").encode("utf-8-sig"), mime)
    if fmt == "xlsx":
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as xl:
            frame.to_excel(xl, sheet_name="data", index=False)
            pd.DataFrame({"key": list(meta), "value": [str(v) for v in meta.values()]}).to_excel(
                xl, sheet_name="metadata", index=False)
        return Export(name, buf.getvalue(), mime)
    if fmt == "parquet":
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"workbench.release": json.dumps(meta, default=str).encode()})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return Export(name, buf.getvalue(), mime)
    structure = sdmx_structure(frame, release, sdmx)
    if fmt == "sdmx":
        return Export(name, _sdmx_csv(frame, structure), mime)
    return Export(name, _dsd(frame, release, structure, sdmx), mime)
