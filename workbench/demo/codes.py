"""Check characters of Chinese identifiers.

* unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters,
  positions 9-17 hold an organisation code whose own check digit follows GB 11714;
* resident identity number (公民身份号码), GB 11643: 18 characters, ISO 7064 MOD 11-2.

Scalar functions are what the jobs reuse; the ``*_array`` helpers let the
generator make a million codes without a Python loop per code.
"""

from __future__ import annotations

import numpy as np

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_ALPHABET)}
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def credit_check_char(first17: str) -> str:
    """GB 32100-2015 check character for the first 17 characters."""
    total = sum(CREDIT_VALUE[c] * w for c, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def org_check_char(body8: str) -> str:
    """GB 11714 organisation-code check character for an 8-character body."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, ORG_WEIGHTS))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


def is_valid_credit_code(code: object) -> bool:
    """True when ``code`` is an 18-character credit code whose organisation code
    (positions 9-17) and final character both carry valid check characters."""
    if not isinstance(code, str) or len(code) != 18:
        return False
    code = code.upper()
    if any(c not in CREDIT_VALUE for c in code):
        return False
    org = code[8:17]
    if not org[:8].isalnum() or any(c not in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" for c in org[:8]):
        return False
    if org_check_char(org[:8]) != org[8]:
        return False
    return credit_check_char(code[:17]) == code[17]


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of an 18-digit resident ID number."""
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def is_valid_id_number(number: object) -> bool:
    """True when ``number`` is 17 digits plus a correct MOD 11-2 check character."""
    if not isinstance(number, str) or len(number) != 18 or not number[:17].isdigit():
        return False
    return id_check_char(number[:17]) == number[17].upper()


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
