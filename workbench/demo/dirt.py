"""Deliberate dirt, always counted: each injector changes distinct rows and
returns how many it changed, so the manifest can say exactly what is wrong where."""

from __future__ import annotations

from collections import Counter

import numpy as np

from workbench.demo.codes import corrupt_credit_code

NON_NUMERIC = ["--", "无", "1O5.20", "#VALUE!", "待核实", "N/A"]
IMPOSSIBLE_EMPLOYMENT = "10000000"


def inject_csv_rows(rows: list[list[str]], rng: np.random.Generator, rates: dict[str, float],
                    code_col: int | None = None, amount_col: int | None = None,
                    count_col: int | None = None) -> Counter:
    """Damage some rows in place. Kinds (each row gets at most one):

    invalid_credit_code  credit code with a wrong check character (code_col)
    negative_value       the amount negated (amount_col)
    non_numeric          the amount replaced by text (amount_col)
    impossible_value     a head count of 10^7 (count_col)
    wrong_field_count    a field dropped or an extra one added
    """
    counts: Counter = Counter()
    n = len(rows)
    if n == 0:
        return counts
    free = np.ones(n, dtype=bool)
    for kind, rate in rates.items():
        k = int(rng.binomial(n, rate))
        idx = np.flatnonzero(free)
        if k == 0 or len(idx) == 0:
            continue
        chosen = rng.choice(idx, size=min(k, len(idx)), replace=False)
        for i in sorted(chosen.tolist()):
            r = rows[i]
            if kind == "invalid_credit_code":
                if not r[code_col]:
                    continue
                r[code_col] = corrupt_credit_code(r[code_col], rng)
            elif kind == "negative_value":
                if not r[amount_col] or r[amount_col].startswith("-") or float(r[amount_col]) == 0:
                    continue
                r[amount_col] = "-" + r[amount_col]
            elif kind == "non_numeric":
                r[amount_col] = NON_NUMERIC[int(rng.integers(len(NON_NUMERIC)))]
            elif kind == "impossible_value":
                r[count_col] = IMPOSSIBLE_EMPLOYMENT
            elif kind == "wrong_field_count":
                rows[i] = r[:-1] if rng.random() < 0.5 else r + ["备注"]
            else:
                raise ValueError(kind)
            free[i] = False
            counts[kind] += 1
    return counts
