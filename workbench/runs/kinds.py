"""Every run kind the workbench ships, and the method that computes (and reproduces) it.

Why a list and not decorators: a kind registered when its module happens to be imported
is unknown to a process that imported less (a notebook, a script, the CLI), so a run
recorded in the app could not be reproduced there. Here each kind names its method by
module and attribute; :func:`load` imports the module when the kind is first asked for.

A kind added to the workbench gets one line below. Kinds defined outside the package
(a notebook's own method, a test's) are registered with
:func:`workbench.runs.registry.method` and live only in that process.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

KINDS: dict[str, str] = {
    "survey_estimate": "workbench.methods.estimate.runs:survey_estimate_run",
    "small_area_estimate": "workbench.methods.estimate.runs:small_area_run",
    "online_price_index": "workbench.methods.prices.runs:online_price_index_run",
    "seasonal_adjustment": "workbench.methods.seasonal.runs:seasonal_run",
    "nowcast": "workbench.methods.nowcast.runs:nowcast_run",
    "area_industry_release": "workbench.disclosure.tables:area_industry_release",
}

MethodFn = Callable[[dict, Mapping[str, Any]], Mapping[str, Any]]


def load(kind: str) -> MethodFn | None:
    """The method of a shipped *kind*, imported on first use; None for a kind not in :data:`KINDS`."""
    target = KINDS.get(kind)
    if target is None:
        return None
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class OutputChart:
    """How the Runs and Compare pages chart one output of a kind by default: its value *y*
    against the output's own dimension *x* (one line or mark per *color* value, if given),
    without the rows *leave_out* names (a survey's ``total`` domain is the sum of the
    others and would squeeze them against the axis). A reader may still pick other columns."""

    x: str
    y: str
    color: str | None = None
    leave_out: tuple[tuple[str, str], ...] = ()


# (kind, output) -> its default chart; an output listed as None is a table, not a series
# (calibration diagnostics, a classification, a release's cells in several units).
OUTPUT_CHARTS: dict[tuple[str, str], OutputChart | None] = {
    ("survey_estimate", "estimates"): OutputChart("domain", "estimate", leave_out=(("domain", "total"),)),
    ("survey_estimate", "weights"): None,
    ("small_area_estimate", "areas"): OutputChart("area", "eblup"),
    ("online_price_index", "indices"): OutputChart("period", "index", color="series"),
    ("online_price_index", "elementary"): OutputChart("period", "index", color="ea"),
    ("online_price_index", "classification"): None,
    ("seasonal_adjustment", "series"): OutputChart("month", "seasadj"),
    ("seasonal_adjustment", "diagnostics"): OutputChart("statistic", "value"),
    ("seasonal_adjustment", "spec"): None,
    ("seasonal_adjustment", "coefficients"): OutputChart("variable", "estimate"),
    ("nowcast", "nowcasts"): OutputChart("model", "point"),
    ("nowcast", "track"): OutputChart("ref_period", "point", color="model"),
    ("nowcast", "evaluation"): OutputChart("model", "rel_rmse"),
    ("nowcast", "news"): OutputChart("variable", "impact"),
    ("area_industry_release", "table"): None,
}


# kind -> the one output a release of the kind publishes. Every other output of the kind is a
# diagnostic (a seasonal run's ARIMA coefficients, X-13 statistics and spec file; a survey's
# weights; a nowcast's backtest): the Review page never offers it, and release_run refuses it.
PUBLISHED_OUTPUT: dict[str, str] = {
    "survey_estimate": "estimates",
    "small_area_estimate": "areas",
    "online_price_index": "indices",
    "seasonal_adjustment": "series",
    "nowcast": "nowcasts",
    "area_industry_release": "table",
}

# kind -> the parameters every vintage of one release series shares: what the series is *of*.
# A survey series is one variable by one breakdown (employment by county is not the city total
# of employment); a seasonal series adjusts one indicator; a table publishes one set of measures.
SERIES_PARAMS: dict[str, tuple[str, ...]] = {
    "survey_estimate": ("variable", "domain"),
    "small_area_estimate": ("variable",),
    "online_price_index": ("frequency",),
    "seasonal_adjustment": ("indicator", "series"),
    "nowcast": ("series",),
    "area_industry_release": ("measures",),
}


def publishable_outputs(kind: str, outputs) -> list[str]:
    """The outputs of a run of *kind* that may be published: a shipped kind's declared output (if
    the run has it); every output of a kind defined outside the package, which declares none."""
    declared = PUBLISHED_OUTPUT.get(kind)
    if kind in KINDS:
        return [declared] if declared in outputs else []
    return sorted(outputs)


def output_order(kind: str, outputs) -> list[str]:
    """*outputs* in the order pages offer them: the published output first (a seasonal run opens
    on its adjusted series, not on its coefficients), then the kind's others as
    :data:`OUTPUT_CHARTS` lists them, then any other by name."""
    declared = [PUBLISHED_OUTPUT.get(kind)] + [o for (k, o) in OUTPUT_CHARTS if k == kind]
    rank = {name: i for i, name in reversed(list(enumerate(declared))) if name is not None}
    return sorted(outputs, key=lambda o: (rank.get(o, len(rank)), o))
