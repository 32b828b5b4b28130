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
INDICATORS = nc.DEFAULT_INDICATORS


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
    # every value it holds is the latest vintage available by the nowcast date, and none is missing
    for name in INDICATORS:
        rows = ind[(ind["indicator"] == name) & (ind["available_date"] <= asof)]
        latest = rows.sort_values("available_date").groupby("month")["value"].last()
        held = info.indicators[name].dropna()
        assert set(held.index) == set(latest.index)
        assert_allclose(held.to_numpy(), latest.reindex(held.index).to_numpy(), rtol=0)
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


@pytest.fixture(scope="module")
def backtest36(gold):
    """36 periods x horizons 0 and 4 weeks, scored against the generator's truth (final values)."""
    ind, tv, actual = gold
    models = {m: (lambda m=m: nc.make_model(m, INDICATORS)) for m in ("ar", "bridge", "umidas", "ridge")}
    bt = nc.attach_actuals(nc.backtest(ind, tv, models, periods=36, horizons=(0, 4)), actual)
    combo = nc.attach_actuals(nc.combine(bt, tv, ["umidas", "ridge"], "equal"), actual)
    return pd.concat([bt, combo], ignore_index=True)


def test_backtest_beats_ar_by_30_percent_one_month_before_release(backtest36):
    """Done-when of issue 9: best relative RMSE against AR < 0.7 four weeks before the release,
    scored against the generator's truth, and in the release week too.

    Measured (seed 7): 0.54 four weeks out (ridge; umidas 0.58, their equal combination 0.56),
    carried by month-to-date card spending; 0.32 in the release week (umidas, with the retail
    firms' electricity of the month). Intervals four weeks out under-cover (0.75-0.83 for 90 %):
    the models are fitted on whole months and the current month is half seen.
    """
    bt = backtest36
    assert (bt["error_message"] == "").all()
    assert (bt["asof"] <= bt["release_date"]).all()
    scores = nc.evaluate(bt)
    for horizon in (4, 0):
        at = scores[scores["horizon"] == horizon].set_index("model")
        assert at.loc["ar", "rel_rmse"] == 1.0 and (at["n"] == 36).all()
        best = at.drop("ar")["rel_rmse"].idxmin()
        assert at.loc[best, "rel_rmse"] < 0.7, (horizon, at)
        assert at.loc[best, "dm_pvalue"] < 0.05, (horizon, at)  # significant, not luck of 36 periods
    assert scores["coverage"].between(0.5, 1.0).all()


def test_error_based_intervals_cover_four_weeks_out(backtest36, gold):
    """The models' own 90 % intervals under-cover four weeks out (fitted on whole months, the
    current month half seen); intervals from each model's past errors at that horizon, published
    by the nowcast date, cover close to 90 %. Measured (seed 7, 28 periods with 8 errors known):
    ridge 0.93, U-MIDAS 0.89, against 0.83 and 0.75 for the models' own."""
    _, tv, _ = gold
    bt = backtest36[backtest36["model"].isin(["ridge", "umidas"]) & (backtest36["horizon"] == 4)]
    own = nc.evaluate(bt).set_index("model")["coverage"]
    errors = nc.error_based_intervals(bt, tv)
    scored = nc.evaluate(errors[errors["interval"] == "errors"]).set_index("model")
    assert (scored["n"] >= 25).all()
    assert scored["coverage"].between(0.8, 1.0).all(), scored
    assert (scored["coverage"] > own.reindex(scored.index)).all()


def test_retail_electricity_index_respects_its_release_date(gold):
    """The indicator that carries the release-week gain arrives 10 days after month end: at 1 week
    before the 15th-of-next-month release it is absent for the reference month, in the release week present."""
    ind, tv, _ = gold
    rows = ind[ind["indicator"] == "electricity_retail_index"]
    ends = rows["month"].map(lambda m: m.to_timestamp(how="end").date())
    assert ((rows["available_date"] - ends).map(lambda d: d.days) == 10).all()
    cal = nc.release_calendar(tv).set_index("ref_period")["release_date"]
    period = pd.Period("2026-05", "M")
    before = nc.information_set(ind, tv, cal[period] - dt.timedelta(days=7), period, INDICATORS)
    on = nc.information_set(ind, tv, cal[period], period, INDICATORS)
    assert before.indicators["electricity_retail_index"].dropna().index.max() == period - 1
    assert on.indicators["electricity_retail_index"].dropna().index.max() == period


def test_month_to_date_card_spending_in_the_lake(gold, demo_lake):
    """gold.indicators_monthly holds one card_spending_pace row per day; four weeks before a release
    the information set holds the vintage of that date (days up to two days before), and the last
    vintage of every month is the month's card total."""
    ind, tv, _ = gold
    pace = ind[ind["indicator"] == "card_spending_pace"]
    total = ind[ind["indicator"] == "card_spending_total"].set_index("month")["value"]
    assert pace.groupby("month").size().between(28, 31).all()
    last = pace.groupby("month")["value"].last()  # rows are in availability order
    assert_allclose(last.to_numpy(), total.reindex(last.index).to_numpy(), rtol=1e-9)
    cal = nc.release_calendar(tv).set_index("ref_period")["release_date"]
    period = pd.Period("2026-05", "M")
    asof = cal[period] - dt.timedelta(days=28)
    assert asof.month == 5  # four weeks out, the reference month is still running
    info = nc.information_set(ind, tv, asof, period, INDICATORS)
    vintage = pace[(pace["month"] == period) & (pace["available_date"] == asof)]["value"].item()
    assert info.indicators.loc[period, "card_spending_pace"] == vintage
    daily = demo_lake.lake.read("silver.card_daily").toPandas()
    seen = daily[(pd.to_datetime(daily["txn_date"]) >= "2026-05-01")
                 & (pd.to_datetime(daily["txn_date"]) <= pd.Timestamp(asof - dt.timedelta(days=2)))]
    assert vintage > float(seen["txn_amount"].astype(float).sum())  # scaled up from a part of the month


def _oracle_log_errors(manifest) -> pd.DataFrame:
    """Log errors of oracles rebuilt from the generator with the demo's seed and scale (the same draws).

    ``oracle`` knows, for every month, the true industry factors of that month and every firm's state
    up to the month before; only this month's firm-level shocks are unknown, so no indicator published
    before the month ends can beat it in expectation. ``with_cards`` also knows this month's exact
    revenue of every firm that takes card payments (the most a month-to-date card indicator could
    reveal).
    """
    from workbench.demo.economy import EnterpriseEconomy, build_macro
    from workbench.demo.enterprises import build_enterprises
    from workbench.demo.generate import SCALES
    from workbench.demo.geography import build_geography
    from workbench.demo.industries import industry_table
    from workbench.demo.manifest import Manifest
    from workbench.demo.market import CardWriter
    from workbench.demo.timeline import MONTHS

    seed, scale, industries = manifest["seed"], SCALES[manifest["scale"]], industry_table()
    ent = build_enterprises(scale["enterprises"], np.random.default_rng([seed, 1]), build_geography(), industries)
    macro = build_macro(np.random.default_rng([seed, 2]), industries)
    economy = EnterpriseEconomy(ent, industries, macro, seed)
    cards = CardWriter(ent, industries, macro, scale["enterprises"], "", Manifest("", manifest["scale"], seed), seed)
    cls = ent["class_idx"].to_numpy()
    retail = industries["retail_share"].to_numpy()[cls]
    errors = {}
    for t, month in enumerate(MONTHS):
        u_before = economy.u.copy()
        alive, revenue, *_ = economy.step(t)
        ramp = np.log1p(-np.exp(-(np.maximum(t - economy.birth, 0) + 1) / 4.0))
        expected = np.exp(economy.log_base_rev + macro.class_log_factor[t, cls] + ramp + economy.RHO * u_before
                          + 0.5 * economy.SD ** 2)
        on_card = np.zeros(len(cls), bool)
        on_card[cards.ent_idx[(cards.ent_idx >= 0) & (cards.onboard <= t)]] = True
        actual = (revenue * retail).sum()
        errors[pd.Period(month, "M")] = {
            name: np.log((np.where(known, revenue, expected) * retail * alive).sum() / actual)
            for name, known in (("oracle", np.zeros(len(cls), bool)), ("with_cards", on_card))}
    return pd.DataFrame.from_dict(errors, orient="index")


def test_four_weeks_out_the_gain_comes_from_month_to_date_cards(backtest36, gold, demo_lake):
    """Why the month-to-date indicator is needed, and what it is worth.

    Four weeks before the release the reference month is half over. An oracle knowing every
    industry factor and every firm's state up to the month before, but not this month's firm-level
    shocks, still scores about 0.69 against AR (seed 7): one car dealer is about half of the small
    demo's retail sales. Knowing this month's revenue of the card-paying firms brings it to 0.03.
    The same models with the monthly card total instead of the month-to-date one stay above 0.9.
    """
    ind, tv, actual = gold
    bt = backtest36[backtest36["horizon"] == 4]
    ar = bt[bt["model"] == "ar"].set_index("ref_period")
    ar_rmse = float(np.sqrt(np.mean(np.log(ar["point"] / ar["actual"]) ** 2)))
    oracles = _oracle_log_errors(demo_lake.manifest).reindex(ar.index)
    bound = np.sqrt((oracles ** 2).mean()) / ar_rmse
    assert 0.6 < bound["oracle"] < 0.75, bound  # without data on the month itself 0.7 is out of reach
    assert bound["with_cards"] < 0.2, bound
    monthly = ["card_spending_total" if i == "card_spending_pace" else i for i in INDICATORS]
    models = {m: (lambda m=m: nc.make_model(m, monthly)) for m in ("ar", "umidas", "ridge")}
    without = nc.evaluate(nc.attach_actuals(nc.backtest(ind, tv, models, periods=36, horizons=(4,)), actual))
    assert without.set_index("model").drop("ar")["rel_rmse"].min() > 0.85, without
    best = nc.evaluate(backtest36).query("horizon == 4").set_index("model").drop("ar")["rel_rmse"].min()
    assert bound["with_cards"] < best < 0.7


def test_indicator_news_adds_up(gold):
    ind, tv, _ = gold
    old = nc.information_set(ind, tv, dt.date(2025, 7, 1), "2025-07", INDICATORS)
    new = nc.information_set(ind, tv, dt.date(2025, 8, 10), "2025-07", INDICATORS)
    model = nc.make_model("umidas", INDICATORS).fit(old)
    news = nc.indicator_news(model, old, new)
    assert_allclose(news.attrs["old"] + news["impact"].sum(), news.attrs["new"], rtol=1e-12)
    assert_allclose(news.attrs["new"], model.predict(new).point, rtol=1e-12)
    assert abs(news.set_index("variable").loc["card_spending_pace", "impact"]) > 0  # July card data arrived


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


def test_nowcast_page_submits_runs_that_reproduce(demo_lake, monkeypatch):
    """The page holds no statistics: it shows run_nowcast's result (error-based intervals, the
    combinations, the track record) and records it as a run of kind ``nowcast`` that reproduces
    from its pinned versions; a second submission records a second run and names it."""
    from streamlit.testing.v1 import AppTest

    from workbench.auth import load_users
    from workbench.i18n import translate
    from workbench.runs.registry import get_run, reproduce
    from workbench.runs.review import state

    for k, v in demo_lake.environ.items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(REPO / "workbench" / "app" / "app_pages" / "nowcast.py", default_timeout=300)
    at.session_state["lang"] = "en"
    at.session_state["user"] = load_users()["research"]
    at.run()
    assert not at.exception, at.exception
    table = at.get_by_key("nowcast_table").dataframe[0].value
    # models and interval sources are shown by name (issue 21)
    names = {m: translate(f"nowcast.model.{m}", "en") for m in ("ar", "bridge", "umidas", "ridge", "combo_equal",
                                                                 "combo_inv_mse")}
    assert set(table["model"]) == set(names.values())
    assert (table["interval"] == translate("nowcast.interval.errors", "en")).all()  # 24 past errors are known
    assert (table["lower"] < table["point"]).all() and (table["point"] < table["upper"]).all()
    # four weeks out the models' own intervals are narrower than their track record says
    own = table.set_index("model").loc[[names["bridge"], names["umidas"]]]
    assert ((own["upper"] - own["lower"]) > (own["model_upper"] - own["model_lower"])).all()
    assert at.get_by_key("nowcast_download_csv") is not None and at.get_by_key("nowcast_download_xlsx") is not None
    assert set(at.get_by_key("nowcast_evaluation").dataframe[0].value["model"]) >= {names["ar"],
                                                                                  names["combo_equal"]}
    submitted = []
    for comment in ("first", "second"):
        at.text_input(key="nowcast_comment").set_value(comment).run()
        at.button(key="nowcast_submit").click().run()
        assert not at.exception, at.exception
        run_id = at.session_state["nowcast_submitted"]
        assert any(run_id in s.value for s in at.success)
        submitted.append(run_id)
    assert submitted[0] != submitted[1]
    run = get_run(demo_lake.lake, submitted[1])
    assert run.kind == "nowcast" and state(demo_lake.lake, run.run_id) == "submitted"
    assert run.inputs == {t: demo_lake.lake.version(t) for t in ("gold.indicators_monthly", "gold.targets")}
    assert run.params["models"] == ["ar", "bridge", "umidas", "ridge"]
    again = reproduce(demo_lake.lake, run.run_id)
    assert again.matches, again.details


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_nowcast_submitted_while_computing_a_new_date_records_nothing(demo_lake, monkeypatch, lang):
    """Issue 29, 2: the date changed and "record and submit" pressed while the page computed the
    new nowcast recorded the previous one (the old date) with the comment written for the new.
    Now that click records nothing and says why; the next click, beside the new nowcast,
    records exactly it (its date, its versions) with the comment."""
    from datetime import date as day

    from streamlit.testing.v1 import AppTest

    from workbench.auth import load_users
    from workbench.i18n import translate
    from workbench.runs.registry import get_run, list_runs
    from workbench.runs.review import audit_trail

    for k, v in demo_lake.environ.items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(REPO / "workbench" / "app" / "app_pages" / "nowcast.py", default_timeout=300)
    at.session_state["lang"] = lang
    at.session_state["user"] = load_users()["research"]
    at.run()
    assert not at.exception, at.exception
    shown = at.date_input(key="nowcast_date").value
    # the date is bounded to the dates a nowcast means something on, and the range said in the UI
    # language (a mistyped year became 0815-02-26 with the picker's English range error)
    from workbench.formatting import format_date
    from workbench.methods.nowcast import prepare_targets
    from workbench.methods.nowcast.run import asof_range

    first, last = asof_range(prepare_targets(demo_lake.lake.read("gold.targets").toPandas(), "retail_sales"))
    picker = at.date_input(key="nowcast_date")
    assert (picker.min, picker.max) == (first, last) and first <= shown <= last
    assert first.year >= 2000 and (last - shown).days < 120
    assert translate("nowcast.date_range", lang, first=format_date(first, lang), last=format_date(last, lang)) in [
        c.value for c in at.caption]
    earlier = shown.replace(day=max(1, shown.day - 5)) if shown.day > 5 else shown.replace(day=shown.day + 5)
    before = {r.run_id for r in list_runs(demo_lake.lake)}
    at.date_input(key="nowcast_date").set_value(earlier)  # the rerun this starts is still computing ...
    at.text_input(key="nowcast_comment").set_value(f"as of {earlier}")
    at.button(key="nowcast_submit").click().run()  # ... when the click arrives
    assert not at.exception, at.exception
    assert {r.run_id for r in list_runs(demo_lake.lake)} == before
    assert [w.value for w in at.get_by_key("nowcast_submit_changed").warning] == [
        translate("runs.submit_changed", lang)]
    at.button(key="nowcast_submit").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["nowcast_submitted"]
    run = get_run(demo_lake.lake, run_id)
    assert run.params["asof"] == earlier.isoformat() and earlier != day.fromisoformat(str(shown))
    assert run.inputs == {t: demo_lake.lake.version(t) for t in ("gold.indicators_monthly", "gold.targets")}
    assert [e.comment for e in audit_trail(demo_lake.lake, run_id) if e.action == "submit"] == [f"as of {earlier}"]


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
