"""How likely each register unit is to have produced a record, before any comparison.

Fellegi-Sunter weights (Splink) take every register unit as equally likely to be
behind a record. For job ads that is far from true: a large employer posts dozens of
ads a year, a one-person shop hardly any. When the comparisons cannot tell candidates
apart (the same trade name and industry word in two counties, an ad naming no
district), the weight ties and the choice is arbitrary. A prior proportional to the
unit's rate of records breaks the tie the way the data do: in log-odds, each pair's
weight gains ``log2(rate of the unit's size class / mean rate over the register)``,
so the mean prior over the register, and with it the model's overall match rate, is
unchanged (in Fellegi and Sunter's framework the weight is a likelihood ratio and
the prior odds are separate; Enamorado, Fifield and Imai 2019 likewise put auxiliary
information into the prior).

Rates are learned from the certain links (a unique exact name, or a credit code):
records per register unit, by size class, among the units such a link could reach.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Additive smoothing, in records, so a size class without any certain link keeps a
# finite, small prior instead of minus infinity.
SMOOTHING = 0.5


def reachable_by_exact_name(register: pd.DataFrame) -> pd.Index:
    """The register units a certain (unique exact name) link can reach: those whose
    ``name_core`` no other unit shares. Rates count records per unit among these."""
    return pd.Index(register.loc[~register["name_core"].duplicated(keep=False), "unique_id"])


def size_class_rates(sizes: pd.Series, certain_units: pd.Series, eligible: pd.Index) -> dict[str, float]:
    """Records per unit by size class.

    *sizes*: size class by register unit id; *certain_units*: the unit id of each
    certainly linked record (one entry per record, repeats allowed); *eligible*: the
    units a certain link could reach (e.g. those whose name is unique).
    """
    classes = sizes.fillna("").astype(str)
    units = classes[classes.index.isin(eligible)].value_counts()
    records = certain_units.map(classes).dropna().value_counts()
    rates = (records.reindex(units.index, fill_value=0) + SMOOTHING) / (units + SMOOTHING)
    return {str(k): float(v) for k, v in rates.items()}


def mean_rate(sizes: pd.Series, rates: dict[str, float]) -> float | None:
    """The mean rate over all units (*sizes*: size class by unit id), or None without rates."""
    if not rates:
        return None
    return float(_unit_rates(sizes, rates).mean())


def _unit_rates(sizes: pd.Series, rates: dict[str, float]) -> pd.Series:
    return sizes.fillna("").astype(str).map(rates).fillna(min(rates.values())).astype(float)


def weight_shift(sizes: pd.Series, rates: dict[str, float], mean: float | None = None) -> pd.Series:
    """log2(rate of the unit's class / mean rate over all units), by unit id; a class
    the rates do not know gets the smallest known rate. *mean*: the mean as it was when the
    model was trained (stored with it), so a birth elsewhere in the register does not move
    every pair's weight; by default the mean over *sizes*."""
    if not rates:
        return pd.Series(0.0, index=sizes.index)
    rate = _unit_rates(sizes, rates)
    return np.log2(rate / (rate.mean() if mean is None else mean))


def apply_prior(pairs: pd.DataFrame, shift: pd.Series) -> pd.DataFrame:
    """Candidate pairs (``credit_code``, ``match_weight``) with the prior added to the
    weight and the probability recomputed from it."""
    weight = pairs["match_weight"].astype(float) + pairs["credit_code"].map(shift).fillna(0.0).to_numpy()
    return pairs.assign(match_weight=weight, match_probability=1.0 / (1.0 + np.exp2(-weight)))
