"""One approved run of every kind the disclosure gate can release, made through the run registry.

Shared by the Dissemination AppTest and the supervisor's browser walk: stat makes and
submits each run, super2 approves it (four-eyes), and the caller releases it.
"""

from __future__ import annotations

from workbench.auth import load_users
from workbench.disclosure.tables import KIND as AREA_INDUSTRY  # registers the table kind
from workbench.methods.estimate import runs as estimate_runs  # registers survey_estimate, small_area_estimate
from workbench.methods.prices.runs import PRICES, TARGETS  # registers online_price_index
from workbench.methods.seasonal import X13Spec
from workbench.runs import registry, review

PERIOD = "2026-08"  # a demo month with survey returns, a refund and online prices

# kind -> (params, inputs, the output a release publishes)
RELEASABLE = {
    AREA_INDUSTRY: ({"measures": ["vat_sales"], "first": PERIOD, "last": PERIOD},
                    ["gold.enterprise_month"], "table"),
    "survey_estimate": ({"period": PERIOD, "variable": "employment", "domain": "county_code",
                         "calibration": "raking", "replicates": "bootstrap", "n_boot": 30, "seed": 3,
                         "cv_threshold": 0.1}, estimate_runs.inputs_for(False), "estimates"),
    "small_area_estimate": ({"period": PERIOD}, estimate_runs.inputs_for(False), "areas"),
    "seasonal_adjustment": ({"indicator": "vat_sales_total",
                             "spec": X13Spec(transform="log", spring_festival=True, outlier=False).as_dict()},
                            ["gold.indicators_monthly"], "series"),
    "online_price_index": ({"frequency": "month", "method": "geks_jevons", "window": 13, "splice": "mean"},
                           [PRICES, TARGETS], "indices"),
}


def approved(lake, kind: str, title: str | None = None) -> tuple[str, str]:
    """(run id, output to publish) of a new run of *kind* made by stat and approved by super2.

    Without *title* the run gets the registry's own (generated) title, which the app shows
    in the UI language."""
    users = load_users()
    params, inputs, output = RELEASABLE[kind]
    run_id = registry.run_method(lake, kind, params, inputs, user=users["stat"], title=title or "")
    review.submit(lake, run_id, users["stat"])
    review.approve(lake, run_id, users["super2"])
    return run_id, output
