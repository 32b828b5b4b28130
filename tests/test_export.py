"""Exports of a released vintage: CSV with BOM, Excel with metadata, Parquet, SDMX-CSV and its DSD.

The SDMX checks follow the SDMX-CSV 1.0 format (SDMX 2.1 technical notes): the first column is
DATAFLOW holding AGENCY:ID(VERSION), then one column per dimension, TIME_PERIOD, OBS_VALUE and the
attributes; and the structure message declares exactly those components.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone

import numpy as np
import openpyxl
import pandas as pd
import pyarrow.parquet as pq

from workbench.disclosure.export import FORMATS, NS, export, file_name
from workbench.disclosure.settings import SdmxSettings
from workbench.runs.release import Release

RELEASE = Release(release_id="abc", series="area_industry", vintage=3, run_id="r1", release_date=date(2026, 10, 20),
                  embargo_until=None, released_at=datetime(2026, 10, 20, 1, 30, tzinfo=timezone.utc),
                  released_by="super", inputs={"gold.enterprise_month": 4},
                  quality_report={"disclosure": {"primary": 1, "secondary": 1, "cells": 4,
                                                 "rules": {"protection": 0.1}}},
                  output="table", rows=4)
FRAME = pd.DataFrame({
    "vintage": [3] * 4, "release_date": [date(2026, 10, 20)] * 4, "period": ["2026-09"] * 4,
    "measure": ["vat_sales"] * 4, "county_code": ["660101", "660101", "660101", "_T"],
    "township_code": ["660101001", "660101002", "_T", "_T"], "industry_section": ["C", "C", "C", "C"],
    "contributors": [2, 9, 11, 11], "value": [np.nan, np.nan, 1500.5, 1500.5], "conf_status": ["C", "D", "F", "F"],
})
SDMX = SdmxSettings(agency="CN_GCITY_STATS", version="1.0")


def test_file_names_carry_series_and_vintage():
    assert [export(FRAME, RELEASE, f, SDMX).file_name for f in FORMATS] == [
        "area_industry_v3.csv", "area_industry_v3.xlsx", "area_industry_v3.parquet", "area_industry_v3.sdmx.csv",
        "area_industry_v3.dsd.xml"]
    assert file_name("x", 12, "csv") == "x_v12.csv"


def test_csv_has_a_bom_and_round_trips_chinese_text():
    frame = FRAME.assign(measure="销售额")
    data = export(frame, RELEASE, "csv", SDMX).data
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"county_code": str, "township_code": str})
    assert back["measure"].eq("销售额").all() and list(back.columns) == list(frame.columns)
    assert back["value"].isna().sum() == 2 and back["value"].iloc[2] == 1500.5


def test_excel_has_data_and_metadata_sheets():
    book = openpyxl.load_workbook(io.BytesIO(export(FRAME, RELEASE, "xlsx", SDMX).data))
    assert book.sheetnames == ["data", "metadata"]
    meta = {r[0]: r[1] for r in book["metadata"].iter_rows(min_row=2, values_only=True)}
    assert meta["series"] == "area_industry" and meta["vintage"] == "3" and meta["release_date"] == "2026-10-20"
    assert meta["cells_primary_suppressed"] == "1" and "conf_status C" in meta
    assert book["data"].max_row == len(FRAME) + 1


def test_parquet_keeps_types_and_metadata():
    table = pq.read_table(io.BytesIO(export(FRAME, RELEASE, "parquet", SDMX).data))
    assert table.schema.field("value").type.to_pandas_dtype() == np.float64
    assert json.loads(table.schema.metadata[b"workbench.release"])["vintage"] == 3
    assert table.to_pandas()["value"].isna().sum() == 2


def test_sdmx_csv_matches_its_data_structure_definition():
    rows = pd.read_csv(io.BytesIO(export(FRAME, RELEASE, "sdmx", SDMX).data), dtype=str, keep_default_na=False)
    assert list(rows.columns) == ["DATAFLOW", "MEASURE", "COUNTY_CODE", "TOWNSHIP_CODE", "INDUSTRY_SECTION",
                                  "TIME_PERIOD", "OBS_VALUE", "CONTRIBUTORS", "CONF_STATUS"]
    assert rows["DATAFLOW"].eq("CN_GCITY_STATS:DF_AREA_INDUSTRY(1.0)").all()
    assert rows["OBS_VALUE"].tolist() == ["", "", "1500.5", "1500.5"]
    root = ET.fromstring(export(FRAME, RELEASE, "dsd", SDMX).data)
    st = f"{{{NS['structure']}}}"
    dsd = root.find(f".//{st}DataStructure")
    assert dsd.get("id") == "DSD_AREA_INDUSTRY" and dsd.get("agencyID") == "CN_GCITY_STATS"
    dims = [d.get("id") for d in dsd.iter(f"{st}Dimension")]
    assert dims == ["MEASURE", "COUNTY_CODE", "TOWNSHIP_CODE", "INDUSTRY_SECTION"]
    assert [d.get("id") for d in dsd.iter(f"{st}TimeDimension")] == ["TIME_PERIOD"]
    assert [a.get("id") for a in dsd.iter(f"{st}Attribute")] == ["CONTRIBUTORS", "CONF_STATUS"]
    assert [m.get("id") for m in dsd.find(f".//{st}MeasureList")] == ["OBS_VALUE"]
    # every code used in the data is in the dimension's code list
    for dim in dims:
        codes = {c.get("id") for c in root.find(f".//{st}Codelist[@id='CL_{dim}']").iter(f"{st}Code")}
        assert set(rows[dim]) <= codes
    flow = root.find(f".//{st}Dataflow")
    assert flow.get("id") == "DF_AREA_INDUSTRY" and flow.find(f"{st}Structure/Ref").get("id") == "DSD_AREA_INDUSTRY"
