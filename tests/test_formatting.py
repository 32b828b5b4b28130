"""The one formatting layer (workbench.formatting) and quarantine causes (workbench.quarantine).

Pure functions on literal values; the expected strings are what a Chinese statistical yearbook
prints (thousands separators, 万元 to one decimal, months with their year).
"""

from __future__ import annotations

import pandas as pd
import pytest

from workbench import formatting
from workbench.quarantine import cause_of, causes


def test_money_is_shown_in_the_unit_the_variable_says():
    assert formatting.format_value(123456789.123, "vat_sales", "zh") == "12,345.7 万元"
    assert formatting.format_value(123456789.123, "vat_sales", "en") == "12,345.7 10k yuan"
    assert formatting.format_value(1234.5, "sales_amount", "zh") == "1,235 元"
    assert formatting.format_value(None, "vat_sales", "zh") == "—"


def test_rates_and_cvs_to_a_tenth_of_a_per_cent():
    assert formatting.format_value(0.07345, "cv", "zh") == "7.3%"
    assert formatting.format_percent(0.99951) == "100.0%"


def test_months_carry_their_year_in_the_ui_language():
    assert formatting.format_month("2026-08-01", "zh") == "2026年8月"
    assert formatting.format_month(pd.Timestamp("2026-08-31"), "en") == "Aug 2026"
    assert formatting.reference_period(["2025-01", "2026-08", "2026-03"], "zh") == "2025年1月至2026年8月"


def test_codes_carry_their_names():
    reg = formatting.registry()
    assert reg.code_label("industry_section", "C", "zh") == "C 制造业"
    assert reg.code_label("industry_section", "C", "en") == "C Manufacturing"
    assert reg.code_label("township_code", "660102001", "zh") == "660102001 东风街道"
    assert reg.code_label("county_code", "_T", "en") == "Total"
    assert reg.code_label("township_code", "999999999", "zh") == "999999999"  # unknown: the code itself
    assert reg.indicator("card_spending_mcc_5311").heading("zh") == "银行卡消费：百货商店（万元）"


def test_format_table_labels_scales_and_keeps_numbers_numeric():
    df = pd.DataFrame({"area": ["660102001"], "eblup": [1.5e6], "eblup_cv": [0.1234], "n": [7]})
    shown = formatting.format_table(df, "zh", variables={"eblup": "revenue"})
    assert shown.frame.loc[0, "area"] == "660102001 东风街道"
    assert shown.frame.loc[0, "eblup"] == pytest.approx(150.0)  # 1.5 million yuan = 150 万元
    assert shown.frame.loc[0, "eblup_cv"] == pytest.approx(12.34)
    assert shown.columns["eblup"].heading == "模型估计（EBLUP）（万元）" and shown.columns["eblup"].printf == "%,.1f"
    assert shown.columns["eblup_cv"].printf == "%,.1f %%"
    assert shown.columns["n"].printf == "%,.0f"


def test_intervals_of_a_nonnegative_variable_stop_at_zero():
    var = formatting.registry().column("revenue")
    point, low, high, cut = formatting.shown_interval(pd.Series([1e4, 5e6]), pd.Series([-3e4, 4e6]),
                                                      pd.Series([5e4, 6e6]), var)
    assert low.tolist() == [0.0, 400.0] and cut.tolist() == [True, False] and high.tolist() == [5.0, 600.0]


def test_owner_in_the_ui_language():
    assert formatting.bilingual("市场监督管理局 (Market Regulation Bureau)", "zh") == "市场监督管理局"
    assert formatting.bilingual("市场监督管理局 (Market Regulation Bureau)", "en") == "Market Regulation Bureau"


def test_chart_locale_names_months_in_chinese():
    assert formatting.chart_locale("zh")["time"]["shortMonths"][7] == "8月"


# ---- quarantine causes: the reasons the demo's deliveries produce --------------------------

REASONS = [
    ("vat/vat_2018-03.csv row 804: field 销售额 (sales_amount): '#VALUE!' is not a valid decimal", 1),
    ("vat/vat_2018-05.csv row 614: field 销售额 (sales_amount): '无' is not a valid decimal", 1),
    ("prices/prices_2021-01.jsonl row 507: required field price (price) is empty", 1),
    ("register/register_2025-12.csv row 3857: 13 field(s), expected 12", 1),
    ("file rejected: electricity/elec_2021-09.csv: header(s) ['本月电量'] match no column of the electricity "
     "contract (conf/sources.toml); known headers: ['户号']", 2906),
    ("something new", 1),
]


def test_causes_separate_the_reason_from_its_file_and_row():
    c = cause_of(REASONS[0][0])
    assert (c.code, c.field, c.header, c.expected) == ("invalid_value", "sales_amount", "销售额", "decimal")
    assert cause_of(REASONS[1][0]) == c  # another file, row and value: the same cause
    assert cause_of(REASONS[2][0]).code == "required_empty"
    assert cause_of(REASONS[3][0]).code == "field_count" and cause_of(REASONS[3][0]).expected == "12"
    assert cause_of("something new").code == "other" and cause_of("something new").text == "something new"


def test_causes_count_rows_largest_first():
    table = causes(pd.DataFrame(REASONS, columns=["reason", "count"]))
    assert table["rows"].tolist() == [2906, 2, 1, 1, 1]
    assert table.loc[1, "code"] == "invalid_value" and len(table.loc[1, "reasons"]) == 2
    assert table["rows"].sum() == sum(n for _, n in REASONS)


def test_a_result_table_downloads_as_it_is_shown():
    """CSV with BOM, headings with units, values at the shown precision (issue 21: no export)."""
    import io

    import openpyxl

    df = pd.DataFrame({"area": ["660102001"], "eblup": [1_512_345.678], "eblup_cv": [0.12345]})
    data = formatting.table_file(df, "zh", "csv", {"eblup": "revenue"})
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines() == ["乡镇街道,模型估计（EBLUP）（万元）,模型估计变异系数（%）",
                                                     "660102001 东风街道,151.2,12.3"]
    book = openpyxl.load_workbook(io.BytesIO(formatting.table_file(df, "en", "xlsx", {"eblup": "revenue"})))
    assert [c.value for c in book["data"][1]] == ["Township", "Model estimate (EBLUP) (10k yuan)", "Model CV (%)"]
    assert book["data"]["B2"].value == 151.2


def test_a_design_effect_far_below_one_is_not_shown_as_zero():
    """The demo's calibrated, size-stratified survey has design effects of 0.003 to 0.03:
    two decimals showed every one of them as 0.00 on the Estimates page."""
    from workbench.formatting import format_value, registry

    deff = registry().column("deff")
    assert deff.places == 3
    assert format_value(0.002558, deff, "zh") == "0.003" and format_value(0.018310, deff, "en") == "0.018"


@pytest.mark.parametrize("value, zh, en", [
    ("2026Q2", "2026年第2季度", "Q2 2026"),            # a quarterly series' period as stored (GDP)
    (pd.Period("2026Q3", freq="Q"), "2026年第3季度", "Q3 2026"),
    (pd.Period("2026-08", freq="M"), "2026年8月", "Aug 2026"),
    ("2026-08", "2026年8月", "Aug 2026"),
])
def test_a_quarterly_period_is_said_as_its_quarter_never_as_a_month(value, zh, en):
    assert (formatting.format_month(value, "zh"), formatting.format_month(value, "en")) == (zh, en)


def test_a_change_in_log_growth_is_shown_in_percentage_points_without_a_negative_zero():
    """A nowcast's news moves its log growth by -0.0093 (a fraction): that is -0.93 pp; a move
    of -0.00001 reads 0.00, not -0.00."""
    impact = formatting.Variable("impact_growth", "对增长率的影响", "Impact on growth", unit="fraction",
                                 display_unit="percent_points")
    shown = formatting.format_table(pd.DataFrame({"impact_growth": [-0.0093, -0.00001]}), "zh",
                                    {"impact_growth": impact})
    assert shown.frame["impact_growth"].tolist() == pytest.approx([-0.93, 0.0], abs=1e-12)
    assert str(shown.frame["impact_growth"].iloc[1]) == "0.0"  # not -0.001, which prints -0.00
    assert shown.columns["impact_growth"].heading == "对增长率的影响（个百分点）"


def test_a_rules_detail_names_its_values_in_their_units():
    """The values a quality rule looked at, as the engine wrote them, read with labels and units:
    revenue on the survey form is in 万元, VAT sales are stored in yuan and shown in 万元."""
    detail = "revenue_10k=62310395.63, vat_sales=59956932.33"
    assert formatting.detail_text(detail, "zh") == "上报营业收入 62,310,395.6 万元；增值税销售额 5,995.7 万元"
    assert formatting.detail_text("revenue_10k=5892.64, prev_revenue_10k=57157328.87", "en") == \
        "Revenue reported 5,892.6 10k yuan; Revenue reported, previous period 57,157,328.9 10k yuan"
    assert formatting.detail_text("revenue_10k=50333.91, employment=2", "zh").endswith("从业人员 2 人")
    assert formatting.detail_text("something else, x=1", "zh") == "something else；x=1"  # kept as written


def test_an_industry_class_code_names_its_section():
    assert formatting.industry_text("5213", "zh") == "5213（F 批发和零售业）"
    assert formatting.industry_text("5213", "en") == "5213 (F Wholesale and retail trade)"
    assert formatting.industry_text(None, "zh") == "—" and formatting.industry_text("99x", "en") == "99x"
