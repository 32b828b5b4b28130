"""News for any model: which indicator moved the nowcast between two information sets.

The model keeps the parameters it estimated on the old information set; the new
data are let in one indicator at a time (in the given order), then the target's
new vintages. Each step's change in the nowcast is that indicator's contribution,
so ``old + sum(contributions) = new`` exactly. For the dynamic factor model the
exact Kalman-filter decomposition is :meth:`DynamicFactor.news`.
"""

from __future__ import annotations

import pandas as pd

from workbench.methods.nowcast.models import NowcastModel
from workbench.methods.nowcast.vintages import InformationSet

TARGET_REVISION = "target releases"


def indicator_news(model: NowcastModel, old: InformationSet, new: InformationSet,
                   order: list[str] | None = None) -> pd.DataFrame:
    """Contributions (level units and growth points) of each indicator's new data to the nowcast.

    *model* must have been fitted on *old*. Returns rows ``variable, impact, impact_growth``
    plus the starting and final nowcast in ``DataFrame.attrs``.
    """
    names = order or [c for c in new.indicators.columns.union(old.indicators.columns)]
    current = old
    before = model.predict(current)
    rows = []
    start = before
    for name in names:
        step = current.replace_indicator(name, new)
        after = model.predict(step)
        if abs(after.point - before.point) > 0 or name in new.indicators:
            rows.append({"variable": name, "impact": after.point - before.point,
                         "impact_growth": after.growth - before.growth})
        current, before = step, after
    final = model.predict(current.with_target(new))
    rows.append({"variable": TARGET_REVISION, "impact": final.point - before.point,
                 "impact_growth": final.growth - before.growth})
    out = pd.DataFrame(rows, columns=["variable", "impact", "impact_growth"])
    out.attrs.update(old=start.point, new=final.point)
    return out
