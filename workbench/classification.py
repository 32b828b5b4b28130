"""GB/T 4754-2017 industry classification: division (2 digits) -> section (letter)."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# (first division, last division, section, Chinese title)
SECTIONS = (
    (1, 5, "A", "农、林、牧、渔业"), (6, 12, "B", "采矿业"), (13, 43, "C", "制造业"),
    (44, 46, "D", "电力、热力、燃气及水生产和供应业"), (47, 50, "E", "建筑业"), (51, 52, "F", "批发和零售业"),
    (53, 60, "G", "交通运输、仓储和邮政业"), (61, 62, "H", "住宿和餐饮业"), (63, 65, "I", "信息传输、软件和信息技术服务业"),
    (66, 69, "J", "金融业"), (70, 70, "K", "房地产业"), (71, 72, "L", "租赁和商务服务业"),
    (73, 75, "M", "科学研究和技术服务业"), (76, 79, "N", "水利、环境和公共设施管理业"),
    (80, 82, "O", "居民服务、修理和其他服务业"), (83, 83, "P", "教育"), (84, 85, "Q", "卫生和社会工作"),
    (86, 90, "R", "文化、体育和娱乐业"), (91, 96, "S", "公共管理、社会保障和社会组织"), (97, 97, "T", "国际组织"),
)


def section_of_division(division: int) -> str | None:
    return next((s for lo, hi, s, _ in SECTIONS if lo <= division <= hi), None)


def section_col(industry_code: Column) -> Column:
    """Section letter from a GB/T 4754 code such as '5212' (class) or '52' (division)."""
    division = F.substring(F.regexp_replace(industry_code, r"^[A-Z]", ""), 1, 2).try_cast("int")
    expr = F.lit(None).cast("string")
    for lo, hi, section, _ in reversed(SECTIONS):
        expr = F.when(division.between(lo, hi), F.lit(section)).otherwise(expr)
    return expr
