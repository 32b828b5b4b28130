"""G City: 4 districts (区, urban) and 4 counties (县), about 60 townships (街道/镇/乡)
with 9-digit codes (6-digit county code + 3-digit township number)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CITY_NAME = "G市"
CITY_CODE = "660100"

# (code, name, urban, township names)
_COUNTIES = [
    ("660102", "中山区", True, "东风 人民 解放 朝阳 向阳 新华 长安 和平".split()),
    ("660103", "滨江区", True, "江滨 望江 临江 沙洲 码头 金沙 龙湾 月湖".split()),
    ("660104", "新城区", True, "新城 高新 科技园 金桥 翠苑 明珠 阳光 锦绣".split()),
    ("660105", "北湖区", True, "北湖 湖东 湖西 柳林 荷塘 龙泉 文昌 书院".split()),
    ("660121", "友谊县", False, "友谊 红旗 前进 胜利 民主 团结 建设 五一".split()[:7]),
    ("660122", "丰收县", False, "丰收 稻香 麦田 桑园 双河 石桥 杨庄".split()),
    ("660123", "青山县", False, "青山 松林 白云 清溪 马鞍 龙潭 凤凰".split()),
    ("660124", "长乐县", False, "长乐 永安 太平 福田 黄岗 梅岭 三江".split()),
]

ROADS = "人民路 建设路 解放大道 中山路 新华街 光明路 胜利路 和平路 文化路 工业大道 " \
        "滨江路 长江路 黄河路 幸福路 友谊路 民主路 东风路 迎宾大道 创业路 科技路".split()


@dataclass(frozen=True)
class Geography:
    """Tables of the city's areas, as parallel arrays for vectorised draws."""
    county_codes: list[str]
    county_names: list[str]
    county_urban: list[bool]
    township_codes: np.ndarray     # str
    township_names: np.ndarray     # str
    township_county: np.ndarray    # index into county_* lists
    township_urban: np.ndarray     # bool


def build_geography() -> Geography:
    """The fixed geography of G City (no randomness: the same in every run)."""
    t_codes, t_names, t_county, t_urban = [], [], [], []
    for ci, (code, _name, urban, towns) in enumerate(_COUNTIES):
        for k, stem in enumerate(towns):
            # statistical division practice: 街道 001-099, 镇 100-199, 乡 200-399
            if urban:
                suffix, number = "街道", k + 1
            elif k < len(towns) - 2:
                suffix, number = "镇", 100 + k + 1
            else:
                suffix, number = "乡", 200 + k + 1
            t_codes.append(f"{code}{number:03d}")
            t_names.append(stem + suffix)
            t_county.append(ci)
            t_urban.append(urban)
    return Geography(
        county_codes=[c[0] for c in _COUNTIES],
        county_names=[c[1] for c in _COUNTIES],
        county_urban=[c[2] for c in _COUNTIES],
        township_codes=np.array(t_codes),
        township_names=np.array(t_names),
        township_county=np.array(t_county),
        township_urban=np.array(t_urban),
    )
