"""An attacker on a published hierarchical table, written apart from workbench.disclosure.

Given only what is published (one row per cell, with ``_T`` totals and ``None`` for a
suppressed value) the attacker rebuilds the table's additivity from the keys, then
solves two linear programmes per suppressed cell (scipy's ``linprog``): the smallest
and largest value the cell can take so that every published margin still adds up and
no cell is negative. If the published values show negatives, the attacker drops the
sign restriction (it would be false knowledge), as it does when the LP with it is
infeasible. Nothing here imports the suppression code, so a bug there cannot hide
itself in the check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linprog

TOTAL = "_T"


def published_equations(table: pd.DataFrame, geography: list[str], category: str) -> list[list[tuple[int, float]]]:
    """Each equation as [(row position, coefficient)]: a total minus its parts is 0."""
    keys = [*geography, category]
    rows = {tuple(r): i for i, r in enumerate(table[keys].astype(str).itertuples(index=False, name=None))}
    groups: dict[tuple, list[int]] = {}
    for key, i in rows.items():
        *geo, cat = key
        if cat != TOTAL:
            groups.setdefault(("by category", *geo, TOTAL), []).append(i)
        depth = next((k for k, g in enumerate(geo) if g == TOTAL), len(geo))
        if depth > 0:
            parent = tuple(geo[:depth - 1]) + (TOTAL,) * (len(geo) - depth + 1)
            groups.setdefault(("by area", *parent, cat), []).append(i)
    eqs = []
    for (_, *total_key), parts in groups.items():
        eqs.append([(rows[tuple(total_key)], 1.0)] + [(p, -1.0) for p in parts])
    return eqs


def intervals(table: pd.DataFrame, geography: list[str], category: str, value: str = "value") -> pd.DataFrame:
    """The attacker's [low, high] for every suppressed cell of one published table."""
    table = table.reset_index(drop=True)
    # in units of the largest published value, so that HiGHS' absolute tolerances fit any currency
    scale = max(float(np.nanmax(np.abs(table[value].to_numpy(dtype=float)), initial=1.0)), 1.0)
    values = table[value].to_numpy(dtype=float) / scale
    hidden = np.flatnonzero(np.isnan(values))
    col = {c: k for k, c in enumerate(hidden)}
    a_eq, b_eq = [], []
    for eq in published_equations(table, geography, category):
        row = np.zeros(len(hidden))
        rhs = 0.0
        for i, coef in eq:
            if i in col:
                row[col[i]] += coef
            else:
                rhs -= coef * values[i]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    known = values[~np.isnan(values)]
    sign = (0, None) if (known >= 0).all() else (None, None)
    out = []
    for i in hidden:
        c = np.zeros(len(hidden))
        c[col[i]] = 1.0
        bounds = []
        for direction in (1.0, -1.0):
            res = linprog(direction * c, A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=sign, method="highs")
            if res.status == 2 and sign == (0, None):  # infeasible: the sign restriction is false here
                res = linprog(direction * c, A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=(None, None),
                              method="highs")
            if res.status == 3:
                bounds.append(-np.inf if direction > 0 else np.inf)
            else:
                assert res.status == 0, res.message
                bounds.append(direction * res.fun * scale)
        out.append({**{k: table.loc[i, k] for k in [*geography, category]}, "low": bounds[0], "high": bounds[1]})
    return pd.DataFrame(out, columns=[*geography, category, "low", "high"])
