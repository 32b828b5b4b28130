"""Match keys for Chinese enterprise names and addresses, as Spark expressions.

Records from different departments spell the same enterprise differently:
full-width letters and digits, spaces, brackets, the legal-form suffix, a branch
word. The match key removes exactly those differences and nothing else, so that
deterministic linkage on the key is safe and probabilistic linkage (its own
module) starts from clean text.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# Full-width ASCII (U+FF01..U+FF5E) maps to ASCII (U+0021..U+007E); U+3000 is the ideographic space.
_FULL = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALF = "".join(chr(c) for c in range(0x21, 0x7F)) + " "

# Longest first, so 有限责任公司 is removed whole rather than leaving 有限责任.
LEGAL_FORM_SUFFIXES = (
    "股份有限公司", "有限责任公司", "有限公司", "集团公司", "个体工商户", "合伙企业", "个人独资企业", "分公司", "公司", "厂", "店",
)
_PUNCT = r"[\s\(\)\[\]（）【】<>《》·.,，。、\-—_/\\'\"“”‘’:：;；]"


def halfwidth(col: Column) -> Column:
    return F.translate(col, _FULL, _HALF)


def name_key(col: Column) -> Column:
    """Upper-case half-width name without punctuation, branch part or legal-form suffix."""
    text = F.upper(halfwidth(col))
    text = F.regexp_replace(text, r"[（(][^）)]*[）)]", "")  # bracketed branch or place notes
    text = F.regexp_replace(text, _PUNCT, "")
    text = F.regexp_replace(text, r"[^省市县区]{0,8}分(公司|店|厂)$", "")  # trailing branch name
    text = F.regexp_replace(text, "(" + "|".join(LEGAL_FORM_SUFFIXES) + ")$", "")
    return F.nullif(text, F.lit(""))


def address_key(col: Column) -> Column:
    """Half-width address without punctuation or spaces; 号/号楼 variants unified."""
    text = F.upper(halfwidth(col))
    text = F.regexp_replace(text, _PUNCT, "")
    text = F.regexp_replace(text, "号楼", "栋")
    return F.nullif(text, F.lit(""))


# ---- Python (pandas) standardisation for probabilistic linkage --------------------
#
# Splink runs on DuckDB over Arrow, so its inputs are standardised here in pandas
# (vectorised regular expressions) rather than in Spark. The rules extend the
# match key above: a probabilistic model can afford to strip more (place prefixes,
# branch words) because it weighs the remaining evidence instead of trusting it.

import re  # the Spark section above needs no imports beyond pyspark

import pandas as pd

_FW_TABLE = str.maketrans(_FULL, _HALF)
_PUNCT_RE = _PUNCT
# A leading administrative unit (G市, 中山区, 友谊县, 某某镇...): written or dropped at
# will by other departments, so it carries no evidence either way. Removed one unit at a
# time, and only while at least three characters remain (丰太超市 is a name, not a city).
_PLACE_RE = r"^[^省市区县镇乡]{1,3}(?:自治区|省|市(?!政|场)|区|县|镇|乡|街道)"  # 市政, 市场 are words
_PLACE_PASSES = 3
# Trailing branch or site words: 一分厂, 二车间, 配电房, 门市部, 人民路店, 新厂区 ...
_NUM = "一二三四五六七八九十〇0-9"
_BRANCH_RE = (rf"(?:[{_NUM}]+(?:分厂|车间|厂区|厂|分店|号店)|分公司|分店|分厂|配电房|办公楼|门市部|新厂区|厂区|"
              rf"营业部|经营部|[^省市区县]{{0,4}}路店)$")
_LEGAL_RE = "(?:" + "|".join(LEGAL_FORM_SUFFIXES) + ")$"
_CN_DIGIT = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")}
_LATIN_LEGAL = r"\b(?:limited|ltd|inc|incorporated|co|company|corp|corporation|llc|plc|gmbh|sa|ag|bv|the)\b"


def _halfwidth_upper(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.translate(_FW_TABLE).str.upper()


def name_core(names: pd.Series) -> pd.Series:
    """The distinctive part of a Chinese enterprise name: half-width, no punctuation,
    no bracketed note, no trailing branch word or legal form, no leading place names.

    ``G市鑫达食品有限公司一分厂`` and ``鑫达食品`` both give ``鑫达食品``. Empty -> None.
    """
    s = _halfwidth_upper(names)
    s = s.str.replace(r"[（(][^）)]*[）)]", "", regex=True).str.replace(_PUNCT_RE, "", regex=True)
    for _ in range(2):  # 鑫达食品有限公司一分厂: branch word, then legal form, then again
        s = s.str.replace(_BRANCH_RE, "", regex=True).str.replace(_LEGAL_RE, "", regex=True)
    s = _strip_places(s)
    return s.where(s != "", None)


def _strip_places(s: pd.Series, keep: int = 3) -> pd.Series:
    for _ in range(_PLACE_PASSES):
        stripped = s.str.replace(_PLACE_RE, "", regex=True)
        s = stripped.where(stripped.str.len() >= keep, s)
    return s


def _digits(match: re.Match) -> str:
    return "".join(_CN_DIGIT[c] for c in match.group(0))


def address_core(addresses: pd.Series) -> pd.Series:
    """An address without width, punctuation, numeral-style or place-prefix differences:
    Chinese house numbers become digits, 號 becomes 号, 院内/附近 go, leading
    administrative units go (the county is compared on its own where a source has it)."""
    s = _halfwidth_upper(addresses).str.replace(_PUNCT_RE, "", regex=True)
    s = s.str.replace("號", "号", regex=False).str.replace("号楼", "栋", regex=False)
    s = s.str.replace(r"[〇一二三四五六七八九]+(?=号)", _digits, regex=True)
    s = s.str.replace(r"(?:院内|附近|旁)$", "", regex=True)
    s = _strip_places(s)
    return s.where(s != "", None)


def latin_name_key(names: pd.Series) -> pd.Series:
    """Latin-script names: lower case, no punctuation, no legal-form words, single spaces."""
    s = names.fillna("").astype(str).str.translate(_FW_TABLE).str.lower()
    s = s.str.replace(r"[^\w\s]", " ", regex=True).str.replace(_LATIN_LEGAL, " ", regex=True)
    s = s.str.replace(r"\s+", " ", regex=True).str.strip()
    return s.where(s != "", None)


def char_ngrams(texts: pd.Series, n: int = 2) -> pd.Series:
    """Sorted distinct character n-grams of each text (a whole short text is its own gram);
    Chinese has no word boundaries, so overlap of bigrams measures shared words."""
    def grams(t):
        if not isinstance(t, str) or not t:
            return None
        if len(t) <= n:
            return [t]
        return sorted({t[i:i + n] for i in range(len(t) - n + 1)})
    return texts.map(grams)


def pinyin_key(texts: pd.Series) -> pd.Series:
    """Toneless pinyin of each text: 宏大置业 and 宏达置业 both give ``hongdazhiye``.

    Typists and speech input swap homophones (达/大, 恒/衡, 汇/会); equal pinyin with
    unequal characters is such a slip, not a different firm. Characters are looked up
    once each (pypinyin's default reading), so millions of names stay cheap.
    """
    from pypinyin import Style, lazy_pinyin

    chars = sorted({c for t in texts.dropna().unique() for c in t})
    table = {c: (lazy_pinyin(c, style=Style.NORMAL) or [c])[0] for c in chars}
    return texts.map(lambda t: "".join(table[c] for c in t) if isinstance(t, str) and t else None)
