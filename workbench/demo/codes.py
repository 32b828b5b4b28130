"""Check characters of Chinese identifiers.

* unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters,
  positions 9-17 hold an organisation code whose own check digit follows GB 11714;
* resident identity number (公民身份号码), GB 11643: 18 characters, ISO 7064 MOD 11-2.

Scalar functions are what the jobs reuse; the ``*_array`` helpers let the
generator make a million codes without a Python loop per code.
"""

from __future__ import annotations

import numpy as np

from workbench.linkage.identifiers import CREDIT_CODE_CHARS as CREDIT_ALPHABET
from workbench.linkage.identifiers import CREDIT_CODE_WEIGHTS as CREDIT_WEIGHTS
from workbench.linkage.identifiers import (  # noqa: F401 - one implementation, re-exported
    CREDIT_VALUE,
    ID_CHECK,
    ID_WEIGHTS,
    ORG_WEIGHTS,
    credit_check_char,
    id_check_char,
    is_valid_credit_code,
    is_valid_id_number,
    org_check_char,
)


def _rows_to_str(chars: np.ndarray) -> np.ndarray:
    """(n, k) array of ASCII codes -> array of Python str."""
    width = chars.shape[1]
    return np.ascontiguousarray(chars.astype(np.uint8)).view(f"S{width}").ravel().astype(str)


def credit_codes_array(authority: np.ndarray, kind: np.ndarray, area: np.ndarray,
                       org_body: np.ndarray) -> np.ndarray:
    """Valid credit codes from parts.

    authority, kind: single digits (ints); area: 6-digit ints; org_body: 8-digit ints.
    """
    n = len(area)
    vals = np.zeros((n, 17), dtype=np.int64)
    vals[:, 0] = authority
    vals[:, 1] = kind
    for k in range(6):
        vals[:, 2 + k] = (area // 10 ** (5 - k)) % 10
    for k in range(8):
        vals[:, 8 + k] = (org_body // 10 ** (7 - k)) % 10
    c9 = 11 - (vals[:, 8:16] * np.array(ORG_WEIGHTS)).sum(axis=1) % 11
    org_check_val = np.where(c9 == 11, 0, c9)  # 10 is X, whose credit value is 30
    vals[:, 16] = np.where(org_check_val == 10, CREDIT_VALUE["X"], org_check_val)
    check = (31 - (vals * np.array(CREDIT_WEIGHTS)).sum(axis=1) % 31) % 31
    alphabet = np.frombuffer(CREDIT_ALPHABET.encode(), dtype=np.uint8)
    chars = np.concatenate([alphabet[vals], alphabet[check][:, None]], axis=1)
    return _rows_to_str(chars)


def id_numbers_array(area: np.ndarray, birth_yyyymmdd: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Valid 18-digit resident ID numbers from area code, birth date and sequence."""
    n = len(area)
    digits = np.zeros((n, 17), dtype=np.int64)
    for k in range(6):
        digits[:, k] = (area // 10 ** (5 - k)) % 10
    for k in range(8):
        digits[:, 6 + k] = (birth_yyyymmdd // 10 ** (7 - k)) % 10
    for k in range(3):
        digits[:, 14 + k] = (seq // 10 ** (2 - k)) % 10
    check = (digits * np.array(ID_WEIGHTS)).sum(axis=1) % 11
    table = np.frombuffer(ID_CHECK.encode(), dtype=np.uint8)
    chars = np.concatenate([digits + ord("0"), table[check][:, None]], axis=1)
    return _rows_to_str(chars)


def corrupt_credit_code(code: str, rng: np.random.Generator) -> str:
    """The same code with a different (hence wrong) final check character."""
    right = code[17]
    choices = [c for c in CREDIT_ALPHABET if c != right]
    return code[:17] + choices[int(rng.integers(len(choices)))]
