"""AppTests for the Estimates, Small areas and Seasonal adjustment pages on a real lake (one per page)."""

from __future__ import annotations

import json

import pytest

from test_app import table, texts
from test_app_runs import page
from test_estimate_lake import write_survey_lake
from workbench.i18n import translate
from workbench.runs import registry, review


@pytest.fixture(scope="module")
def estimates_lake(spark, tmp_path_factory):
    from workbench.lake import Lake

    lake = Lake(str(tmp_path_factory.mktemp("app_estimates") / "lake"), spark=spark)
    write_survey_lake(lake, spark)
    return lake


@pytest.fixture()
def est_env(estimates_lake, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", estimates_lake.root)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "en")
    return estimates_lake


def test_estimates_page_flags_unreliable_cvs_and_submits_a_run(est_env):
    lake = est_env
    at = page("estimates.py", "stat")
    assert not at.exception, at.exception
    at.selectbox(key="est_domain").select("township_code").run()
    at.number_input(key="est_cv").set_value(0.05).run()
    shown = table(at, "est_table")
    assert shown["domain"].iloc[0] == "Total" and len(shown) == 13  # codes shown by name (issue 21)
    assert (shown["unreliable"] == (shown["cv"] > 5)).all() and shown["unreliable"].any()  # CVs shown in %
    assert "marked unreliable" in texts(at)
    assert shown["imputed_share"].iloc[0] > 0  # the quality panel's imputed values are used and reported
    # the result to take away (CSV with BOM and Excel, formatted as shown: tests/test_export.py)
    assert at.get_by_key("est_download_csv") is not None and at.get_by_key("est_download_xlsx") is not None
    at.selectbox(key="est_calibration").select("raking").run()
    at.button(key="est_submit").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["est_submitted"]
    run = registry.get_run(lake, run_id)
    assert run.kind == "survey_estimate" and run.params["calibration"] == "raking"
    assert run.params["domain"] == "township_code" and "quality.survey_panel" in run.inputs
    assert review.state(lake, run_id) == "submitted"


def test_small_areas_page_charts_townships_and_submits(est_env):
    lake = est_env
    at = page("small_areas.py", "research")
    assert not at.exception, at.exception
    areas = table(at, "sae_table")
    assert len(areas) == 12 and {"direct", "eblup", "shrinkage", "benchmarked"} <= set(areas.columns)
    assert at.get_by_key("sae_chart") is not None and at.get_by_key("sae_shrinkage_chart") is not None
    # issue 29: the shrinkage of a district's 8 townships was squeezed into 130 px beneath slanted
    # names; each township is now a row, named in full
    spec = json.loads(at.get_by_key("sae_shrinkage_chart").get("vega_lite_chart")[0].proto.spec)
    district = at.selectbox(key="sae_district").value
    townships = int(areas["area"].astype(str).str.startswith(district).sum())
    assert spec["encoding"]["y"]["field"] == "name" and spec["height"] >= 26 * townships > 0, (townships, spec)
    # the unit-level model with two register covariates
    at.selectbox(key="sae_model").select("BHF").run()
    at.multiselect(key="sae_covariates").select("vat_sales").run()
    assert not at.exception, at.exception
    unit = table(at, "sae_table")
    assert len(unit) == 12 and not unit["eblup"].equals(areas["eblup"])
    assert (unit["shrinkage"].between(0, 100)).all()  # shown in per cent
    at.button(key="sae_submit").click().run()
    run_id = at.session_state["sae_submitted"]
    run = registry.get_run(lake, run_id)
    assert run.kind == "small_area_estimate" and run.params["model"] == "BHF"
    assert run.params["covariates"] == ["si_headcount", "vat_sales"]
    assert review.state(lake, run_id) == "submitted"
    # a covariate this panel does not carry: a clear message in the UI language, the method's own
    # words (naming the covariate) verbatim beneath it, no crash
    at.multiselect(key="sae_covariates").select("electricity_kwh").run()
    assert not at.exception and [e.value for e in at.error] == [translate("est.failed", "en")]
    assert any("electricity_kwh" in c.value for c in at.code)


def test_seasonal_page_shows_m_and_q_and_saves_the_spec_with_the_run(est_env):
    lake = est_env
    at = page("seasonal.py", "stat")
    assert not at.exception, at.exception
    at.selectbox(key="sa_transform").select("log").run()
    assert at.get_by_key("sa_chart") is not None
    quality = table(at, "sa_quality")
    assert list(quality["statistic"])[:3] == ["M1", "M2", "M3"] and "Q" in set(quality["statistic"])
    assert quality["value"].between(0, 3).all()
    assert "qs_seasadj_p" in set(table(at, "sa_diagnostics")["statistic"])
    at.button(key="sa_submit").click().run()
    run = registry.get_run(lake, at.session_state["sa_submitted"])
    assert run.kind == "seasonal_adjustment" and run.params["spec"]["transform"] == "log"
    spc = registry.read_output(lake, run.run_id, "spec").toPandas()["spc"].iloc[0]
    assert "transform{ function=log }" in spc


@pytest.mark.parametrize("name", ["estimates.py", "small_areas.py", "seasonal.py"])
def test_pages_refuse_data_engineers(est_env, name):
    at = page(name, "eng")
    assert not at.exception and at.error and not at.button


# ---- issue 19: which values, unusable weights, clear failures, a second submission ---------------

def test_estimates_page_says_it_uses_the_edited_panel_and_its_version(est_env):
    at = page("estimates.py", "stat")
    assert not at.exception, at.exception
    version = est_env.version("quality.survey_panel")
    assert any(f"quality.survey_panel version {version}" in i.value for i in at.info), texts(at)
    at.checkbox(key="est_use_imputed").uncheck().run()
    assert any("raw reported values" in w.value for w in at.warning)


def test_estimates_page_without_a_panel_warns_that_values_are_raw_and_offers_to_build_it(spark, tmp_path,
                                                                                       monkeypatch):
    from workbench.lake import Lake

    lake = Lake(str(tmp_path / "lake"), spark=spark)
    write_survey_lake(lake, spark, with_panel=False)
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "en")
    at = page("estimates.py", "stat")
    assert not at.exception, at.exception
    assert any("Using raw reported values" in w.value for w in at.warning), texts(at)
    assert at.button(key="est_build_panel") is not None


def test_bounds_are_honoured_by_linear_calibration_and_impossible_bounds_say_so(est_env):
    at = page("estimates.py", "stat")
    at.slider(key="est_bounds").set_value((0.8, 1.3)).run()
    assert not at.exception, at.exception
    weights = table(at, "est_weights").iloc[0]
    # before, linear ignored the slider (g up to 1.36 here); now it is truncated linear within the bounds
    assert weights["distance"] == "truncated linear"  # shown by name (issue 21)
    assert 0.8 - 1e-9 <= weights["g_min"] <= weights["g_max"] <= 1.3 + 1e-9
    at.slider(key="est_bounds").set_value((0.9, 1.1)).run()  # too narrow for these totals
    assert not at.exception, at.exception
    assert any("cannot meet the totals" in e.value and "Widen the bounds" in e.value for e in at.error), texts(at)
    assert "est_submit" not in [b.key for b in at.button]  # nothing to submit
    at.slider(key="est_bounds").set_value((0.5, 1.0)).run()  # 1 must lie inside the bounds
    assert not at.exception, at.exception
    assert any("lower < 1 < upper" in e.value for e in at.error)
    assert "est_submit" not in [b.key for b in at.button]


def test_two_submissions_in_a_row_each_name_their_own_run(est_env):
    at = page("estimates.py", "stat")
    at.button(key="est_submit").click().run()
    first = at.session_state["est_submitted"]
    at.selectbox(key="est_variable").select("revenue").run()
    at.button(key="est_submit").click().run()
    assert not at.exception, at.exception
    second = at.session_state["est_submitted"]
    assert first != second and any(second in s.value for s in at.success)
    assert registry.get_run(est_env, second).params["variable"] == "revenue"
    assert review.state(est_env, second) == "submitted"
