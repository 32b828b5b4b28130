"""The dynamic factor model through our interface against the New York Fed's published numbers.

Reference: the FRBNY nowcasting code (Bańbura and Modugno 2014, MATLAB), whose
estimates and news tables statsmodels 0.14.5 ships in
``statsmodels/tsa/statespace/tests/results/frbny_nowcast`` together with the two
vintages of US data (2016-06-29 and 2016-07-29). We evaluate our DynamicFactor at
the Fed's parameters and initial state and compare the news of the July vintage
for 2016Q3 GDP growth. Tolerance rtol=1e-7 (numpy's assert_allclose default, the
one statsmodels' own test uses against the same files).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import statsmodels.tsa.statespace.tests as sm_statespace_tests
from numpy.testing import assert_allclose

from workbench.methods.nowcast import DynamicFactor

RESULTS = os.path.join(sm_statespace_tests.__path__[0], "results", "frbny_nowcast")
DATA = os.path.join(RESULTS, "Nowcasting", "data", "US")


def _vintage(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Fed's transformations of one vintage (as in their Spec file)."""
    raw = pd.read_csv(os.path.join(DATA, name))
    raw.index = pd.PeriodIndex(raw.pop("Date").tolist(), freq="M")
    m = raw[["CPIAUCSL", "UNRATE", "PAYEMS", "RSAFS", "TTLCONS", "TCU"]].copy()
    q = raw[["GDPC1", "ULCNFB"]].copy()
    q.index = q.index.asfreq("Q")
    q = q.groupby(level=0).last()
    for c in ("CPIAUCSL", "RSAFS", "TTLCONS"):
        m[c] = (m[c] / m[c].shift(1) - 1) * 100
    for c in ("UNRATE", "PAYEMS", "TCU"):
        m[c] = m[c].diff()
    q = ((q / q.shift(1)) ** 4 - 1) * 100
    m, q = m.loc["2000":], q.loc["2000":]
    m = m.loc[m.first_valid_index():m.last_valid_index()]
    q = q.loc[q.first_valid_index():q.last_valid_index()]
    return m, q


@pytest.fixture(scope="module")
def fed():
    from scipy.io import matlab

    res = matlab.loadmat(os.path.join(RESULTS, "test_news_112.mat"))
    # the Fed orders the idiosyncratic AR(1) states differently: reorder (as statsmodels' test does)
    k, p = res["Spec"]["k"][0, 0][0, 0], res["Spec"]["p"][0, 0][0, 0]
    idio = k * max(5, p) + 3
    ix = np.r_[np.arange(idio), idio + np.arange(10).reshape(2, 5).ravel(order="F")]
    return {"params": res["params"][:, 0], "x0": res["Res"]["Z_0"][0, 0][:, 0][ix],
            "P0": res["Res"]["V_0"][0, 0][ix][:, ix], "revision": res["Res"]["impact_revisions"][0, 0],
            "table": res["Res"]["news_table"][0, 0], "factor_orders": p}


def test_news_matches_the_new_york_fed(fed):
    old_m, old_q = _vintage("2016-06-29.csv")
    new_m, new_q = _vintage("2016-07-29.csv")
    model = DynamicFactor(factors=1, factor_orders=fed["factor_orders"], idiosyncratic_ar1=True, init_t0=True,
                          obs_cov_diag=True, standardize=True, params=fed["params"], initial_state=fed["x0"],
                          initial_state_cov=fed["P0"])
    model.fit_frames(old_m.iloc[:, :3], old_q)
    news = model.news_frames(new_m.iloc[:, :3], new_q, impact_date="2016-09", variable="GDPC1")

    assert_allclose(news.revision, fed["revision"].item(), rtol=1e-7)
    table = news.table.set_index(["month", "variable"])[["forecast_prev", "observed", "weight", "impact"]]
    for i, key in enumerate([("2016-06", "CPIAUCSL"), ("2016-06", "UNRATE"), ("2016-06", "PAYEMS"),
                             ("2016-06", "GDPC1")]):
        assert_allclose(table.loc[key].to_numpy(dtype=float), fed["table"][i], rtol=1e-7)
    # the decomposition adds up: old + revisions + news = new
    assert_allclose(news.old + news.revision + news.table["impact"].sum(), news.new, rtol=1e-9)
    assert set(news.contributions.index) == {"CPIAUCSL", "UNRATE", "PAYEMS", "GDPC1"}
