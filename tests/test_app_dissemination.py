"""AppTest for the Dissemination page on a real lake with public, embargoed, withdrawn and protected releases."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from test_api import build_release_lake
from test_app import PAGES, TIMEOUT, table, texts
from workbench.auth import load_users


@pytest.fixture(scope="module")
def release_lake(spark, tmp_path_factory):
    return build_release_lake(spark, str(tmp_path_factory.mktemp("diss") / "lake"))


def page(username: str, lake, monkeypatch) -> AppTest:
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    at = AppTest.from_file(PAGES / "dissemination.py", default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.session_state["user"] = load_users()[username]
    return at.run()


def test_calendar_published_list_and_downloads_for_the_public_series(release_lake, monkeypatch):
    at = page("research", release_lake, monkeypatch)
    assert not at.exception, at.exception
    scheduled = table(at, "diss_scheduled")
    assert set(zip(scheduled["series"], scheduled["vintage"])) == {("sample_totals", 2), ("next_month", 1)}
    published = table(at, "diss_published")
    assert set(zip(published["series"], published["vintage"])) == {
        ("sample_totals", 1), ("withdrawn_series", 1), ("area_industry", 1)}
    assert published.set_index("series").loc["withdrawn_series", "withdrawn"]
    # a researcher may download only what the public may: no embargoed vintage, nothing withdrawn
    # by name, its code (the data API's name for it) beside
    assert [o.split(" (")[-1] for o in at.selectbox(key="diss_series").options] == ["area_industry)",
                                                                                   "sample_totals)"]
    at.selectbox(key="diss_series").set_value("sample_totals").run()
    assert at.selectbox(key="diss_vintage").options == ["1"]
    buttons = at.get("download_button")
    assert len(buttons) == 5
    assert [b.proto.label for b in buttons][0] == "CSV (opens in Excel)"
    at.selectbox(key="diss_series").set_value("area_industry").run()
    assert "Disclosure control:" in texts(at)
    with pytest.raises(KeyError):  # the internal suppression report is for supervisors only
        at.get_by_key("diss_report")


def test_supervisor_sees_embargoed_vintages_and_the_suppression_report(release_lake, monkeypatch):
    at = page("super", release_lake, monkeypatch)
    assert not at.exception, at.exception
    at.selectbox(key="diss_series").set_value("sample_totals").run()
    assert at.selectbox(key="diss_vintage").options == ["2", "1"]
    at.selectbox(key="diss_vintage").set_value(2).run()
    assert "Under embargo until" in texts(at)
    at.selectbox(key="diss_series").set_value("area_industry").run()
    report = table(at, "diss_report")
    assert len(report) > 0 and set(report["status"]) <= {"primary", "secondary"}
    assert "primary" in set(report["status"])
    assert "Disclosure control:" in texts(at)


def test_dissemination_page_needs_a_signed_in_user(release_lake, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", release_lake.root)
    at = AppTest.from_file(PAGES / "dissemination.py", default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.warning and not at.dataframe


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_releases_are_named_with_their_period_and_no_none(release_lake, monkeypatch, lang):
    """Issue 29 item 6: Dissemination did not say what period a release covers, showed series as
    ids, and its suppression columns said "None" on the Chinese page."""
    from workbench.i18n import translate

    at = page("super", release_lake, monkeypatch)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    published = table(at, "diss_published").set_index("series")
    table_name = translate("runkind.area_industry_release", lang)
    assert published.loc["area_industry", "title"].startswith(table_name)
    assert published.loc["area_industry", "covers"] == ("2026年9月" if lang == "zh" else "Sep 2026")
    for column in ("primary", "secondary"):  # no disclosure control ran on the test kind's totals
        assert published.loc["sample_totals", column] == translate("diss.not_controlled", lang)
        assert not published[column].isna().any() and "None" not in set(published[column].astype(str))
    label = at.selectbox(key="diss_series").options[0]
    assert label.startswith(table_name) and "area_industry" in label
    at.selectbox(key="diss_series").set_value("area_industry").run()
    assert translate("diss.covers", lang, title=published.loc["area_industry", "title"], vintage=1,
                     period=published.loc["area_industry", "covers"]) in texts(at)
