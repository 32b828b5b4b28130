"""Primary disclosure rules on cell statistics (pure pandas).

A cell is confidential ("primary") when publishing it would tell too much about one
contributor:

* minimum frequency: fewer than ``min_frequency`` contributors (but at least one);
* (n,k) dominance: the ``n`` largest contributions exceed ``k`` % of the total;
* p % rule: the second-largest contributor, subtracting its own value from the
  total, would estimate the largest to within ``p`` %:
  ``total - x1 - x2 < p/100 * x1``.

Definitions as in Hundepool et al., *Statistical Disclosure Control* (Wiley 2012),
section 5.2, and the tau-ARGUS manual.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.disclosure.cells import top_columns
from workbench.disclosure.settings import Rules

RULE_NAMES = ("frequency", "dominance", "p_percent")


def primary(cells: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """*cells* with ``primary`` (bool) and ``rules`` (the rules that fired, comma-separated)."""
    tops = top_columns(cells)
    if len(tops) < max(2, rules.dominance_n):
        raise ValueError(f"the rules need the {max(2, rules.dominance_n)} largest contributions per cell; "
                         f"the cells carry {len(tops)}")
    n = cells["n"].to_numpy()
    # with negative contributions (refunds) the rules look at magnitudes
    total = cells["magnitude" if "magnitude" in cells.columns else "total"].to_numpy(dtype=float)
    top = cells[tops].fillna(0.0).to_numpy(dtype=float)
    frequency = (n > 0) & (n < rules.min_frequency)
    dominance = (n > 0) & (total > 0) & (top[:, :rules.dominance_n].sum(axis=1) > rules.dominance_k / 100 * total)
    p_rule = (n > 0) & (top[:, 0] > 0) & (total - top[:, 0] - top[:, 1] < rules.p_percent / 100 * top[:, 0])
    fired = np.stack([frequency, dominance, p_rule], axis=1)
    out = cells.copy()
    out["primary"] = fired.any(axis=1)
    out["rules"] = [",".join(name for name, hit in zip(RULE_NAMES, row) if hit) for row in fired]
    return out
