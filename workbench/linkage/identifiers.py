"""Unified social credit codes (GB 32100-2015): check character, in Python and in Spark.

The Spark expression lets silver jobs flag invalid codes at engine speed without a
Python UDF; the Python function is the reference it is tested against.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# GB 32100-2015 character set: digits and 21 capital letters (no I, O, Z, S, V).
CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_CODE_CHARS.index(ch) * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def is_valid_credit_code(code: str | None) -> bool:
    if not code or len(code) != 18 or any(ch not in CREDIT_CODE_CHARS for ch in code):
        return False
    return credit_code_check_char(code[:17]) == code[17]


def credit_code_valid(col: Column) -> Column:
    """Spark column: true when *col* is an 18-character code with the right check character."""
    code = F.upper(F.trim(col))
    values = [F.instr(F.lit(CREDIT_CODE_CHARS), F.substring(code, i + 1, 1)) - 1 for i in range(18)]
    total = values[0] * CREDIT_CODE_WEIGHTS[0]
    for v, w in zip(values[1:17], CREDIT_CODE_WEIGHTS[1:]):
        total = total + v * w
    expected = (F.lit(31) - total % 31) % 31
    all_known = values[0] >= 0
    for v in values[1:]:
        all_known = all_known & (v >= 0)
    return F.coalesce((F.length(code) == 18) & all_known & (values[17] == expected), F.lit(False))
