"""AppTest of the Prices page on the demo lake (real engine, real jobs' tables)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workbench.auth import load_users
from workbench.i18n import translate
from workbench.runs import registry

PAGE = Path(__file__).resolve().parent.parent / "workbench" / "app" / "app_pages" / "prices.py"
TIMEOUT = 120  # the first run classifies the items and computes the indices on the engine


@pytest.fixture(scope="module")
def prices_lake(demo_lake, spark, tmp_path_factory):
    """The demo's prices and official series copied into a lake of its own (the page writes runs)."""
    from workbench.lake import Lake

    root = tmp_path_factory.mktemp("prices_app") / "lake"
    for name in ("silver.prices_daily", "gold.targets"):
        shutil.copytree(demo_lake.lake.path(name), Path(root, *name.split(".")))
    return Lake(str(root), spark=spark)


@pytest.fixture()
def prices_env(demo_lake, prices_lake, monkeypatch):
    for key, value in demo_lake.environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", prices_lake.root)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "en")
    return prices_lake


def as_user(username: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.session_state["user"] = load_users()[username]
    return at.run()


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_prices_page_compares_online_index_with_official_cpi(prices_env):
    at = as_user("stat")
    assert not at.exception, at.exception
    assert at.selectbox(key="prices_group").value == "total"
    assert float(_metric(at, "Correlation")) > 0.9  # online vs official CPI, month on month
    assert int(_metric(at, "Best lag (months)")) == 0
    assert float(_metric(at, "Days ahead of release")) > 0
    assert len(at.get_by_key("prices_elementary").dataframe[0].value) >= 8
    # the review list, or the sentence that says it is empty (not Streamlit's English "empty" grid)
    empty = [s.value for s in at.success] == [translate("prices.review_empty", "en")]
    assert empty or at.get_by_key("prices_review").dataframe

    # a COICOP group (published as YoY only) with a bilateral method: window and splice do not apply
    at.selectbox(key="prices_group").select("01")
    at.selectbox(key="prices_method").select("jevons").run()
    assert not at.exception, at.exception
    assert at.number_input(key="prices_window").disabled
    assert "year-on-year" in " ".join(c.value for c in at.caption)
    assert float(_metric(at, "Correlation")) > 0.9

    # record the run: recomputed from the pinned versions, submitted for review
    at.text_input(key="prices_comment").input("monthly check")
    at.button(key="prices_submit").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["prices_submitted"]
    assert at.success and run_id in at.success[-1].value
    run = registry.list_runs(prices_env)[-1]
    assert run.kind == "online_price_index" and run.params["method"] == "jevons"
    assert run.inputs == {"silver.prices_daily": prices_env.version("silver.prices_daily"),
                          "gold.targets": prices_env.version("gold.targets")}
    assert run.metrics["corr_mom_official"] > 0.9
    indices = registry.read_output(prices_env, run.run_id, "indices").toPandas()
    assert set(indices["series"]) == {"total", "01", "02", "03", "04", "05", "06", "07", "08"}


def test_prices_page_refuses_data_engineers(prices_env):
    at = as_user("eng")
    assert not at.exception
    assert at.error and not at.metric
