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
