"""The monthly indicators as methods read them.

``gold.indicators_monthly`` keeps every vintage of a month (a month-to-date indicator has one
per day); a method, the catalogue and a page all want the month's final value. The rule lives
here, below the catalogue and the run kinds that use it, so that a method needs nothing above
its layer (the import contract in ``pyproject.toml``).
"""

from __future__ import annotations

import pandas as pd


def final_indicator_values(indicators: pd.DataFrame) -> pd.DataFrame:
    """One row per indicator and month: its latest vintage (a month-to-date indicator has one per day)."""
    ordered = indicators.sort_values("available_date", kind="stable")
    last = ordered.drop_duplicates(["indicator", "month"], keep="last")
    return last.sort_values(["indicator", "month"]).reset_index(drop=True)
