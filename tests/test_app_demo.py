"""The app on the real small demo lake (conftest's session-wide ``demo_lake``: the
generator and every job), checked through Home and the catalogue."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from test_app import MAIN, PASSWORDS, TIMEOUT, table

pytestmark = pytest.mark.slow


def test_catalog_lists_the_demo_tables(demo_lake, monkeypatch):
    for key, value in demo_lake.environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "en")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()
    at.text_input(key="signin_username").input("research")
    at.text_input(key="signin_password").input(PASSWORDS["research"])
    at.button(key="signin_submit").click().run()
    assert not at.exception, at.exception
    assert table(at, "home_freshness")["last_delivery"].notna().all()
    at.switch_page("app_pages/catalog.py").run()
    assert not at.exception, at.exception
    listed = table(at, "catalog_tables").set_index("table")
    assert set(listed.index) == set(demo_lake.lake.table_names())
    for name in ("workbench.loads", "bronze.vat", "quarantine.vat", "silver.enterprises", "silver.vat_monthly",
                 "gold.enterprise_month", "gold.indicators_monthly"):
        assert listed.loc[name, "owner"], name  # from conf/catalog.toml or conf/sources.toml
        assert listed.loc[name, "title"] != name, name
