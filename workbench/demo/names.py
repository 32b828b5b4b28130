"""Chinese names, addresses and phone numbers, and the loose ways other sources
write an enterprise's name or address (abbreviations, branch words, full-width
characters, typos). All characters are in GBK so every source can be GBK-encoded."""

from __future__ import annotations

import numpy as np

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅志强海燕文波辉鹏")
TRADE_1 = list("鑫华兴盛泰丰宏达恒隆金源瑞祥永安嘉信德利富康宝新天海博佳顺荣广汇通诚鼎昌合远")
TRADE_2 = list("达盛源泰丰茂昌隆发兴华通鑫宇辉腾航创联成业福润邦旺远凯升瑞成和信诺")
# characters that typists and OCR confuse (for job-ad typos)
TYPO = {"鑫": "金", "达": "大", "华": "化", "盛": "胜", "源": "元", "泰": "太", "丰": "风", "宏": "洪",
        "隆": "龙", "恒": "衡", "祥": "详", "瑞": "锐", "嘉": "佳", "德": "得", "富": "福", "博": "搏",
        "顺": "顺", "荣": "容", "汇": "会", "诚": "城", "鼎": "顶", "昌": "常", "茂": "贸", "辉": "晖",
        "腾": "滕", "航": "杭", "创": "创", "联": "连", "邦": "帮", "旺": "望", "凯": "恺", "升": "生"}
SUFFIX_COMPANY = ["有限公司", "有限责任公司", "股份有限公司"]
BRANCH_WORDS = ["一分厂", "二车间", "（二分厂）", "分公司", "配电房", "（新厂区）", "办公楼", "门市部"]
CN_DIGITS = "〇一二三四五六七八九"
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ()-"}
FULL_WIDTH["("] = "（"
FULL_WIDTH[")"] = "）"


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """n Chinese personal names (surname + 1 or 2 given characters)."""
    s = np.array(SURNAMES)[rng.integers(len(SURNAMES), size=n)]
    g1 = np.array(GIVEN)[rng.integers(len(GIVEN), size=n)]
    g2 = np.where(rng.random(n) < 0.6, np.array(GIVEN)[rng.integers(len(GIVEN), size=n)], "")
    return np.char.add(np.char.add(s, g1), g2).astype(object)


def mobile_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """n mainland mobile numbers (11 digits, 13x-19x prefixes)."""
    prefix = np.array([130, 131, 132, 135, 136, 137, 138, 139, 150, 151, 158, 159, 186, 187, 188, 189, 199])
    p = prefix[rng.integers(len(prefix), size=n)]
    rest = rng.integers(0, 10 ** 8, size=n)
    return np.array([f"{a}{b:08d}" for a, b in zip(p.tolist(), rest.tolist())], dtype=object)


def trade_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two-character trade names (字号), e.g. 鑫达."""
    a = np.array(TRADE_1)[rng.integers(len(TRADE_1), size=n)]
    b = np.array(TRADE_2)[rng.integers(len(TRADE_2), size=n)]
    return np.char.add(a, b)


def cn_number(k: int) -> str:
    """12 -> 一二 (how house numbers are sometimes written out)."""
    return "".join(CN_DIGITS[int(d)] for d in str(k))


def to_full_width(text: str) -> str:
    return "".join(FULL_WIDTH.get(c, c) for c in text)


def abbreviate(name: str, place_prefixes: tuple[str, ...]) -> str:
    """Drop the place prefix and the legal-form suffix: G市鑫达食品有限公司 -> 鑫达食品."""
    for p in place_prefixes:
        if name.startswith(p):
            name = name[len(p):]
            break
    for suf in ("股份有限公司", "有限责任公司", "有限公司"):
        if name.endswith(suf):
            return name[: -len(suf)]
    return name


def typo(name: str, rng: np.random.Generator) -> str:
    """Replace one confusable character (if any) with its look- or sound-alike."""
    positions = [i for i, c in enumerate(name) if c in TYPO and TYPO[c] != c]
    if not positions:
        return name
    i = positions[int(rng.integers(len(positions)))]
    return name[:i] + TYPO[name[i]] + name[i + 1:]


def address_variant(address: str, county: str, rng: np.random.Generator) -> str:
    """The same address written slightly differently: county dropped, number in
    Chinese numerals, 号 -> 號 or an added 院/附近."""
    out = address
    r = rng.random()
    if r < 0.35 and out.startswith(county):
        out = out[len(county):]
    elif r < 0.6:
        digits = "".join(c for c in out if c.isdigit())
        if digits:
            out = out.replace(digits, cn_number(int(digits)), 1)
    elif r < 0.75:
        out = out.replace("号", "號")
    elif r < 0.9:
        out = to_full_width(out)
    else:
        out = out + "院内"
    return out
