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
