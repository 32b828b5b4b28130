"""Hierarchical tables as cells and linear equations (pure pandas/NumPy).

A release table such as township x industry section x month is published with its
margins: county rows (townships summed), the city row, and a total over sections
for each of them. All of these cells are one linear system: every margin equals the
sum of the cells below it. Treating the linked tables (townships, counties, city)
as one system is what makes suppression consistent: a county x section cell is one
cell, suppressed in every table it appears in.

Each cell carries the statistics the primary rules need: the number of contributors
``n``, the ``total``, and the largest contributions ``top1 .. topN``. Margins are
built from the finest cells: counts and totals add up, and the N largest
contributions of a union are among the N largest of each part.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

TOTAL = "_T"  # SDMX's code for a total


def top_columns(frame: pd.DataFrame) -> list[str]:
    return sorted((c for c in frame.columns if c.startswith("top") and c[3:].isdigit()), key=lambda c: int(c[3:]))


def hierarchical_cells(finest: pd.DataFrame, geography: Sequence[str], category: str) -> pd.DataFrame:
    """Every cell of the table at every level, from the finest cells.

    *finest* has one row per finest cell: the *geography* columns (top level first),
    *category*, ``n``, ``total`` and ``top1 .. topN`` (optionally ``magnitude``, the sum
    of absolute contributions, and ``minimum``, the smallest contribution). Levels above are marked with
    :data:`TOTAL` in the columns they sum over. Rows are sorted by their keys.
    """
    geography = list(geography)
    tops = top_columns(finest)
    keys = [*geography, category]
    parts = []
    for level in range(len(geography), -1, -1):
        kept = geography[:level]
        for by_category in (True, False):
            by = kept + ([category] if by_category else [])
            if by == keys:
                part = finest[keys + sums(finest) + tops].copy()
            else:
                part = _aggregate(finest, by, tops)
            for col in keys:
                if col not in by:
                    part[col] = TOTAL
            parts.append(part[keys + sums(finest) + tops])
    cells = pd.concat(parts, ignore_index=True)
    return cells.sort_values(keys, kind="mergesort").reset_index(drop=True)


def sums(frame: pd.DataFrame) -> list[str]:
    """The additive statistics a cell carries (and ``minimum``, which aggregates by min)."""
    return [c for c in ("n", "total", "magnitude", "minimum") if c in frame.columns]


def _aggregate(finest: pd.DataFrame, by: list[str], tops: list[str]) -> pd.DataFrame:
    how = {c: ("min" if c == "minimum" else "sum") for c in sums(finest)}
    if by:
        sums_ = finest.groupby(by, sort=False, as_index=False).agg(how)
    else:
        sums_ = pd.DataFrame({c: [finest[c].agg(f)] for c, f in how.items()})
    if not tops:
        return sums_
    long = finest[by + tops].melt(id_vars=by, value_vars=tops, value_name="v").dropna(subset=["v"])
    long = long.sort_values("v", ascending=False, kind="mergesort")
    rank = long.groupby(by, sort=False).cumcount() if by else pd.Series(np.arange(len(long)), index=long.index)
    long = long[rank < len(tops)].assign(rank=rank[rank < len(tops)] + 1)
    if by:
        wide = long.pivot_table(index=by, columns="rank", values="v", aggfunc="first")
        wide.columns = [f"top{int(c)}" for c in wide.columns]
        out = sums_.merge(wide.reset_index(), on=by, how="left")
    else:
        out = sums_.copy()
        for _, r in long.iterrows():
            out[f"top{int(r['rank'])}"] = r["v"]
    for col in tops:
        if col not in out.columns:
            out[col] = np.nan
    return out


def equations(cells: pd.DataFrame, geography: Sequence[str], category: str) -> list[tuple[int, list[int]]]:
    """The table's additivity: (index of a margin, indices of the cells it sums), by row position."""
    geography = list(geography)
    keys = [*geography, category]
    tuples = list(cells[keys].itertuples(index=False, name=None))
    index = {k: i for i, k in enumerate(tuples)}
    # a cell can be the margin of two equations (over categories and over areas)
    children: dict[tuple[int, str], list[int]] = {}
    for i, key in enumerate(tuples):
        geo, cat = key[:-1], key[-1]
        if cat != TOTAL:  # a category cell adds up to its row's total
            children.setdefault((index[(*geo, TOTAL)], "category"), []).append(i)
        level = sum(1 for g in geo if g != TOTAL)
        if level > 0:  # a geographic unit adds up to its parent unit, category by category
            parent = (*geo[:level - 1], *([TOTAL] * (len(geo) - level + 1)), cat)
            children.setdefault((index[parent], "area"), []).append(i)
    return [(parent, kids) for (parent, _), kids in sorted(children.items())]


def equation_matrix(n_cells: int, eqs: list[tuple[int, list[int]]]):
    """Sparse matrix A with A @ x = 0 for every consistent table x (margin minus its parts)."""
    from scipy.sparse import csr_matrix

    rows, cols, vals = [], [], []
    for r, (parent, kids) in enumerate(eqs):
        rows.append(r), cols.append(parent), vals.append(1.0)
        for k in kids:
            rows.append(r), cols.append(k), vals.append(-1.0)
    return csr_matrix((vals, (rows, cols)), shape=(len(eqs), n_cells))
