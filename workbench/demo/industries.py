"""The slice of GB/T 4754-2017 used in G City, with the economic parameters of each
class: revenue per employee, value-added ratio, trend, cycle sensitivity,
seasonality, electricity intensity, retail share (for 社会消费品零售总额), VAT rate."""

from __future__ import annotations

import pandas as pd

SECTIONS = {
    "A": "农、林、牧、渔业", "C": "制造业", "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业", "F": "批发和零售业", "G": "交通运输、仓储和邮政业", "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业", "K": "房地产业", "L": "租赁和商务服务业",
    "O": "居民服务、修理和其他服务业",
}

# Per section: value-added ratio, annual trend growth, cycle beta, season profile,
# Spring Festival shutdown depth, VAT rate.
SECTION_PARAMS = {
    #     va    growth beta  season   sf     vat
    "A": (0.55, 0.03, 0.3, "agri", 0.10, 0.09),
    "C": (0.25, 0.05, 1.2, "industry", 0.45, 0.13),
    "D": (0.35, 0.04, 0.5, "power", 0.10, 0.13),
    "E": (0.28, 0.03, 1.4, "construction", 0.60, 0.09),
    "F": (0.12, 0.06, 1.0, "retail", 0.15, 0.13),
    "G": (0.35, 0.05, 1.1, "industry", 0.35, 0.09),
    "H": (0.40, 0.05, 1.5, "catering", 0.05, 0.06),
    "I": (0.50, 0.10, 0.6, "service", 0.30, 0.06),
    "K": (0.45, 0.02, 1.6, "realestate", 0.40, 0.09),
    "L": (0.45, 0.06, 0.9, "service", 0.30, 0.06),
    "O": (0.50, 0.04, 0.8, "service", 0.10, 0.06),
}

# class, name, weight, revenue per employee per year (yuan), kWh per 1000 yuan,
# retail share, share of 个体工商户, name keywords, MCC (card merchants)
_CLASSES = [
    ("0111", "稻谷种植", 1.5, 200_000, 15, 0.0, 0.30, "农业 种植", ""),
    ("0313", "猪的饲养", 1.0, 500_000, 20, 0.0, 0.30, "养殖 畜牧", ""),
    ("1311", "稻谷加工", 1.2, 1_500_000, 30, 0.0, 0.05, "米业 粮油", ""),
    ("1419", "其他焙烤食品制造", 1.0, 800_000, 25, 0.0, 0.10, "食品 烘焙", ""),
    ("1711", "棉纺纱加工", 1.2, 900_000, 60, 0.0, 0.0, "纺织 棉纺", ""),
    ("1811", "运动机织服装制造", 1.8, 500_000, 15, 0.0, 0.05, "服饰 制衣", ""),
    ("2614", "有机化学原料制造", 0.6, 3_000_000, 120, 0.0, 0.0, "化工 化学", ""),
    ("3021", "水泥制品制造", 0.8, 1_200_000, 150, 0.0, 0.0, "建材 水泥制品", ""),
    ("3311", "金属结构制造", 1.5, 1_000_000, 50, 0.0, 0.0, "钢结构 金属制品", ""),
    ("3411", "锅炉及辅助设备制造", 0.8, 1_300_000, 35, 0.0, 0.0, "机械 锅炉", ""),
    ("3811", "电动机制造", 0.9, 1_400_000, 30, 0.0, 0.0, "电机 电气", ""),
    ("3979", "其他电子器件制造", 1.0, 1_600_000, 40, 0.0, 0.0, "电子 光电", ""),
    ("4420", "电力供应", 0.2, 5_000_000, 10, 0.0, 0.0, "电力 能源", ""),
    ("4710", "住宅房屋建筑", 2.5, 900_000, 6, 0.0, 0.0, "建筑工程 建设", ""),
    ("4812", "公路工程建筑", 1.0, 1_000_000, 8, 0.0, 0.0, "路桥 市政工程", ""),
    ("5123", "果品、蔬菜批发", 3.0, 3_000_000, 5, 0.10, 0.25, "商贸 农产品", ""),
    ("5174", "五金产品批发", 3.0, 3_000_000, 4, 0.05, 0.25, "五金 贸易", ""),
    ("5211", "百货零售", 1.0, 1_500_000, 12, 1.0, 0.10, "百货 商场", "5311"),
    ("5212", "超级市场零售", 2.0, 1_200_000, 15, 1.0, 0.30, "超市 购物广场", "5411"),
    ("5213", "便利店零售", 3.0, 800_000, 18, 1.0, 0.70, "便利店 便民店", "5499"),
    ("5221", "粮油零售", 2.0, 700_000, 6, 1.0, 0.70, "粮油店 粮油", "5499"),
    ("5232", "服装零售", 3.0, 700_000, 8, 1.0, 0.60, "服装店 服饰", "5651"),
    ("5251", "西药零售", 1.5, 1_000_000, 8, 1.0, 0.40, "大药房 药店", "5912"),
    ("5261", "汽车新车零售", 0.8, 6_000_000, 3, 1.0, 0.0, "汽车销售 汽贸", "5511"),
    ("5265", "机动车燃油零售", 0.6, 5_000_000, 5, 1.0, 0.10, "加油站 石化", "5541"),
    ("5271", "家用视听设备零售", 1.2, 1_500_000, 6, 1.0, 0.40, "电器 数码", "5732"),
    ("5431", "普通货物道路运输", 3.0, 600_000, 4, 0.0, 0.40, "物流 运输", ""),
    ("5920", "通用仓储", 0.8, 800_000, 12, 0.0, 0.05, "仓储 物流园", ""),
    ("6110", "旅游饭店", 0.8, 300_000, 30, 0.3, 0.05, "酒店 宾馆", "7011"),
    ("6210", "正餐服务", 3.0, 300_000, 35, 1.0, 0.50, "餐饮 酒家", "5812"),
    ("6220", "快餐服务", 2.5, 250_000, 30, 1.0, 0.70, "快餐 小吃", "5814"),
    ("6513", "应用软件开发", 1.5, 600_000, 3, 0.0, 0.0, "软件 信息技术", ""),
    ("7010", "房地产开发经营", 1.2, 4_000_000, 2, 0.0, 0.0, "房地产开发 置业", ""),
    ("7221", "企业管理咨询", 3.0, 400_000, 2, 0.0, 0.05, "咨询 企业管理", ""),
    ("8010", "家庭服务", 1.5, 150_000, 2, 0.0, 0.50, "家政 家庭服务", ""),
    ("8111", "汽车修理与维护", 2.0, 300_000, 10, 0.0, 0.60, "汽修 汽车服务", ""),
]

_SECTION_OF_DIVISION = [
    (1, 5, "A"), (13, 43, "C"), (44, 46, "D"), (47, 50, "E"), (51, 52, "F"), (53, 60, "G"),
    (61, 62, "H"), (63, 65, "I"), (70, 70, "K"), (71, 72, "L"), (80, 82, "O"),
]


def section_of(class_code: str) -> str:
    """GB/T 4754-2017 section letter of a 4-digit class code."""
    div = int(class_code[:2])
    for lo, hi, sec in _SECTION_OF_DIVISION:
        if lo <= div <= hi:
            return sec
    raise ValueError(class_code)


def industry_table() -> pd.DataFrame:
    """One row per industry class with every parameter the generator uses."""
    rows = []
    for code, name, weight, rpe, kwh, retail, indiv, kw, mcc in _CLASSES:
        sec = section_of(code)
        va, growth, beta, season, sf, vat = SECTION_PARAMS[sec]
        rows.append(dict(
            class_code=code, class_name=name, division=code[:2], section=sec,
            section_name=SECTIONS[sec], weight=weight, revenue_per_employee=rpe,
            kwh_per_1000_yuan=kwh, retail_share=retail, individual_share=indiv,
            keywords=kw.split(), mcc=mcc, va_ratio=va, growth=growth, beta=beta,
            season=season, sf_depth=sf, vat_rate=vat,
        ))
    df = pd.DataFrame(rows)
    df["weight"] = df["weight"] / df["weight"].sum()
    return df
