"""Nowcasting: information sets, models, metrics and backtest on the small demo, the page, the notebook.

References: AR against statsmodels ``AutoReg`` (same OLS, rtol 1e-10); the
Diebold-Mariano statistic (h=1, no small-sample correction) against the t-value of a
constant-only OLS with a HAC(0, no correction) variance in statsmodels (rtol 1e-10);
accuracy against the demo generator's truth (``truth/targets.parquet``). The DFM
against the New York Fed is in test_nowcast_dfm.py.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from workbench.methods import nowcast as nc

REPO = Path(__file__).resolve().parent.parent
INDICATORS = ["card_spending_total", "vat_sales_total", "job_ads_count"]


@pytest.fixture(scope="module")
def gold(demo_lake):
    ind = nc.prepare_indicators(demo_lake.lake.read("gold.indicators_monthly").toPandas())
    tv = nc.prepare_targets(demo_lake.lake.read("gold.targets").toPandas(), "retail_sales")
    truth = pd.read_parquet(os.path.join(demo_lake.manifest["out"], "truth", "targets.parquet"))
    truth = truth[truth["series"] == "retail_sales"]
    actual = pd.Series(truth["value"].to_numpy(), index=[nc.parse_period(p) for p in truth["ref_period"]])
    return ind, tv, actual


def test_information_set_never_sees_the_future(gold):
    ind, tv, _ = gold
    asof = dt.date(2025, 6, 10)
    info = nc.information_set(ind, tv, asof, "2025-06", INDICATORS)
    # every indicator value it holds was available by the nowcast date, and none later is missing
    avail = ind[ind["indicator"].isin(INDICATORS)].set_index(["indicator", "month"])["available_date"]
    for name in INDICATORS:
        held = info.indicators[name].dropna().index
        assert all(avail[(name, m)] <= asof for m in held)
        assert set(held) == {m for (n, m), d in avail.items() if n == name and d <= asof}
    released = tv[tv["release_date"] <= asof]
    assert info.target.index.max() == released["ref_period"].max() < pd.Period("2025-06", "M")
    latest = released.sort_values("vintage").groupby("ref_period")["value"].last()
    assert_allclose(info.target.to_numpy(), latest.reindex(info.target.index).to_numpy())


def test_ar_matches_statsmodels_autoreg(gold):
    from statsmodels.tsa.ar_model import AutoReg

    ind, tv, _ = gold
    info = nc.information_set(ind, tv, dt.date(2025, 6, 20), "2025-06", INDICATORS)
    model = nc.AR(p=2).fit(info)
    ref = AutoReg(info.target_growth.to_numpy(), lags=2, trend="c").fit()
    assert_allclose(model.coef_, ref.params, rtol=1e-10)
    h = (info.target_period - info.last_target_period()).n
    assert_allclose(model.predict().growth, ref.forecast(h)[-1], rtol=1e-10)


def test_diebold_mariano_matches_hac_t_statistic():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    e1, e2 = rng.normal(0, 1, 60), rng.normal(0, 1.3, 60)
    d = e1 ** 2 - e2 ** 2
    ref = sm.OLS(d, np.ones(60)).fit(cov_type="HAC", cov_kwds={"maxlags": 0, "use_correction": False})
    stat, p = nc.diebold_mariano(e1, e2, h=1, hln=False)
    assert_allclose(stat, ref.tvalues[0], rtol=1e-10)
    assert_allclose(p, ref.pvalues[0], rtol=1e-8)
    assert nc.diebold_mariano(e1, e2)[0] < 0  # e1 is the more accurate forecast


def test_almon_weights_and_ragged_edge():
    assert_allclose(nc.almon_weights(0.0, 0.0, 4), 0.25)
    w = nc.almon_weights(-1.0, 0.0, 4)
    assert_allclose(w.sum(), 1.0) and np.all(np.diff(w) < 0)
    x = pd.Series([1.0, 1.0, 1.0], index=pd.period_range("2024-01", periods=3, freq="M"))
    filled = nc.fill_ragged_edge(x, pd.Period("2024-05", "M"))
    assert list(filled.index.astype(str)) == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]


def test_backtest_beats_ar_against_the_truth(gold):
    """12 periods x horizons 0 and 4 weeks on the small demo, errors against the generator's truth.

    Measured (seed 7): best relative RMSE at 0 weeks about 0.8 (umidas/ridge), at 4 weeks about
    0.95; the issue's 0.7 target one month before release is not reached (see README).
    """
    ind, tv, actual = gold
    models = {m: (lambda m=m: nc.make_model(m, INDICATORS)) for m in ("ar", "umidas", "ridge", "almon_midas")}
    bt = nc.backtest(ind, tv, models, periods=12, horizons=(0, 4))
    assert (bt["error_message"] == "").all()
    assert (bt["asof"] < bt["release_date"]).all() or (bt.query("horizon == 0")["asof"] == bt.query(
        "horizon == 0")["release_date"]).all()
    bt = nc.attach_actuals(bt, actual)
    combo = nc.attach_actuals(nc.combine(bt, tv, ["umidas", "ridge"], "equal"), actual)
    scores = nc.evaluate(pd.concat([bt, combo]))
    at0 = scores[scores["horizon"] == 0].set_index("model")
    assert at0.loc["ar", "rel_rmse"] == 1.0
    assert at0.drop("ar")["rel_rmse"].min() < 1.0, at0
    assert scores["coverage"].between(0.5, 1.0).all()


def test_indicator_news_adds_up(gold):
    ind, tv, _ = gold
    old = nc.information_set(ind, tv, dt.date(2025, 7, 1), "2025-07", INDICATORS)
    new = nc.information_set(ind, tv, dt.date(2025, 8, 10), "2025-07", INDICATORS)
    model = nc.make_model("umidas", INDICATORS).fit(old)
    news = nc.indicator_news(model, old, new)
    assert_allclose(news.attrs["old"] + news["impact"].sum(), news.attrs["new"], rtol=1e-12)
    assert_allclose(news.attrs["new"], model.predict(new).point, rtol=1e-12)
    assert abs(news.set_index("variable").loc["card_spending_total", "impact"]) > 0  # July card data arrived


def test_dfm_on_the_demo_through_the_interface(gold):
    ind, tv, actual = gold
    old = nc.information_set(ind, tv, dt.date(2025, 7, 1), "2025-07", INDICATORS)
    new = nc.information_set(ind, tv, dt.date(2025, 8, 10), "2025-07", INDICATORS)
    model = nc.DynamicFactor(INDICATORS, maxiter=20).fit(old)
    nowcast = model.predict()
    lo, hi = nowcast.conf_int(0.1)
    assert lo < nowcast.point < hi
    news = model.news(new)
    assert_allclose(news.old + news.revision + news.table["impact"].sum(), news.new, rtol=1e-8)


def test_nowcast_page_submits_a_run(demo_lake, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from workbench.auth import load_users
    from workbench.runs.registry import list_runs
    from workbench.runs.review import state

    for k, v in demo_lake.environ.items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(REPO / "workbench" / "app" / "app_pages" / "nowcast.py", default_timeout=120)
    at.session_state["lang"] = "en"
    at.session_state["user"] = load_users()["research"]
    at.run()
    assert not at.exception, at.exception
    table = at.get_by_key("nowcast_table").dataframe[0].value
    assert set(table["model"]) == {"ar", "bridge", "umidas", "ridge"}
    assert (table["lower_90"] < table["point"]).all() and (table["point"] < table["upper_90"]).all()
    at.slider(key="nowcast_periods").set_value(6)
    at.button(key="nowcast_run_backtest").click().run()
    assert not at.exception, at.exception
    assert set(at.get_by_key("nowcast_backtest_table").dataframe[0].value["horizon"]) == {0, 1, 2, 4}
    at.button(key="nowcast_submit").click().run()
    assert not at.exception, at.exception
    run = [r for r in list_runs(demo_lake.lake) if r.kind == "nowcast"][0]
    assert state(demo_lake.lake, run.run_id) == "submitted"
    assert set(run.inputs) == {"gold.indicators_monthly", "gold.targets"}


def test_nowcast_page_refuses_data_engineers(demo_lake, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from workbench.auth import load_users

    for k, v in demo_lake.environ.items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(REPO / "workbench" / "app" / "app_pages" / "nowcast.py", default_timeout=60)
    at.session_state["lang"] = "en"
    at.session_state["user"] = load_users()["eng"]
    at.run()
    assert at.error and not at.get("dataframe")


def test_notebook_runs_against_the_demo_lake(demo_lake, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    for k, v in demo_lake.environ.items():
        monkeypatch.setenv(k, v)
    nb = nbformat.read(REPO / "notebooks" / "nowcast_new_indicator.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
