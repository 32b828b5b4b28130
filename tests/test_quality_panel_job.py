"""The edited survey panel needs no hand-run prerequisite (issue 19, item 2).

`workbench jobs run all` ends with ``quality_survey_panel``; building the panel on a lake where
nobody ran the survey's rules runs them first (before, it stopped with an English message telling
the user to run a command-line command); the Editing page's first click works.
"""

from __future__ import annotations

import shutil

import pytest

from test_app import texts
from test_app_runs import page
from workbench.lake import Lake
from workbench.pipeline import run_jobs
from workbench.quality import store

SILVER = ("silver.survey_returns", "silver.vat_monthly", "silver.social_insurance_monthly", "silver.enterprises",
          "silver.survey_sample")
pytestmark = pytest.mark.timeout(3000)  # the demo lake's build is this session's setup


def test_the_pipeline_builds_the_panel_and_skips_when_nothing_changed(demo_lake):
    result = demo_lake.results["quality_survey_panel"]
    assert result.status == "ok", result.message
    assert demo_lake.lake.exists(store.PANEL) and demo_lake.lake.row_count(store.PANEL) > 10_000
    # the session's demo lake is shared: a test before this one may have run the rules again,
    # which the panel follows; once brought up to date, a second run finds nothing to do
    run_jobs(["quality_survey_panel"], lake=demo_lake.lake, settings=demo_lake.settings)
    again = run_jobs(["quality_survey_panel"], lake=demo_lake.lake, settings=demo_lake.settings)[0]
    assert again.status == "skipped", again.message


@pytest.fixture()
def fresh_silver(demo_lake, spark, tmp_path):
    """Only the silver tables the panel needs: no rule results, no panel."""
    root = tmp_path / "lake"
    for name in SILVER:
        shutil.copytree(demo_lake.lake.path(name), root.joinpath(*name.split(".")))
    return Lake(str(root), spark=spark)


def test_building_the_panel_runs_the_survey_rules_first_when_there_are_none(fresh_silver):
    assert store.rule_results_stale(fresh_silver, store.SURVEY)
    run = store.build_panel(fresh_silver, "stat")
    assert run.outputs[store.PANEL] == 1 and not store.rule_results_stale(fresh_silver, store.SURVEY)
    assert store.latest_run(fresh_silver, "rules", store.SURVEY) is not None


def test_the_editing_pages_first_click_builds_the_panel(fresh_silver, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", fresh_silver.root)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "en")
    at = page("editing.py", "stat")
    assert not at.exception, at.exception
    at.button(key="editing_build").click().run()
    assert not at.exception and not at.error, texts(at)
    assert any("Panel version 1 written" in s.value for s in at.success), texts(at)
    assert fresh_silver.exists(store.PANEL)


def _latest_logged(lake: Lake) -> dict:
    edits = lake.read(store.EDITS).toPandas().sort_values(["edited_at", "edit_id"])
    return {(r.credit_code, str(r.period), r.column): (r.after, r.method)
            for r in edits.drop_duplicates(["credit_code", "period", "column"], keep="last").itertuples()}


def _imputed(lake: Lake) -> dict:
    panel = lake.read(store.PANEL).toPandas()
    return {(r["credit_code"], str(r["period"]), var): (r[var], r[f"{var}_method"])
            for _, r in panel.iterrows() for var in ("revenue", "employment") if r[f"{var}_flag"] == "imputed"}


def test_a_rebuild_logs_only_the_imputations_that_changed(fresh_silver):
    """Issue 30: every rebuild appended every imputed cell of the panel to quality.edits again
    (4,135 rows became 8,270 on the demo), so the log grew by the whole panel with each new month.
    Now the log holds each cell's changes: a rebuild of the same inputs adds nothing, a changed
    input adds only the cells it moved, and each imputed cell's latest logged edit is the panel's."""
    lake = fresh_silver
    store.build_panel(lake, "stat")
    first = lake.row_count(store.EDITS)
    assert first > 1000 and _latest_logged(lake).items() >= _imputed(lake).items()
    store.build_panel(lake, "stat")
    assert lake.row_count(store.EDITS) == first  # nothing moved: nothing logged
    # one respondent's latest return goes missing: its cells are imputed anew, and donors move
    survey = lake.read(store.SURVEY)
    latest = survey.agg({"period": "max"}).collect()[0][0]
    gone = survey.filter(survey.period == latest).select("credit_code").limit(1).collect()[0][0]
    lake.delete_where(store.SURVEY, f"credit_code = '{gone}' AND period = DATE '{latest.isoformat()}'")
    store.build_panel(lake, "stat")
    added = lake.row_count(store.EDITS) - first
    assert 0 < added < first / 10, added
    imputed = _imputed(lake)
    logged = _latest_logged(lake)
    assert {k: logged.get(k) for k in imputed} == imputed
    assert (gone, latest.isoformat(), "revenue") in imputed
