"""The clerical review page on the small demo lake: a pair side by side, a decision kept."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from test_app import MAIN, PASSWORDS, TIMEOUT

pytestmark = pytest.mark.slow


def test_review_page_records_a_decision(demo_lake, monkeypatch):
    for key, value in demo_lake.environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "en")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()
    at.text_input(key="signin_username").input("stat")
    at.text_input(key="signin_password").input(PASSWORDS["stat"])
    at.button(key="signin_submit").click().run()
    at.switch_page("app_pages/linkage_review.py").run()
    assert not at.exception, at.exception
    lake = demo_lake.lake
    before = lake.read("silver.link_reviews").count() if lake.exists("silver.link_reviews") else 0
    at.selectbox(key="linkage_source").select("electricity").run()
    at.button(key="linkage_reject").click().run()
    assert not at.exception, at.exception
    decisions = lake.read("silver.link_reviews").toPandas()
    assert len(decisions) == before + 1
    last = decisions.sort_values("decided_at").iloc[-1]
    assert (last["source"], last["decision"], last["reviewer"]) == ("electricity", "reject", "stat")


def test_an_undone_decision_leaves_its_pair_open_and_unlabelled():
    """Issue 29: no undo in linkage review. The record keeps every decision; the latest of a
    pair counts, and an ``undo`` leaves the pair undecided (queued, no label for the job)."""
    import pandas as pd

    from workbench.linkage.clusters import latest_decisions
    from workbench.linkage.review import decision_rows, open_pairs

    queue = pd.DataFrame({"source": ["vat", "vat"], "record_id": ["r1", "r2"], "credit_code": ["c1", "c2"],
                          "match_weight": [0.5, -0.2], "threshold_weight": [0.0, 0.0]})
    at = pd.Timestamp("2026-12-01 10:00")
    made = pd.concat([decision_rows(queue.iloc[[0]], "accept", "stat", at),
                      decision_rows(queue.iloc[[1]], "reject", "stat", at + pd.Timedelta(seconds=1)),
                      decision_rows(queue.iloc[[0]], "undo", "stat", at + pd.Timedelta(seconds=2))])
    assert open_pairs(queue, made)["record_id"].tolist() == ["r1"]
    assert latest_decisions(made, "vat")[["record_id", "decision"]].values.tolist() == [["r2", "reject"]]
    again = pd.concat([made, decision_rows(queue.iloc[[0]], "reject", "stat", at + pd.Timedelta(seconds=3))])
    assert open_pairs(queue, again).empty
    assert sorted(latest_decisions(again, "vat")["decision"]) == ["reject", "reject"]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_decision_taken_by_mistake_is_undone_on_the_page(demo_lake, monkeypatch, language):
    """Reject a pair, undo it: the same pair is shown again and the record holds both
    decisions; done twice in a row, in both languages."""
    from workbench.i18n import translate

    for key, value in demo_lake.environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", language)
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()
    at.text_input(key="signin_username").input("stat")
    at.text_input(key="signin_password").input(PASSWORDS["stat"])
    at.button(key="signin_submit").click().run()
    at.switch_page("app_pages/linkage_review.py").run()
    at.selectbox(key="linkage_source").select("electricity").run()
    lake = demo_lake.lake
    for _ in range(2):
        shown = [c.value for c in at.caption if c.value.startswith(translate("linkage.record_id", language))]
        before = lake.read("silver.link_reviews").count() if lake.exists("silver.link_reviews") else 0
        at.button(key="linkage_reject").click().run()
        assert [c.value for c in at.caption if c.value.startswith(translate("linkage.record_id", language))] != shown
        at.button(key="linkage_undo").click().run()
        assert not at.exception, at.exception
        assert [c.value for c in at.caption if c.value.startswith(translate("linkage.record_id", language))] == shown
        record = shown[0].rsplit(": ", 1)[-1]
        assert translate("linkage.undone", language, record_id=record) in [c.value for c in at.caption]
        decisions = lake.read("silver.link_reviews").toPandas().sort_values("decided_at")
        assert len(decisions) == before + 2
        assert decisions["decision"].tolist()[-2:] == ["reject", "undo"]
