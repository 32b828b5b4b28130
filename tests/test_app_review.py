"""AppTests for issue 19's review, release, compare and page-state bugs, on a real lake with real runs.

Each test names the bug it pins; each failed on the code before the fix.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pandas as pd
import pytest
from pyspark.sql import functions as F
from streamlit.testing.v1 import AppTest

from test_app import MAIN, PAGES, PASSWORDS, TIMEOUT, table, texts
from test_app_runs import page, pick, runs_lake  # the fixture, and app_test_totals registered
from workbench.auth import load_users
from workbench.i18n import translate
from workbench.runs import registry, review
from workbench.runs.release import list_releases


@registry.method("app_test_counts")
def _counts(inputs, params):
    return {"counts": inputs["gold.sample"].groupBy("area").agg(F.count("*").alias("rows"))}


def approved_run(lake, users, scale: float) -> str:
    """A run of stat's, submitted by stat and approved by super2 (so super may release it)."""
    run_id = registry.run_method(lake, "app_test_totals", {"scale": scale}, ["gold.sample"], user=users["stat"],
                                 title=f"totals x{scale:g}")
    review.submit(lake, run_id, users["stat"])
    review.approve(lake, run_id, users["super2"])
    return run_id


def release_from_page(at: AppTest, run_id: str, series: str) -> AppTest:
    pick(at, "release_pick", run_id)
    at.text_input(key="release_series").input(series).run()
    return at.button(key="release_submit").click().run()


def test_release_another_withdraw_and_release_again_from_the_page(runs_lake):
    """Only one release ever worked: the release button's callback closed over ``run_id``,
    which the Withdraw select box further down reassigned, so the second release named the
    first run again ("cannot release run ...: it is released")."""
    lake, _, users = runs_lake
    first, second, third = (approved_run(lake, users, s) for s in (10.0, 20.0, 30.0))
    at = page("review.py", "super")
    release_from_page(at, first, "totals_a")
    assert not at.exception, at.exception
    assert "Released totals_a vintage 1" in texts(at)
    release_from_page(at, second, "totals_b")
    assert not at.error, at.error[0].value
    assert "Released totals_b vintage 1" in texts(at)
    assert (review.state(lake, first), review.state(lake, second)) == ("released", "released")

    pick(at, "withdraw_pick", first)
    at.text_input(key="withdraw_reason").input("wrong scale").run()
    at.button(key="withdraw_submit").click().run()
    assert review.state(lake, first) == "withdrawn" and review.state(lake, second) == "released"
    release_from_page(at, third, "totals_a")
    assert not at.error, at.error[0].value
    assert "Released totals_a vintage 2" in texts(at)
    vintages = table(at, "review_vintages")
    assert sorted(zip(vintages["series"], vintages["vintage"], vintages["withdrawn"])) == [
        ("totals_a", 1, True), ("totals_a", 2, False), ("totals_b", 1, False)]


def test_a_newly_picked_run_proposes_its_own_series(runs_lake):
    """The series box kept the previous run's name when another approved run was picked."""
    lake, _, users = runs_lake
    runs = [registry.run_method(lake, "app_test_totals", {"scale": s}, ["gold.sample"], user=users["stat"],
                                series=name) for s, name in ((5.0, "five"), (6.0, "six"))]
    for run_id in runs:
        review.submit(lake, run_id, users["stat"])
        review.approve(lake, run_id, users["super2"])
    at = page("review.py", "super")
    pick(at, "release_pick", runs[0])
    assert at.text_input(key="release_series").value == "five"
    pick(at, "release_pick", runs[1])
    assert at.text_input(key="release_series").value == "six"


def test_embargo_is_entered_and_shown_in_the_city_time_zone(runs_lake):
    """09:30 entered was stored as 09:30 UTC, which is 17:30 in G City ([lake].local_timezone
    Asia/Shanghai, UTC+8 all year, no summer time)."""
    lake, _, users = runs_lake
    run_id = approved_run(lake, users, 7.0)
    at = page("review.py", "super")
    pick(at, "release_pick", run_id)
    at.text_input(key="release_series").input("embargoed").run()
    at.checkbox(key="release_use_embargo").check().run()
    assert "Asia/Shanghai" in at.date_input(key="release_embargo_date").label
    assert "Asia/Shanghai" in at.time_input(key="release_embargo_time").label
    at.date_input(key="release_embargo_date").set_value(date(2030, 1, 2)).run()
    at.time_input(key="release_embargo_time").set_value(time(7, 0)).run()
    assert "2030-01-01 23:00 UTC" in texts(at)  # the preview says what instant that is
    at.button(key="release_submit").click().run()
    assert not at.error, at.error[0].value
    rel = next(r for r in list_releases(lake) if r.run_id == run_id)
    assert rel.embargo_until == datetime(2030, 1, 1, 23, 0, tzinfo=timezone.utc)
    assert rel.release_date == date(2030, 1, 2)  # the city's calendar day, not UTC's
    shown = table(at, "review_vintages").set_index("series")
    assert pd.Timestamp(shown.loc["embargoed", "embargo_until"]) == pd.Timestamp(2030, 1, 2, 7, 0)


def test_compare_defaults_to_two_runs_of_one_kind(runs_lake):
    """Compare opened with the two newest runs even when they were unrelated kinds."""
    lake, made, users = runs_lake
    registry.run_method(lake, "app_test_counts", {}, ["gold.sample"], user=users["stat"], title="counts")
    at = page("compare.py", "super")  # a reviewer, who may open every run
    assert not at.exception, at.exception
    assert at.multiselect(key="compare_pick").value == [made[3.0], made[2.0]]
    params = table(at, "compare_params").set_index("Name")
    assert bool(params.loc["scale", "Differs"])


@pytest.mark.parametrize("name, key", [("runs.py", "runs_pick"), ("review.py", "review_pick")])
def test_a_link_to_a_run_opens_it(runs_lake, name, key):
    """``?run=ID`` on Runs and Review was ignored: the page opened its first run."""
    lake, made, users = runs_lake
    for scale in made:
        review.submit(lake, made[scale], users["stat" if scale < 3 else "super"])
    at = AppTest.from_file(PAGES / name, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.session_state["user"] = load_users()["super"]
    at.query_params["run"] = made[1.0]
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key=key).value == made[1.0]
    pick(at, key, made[2.0])  # the link opens the run once; the user may then pick another
    assert at.selectbox(key=key).value == made[2.0]


def test_a_link_to_a_run_opens_it_on_compare_beside_its_predecessor(runs_lake):
    _, made, _ = runs_lake
    at = AppTest.from_file(PAGES / "compare.py", default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.session_state["user"] = load_users()["stat"]  # the author of both runs
    at.query_params["run"] = made[2.0]
    at.run()
    assert at.multiselect(key="compare_pick").value == [made[2.0], made[1.0]]


def test_settings_survive_a_page_switch(runs_lake):
    """Leaving a page reset its settings: Streamlit drops a widget's value once it is not drawn."""
    _, made, _ = runs_lake
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()
    at.text_input(key="signin_username").input("super")
    at.text_input(key="signin_password").input(PASSWORDS["super"])
    at.button(key="signin_submit").click().run()
    at.switch_page("app_pages/runs.py").run()
    assert not at.exception, at.exception
    at.multiselect(key="runs_user").set_value(["super"]).run()
    pick(at, "runs_pick", made[3.0])
    at.switch_page("app_pages/compare.py").run()
    at.switch_page("app_pages/home.py").run()
    assert not at.exception, at.exception
    at.switch_page("app_pages/runs.py").run()
    assert at.multiselect(key="runs_user").value == ["super"]
    assert at.selectbox(key="runs_pick").value == made[3.0]
    assert set(table(at, "runs_list")["user"]) == {"super"}
    # the typed password is never kept; signing out forgets every kept setting
    assert not any("password" in k for k in at.session_state["_kept_widget_values"])
    at.sidebar.button(key="signout").click().run()
    assert set(at.session_state["_kept_widget_values"]) <= {"lang"}
    assert "runs_user" not in at.session_state


def submitting_page():
    """A method page's submit block (run_views.submit_for_review) under one scale setting."""
    import streamlit as st

    from workbench.app import run_views
    from workbench.auth import load_users

    st.number_input("scale", value=1.0, key="t_scale")
    run_views.submit_for_review("t", load_users()["stat"], lambda: {
        "kind": "app_test_totals", "params": {"scale": st.session_state["t_scale"]}, "inputs": ["gold.sample"],
        "title": "totals", "series": "t_totals"})


def test_the_submitted_message_belongs_to_its_run(runs_lake):
    """"Run ... submitted" stayed above settings that no longer matched that run."""
    lake, _, _ = runs_lake
    at = AppTest.from_function(submitting_page, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.run()
    at.number_input(key="t_scale").set_value(4.0).run()
    at.button(key="t_submit").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["t_submitted"]
    assert registry.get_run(lake, run_id).params == {"scale": 4.0}
    assert run_id in texts(at)
    at.number_input(key="t_scale").set_value(5.0).run()
    assert run_id not in texts(at)  # these settings are not the submitted run's
    at.number_input(key="t_scale").set_value(4.0).run()
    assert run_id in texts(at)  # back to that run's settings: its message again


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_click_while_the_page_computes_new_settings_records_nothing(runs_lake, lang):
    """Issue 29, 2: the setting changed and "record and submit" clicked before the page had
    drawn its results (one rerun carries both, as a browser sends a click made while the page
    computes). The button's callback was the one drawn beside the previous results, so the run
    recorded was not the one on screen. Nothing is recorded and the page says why in the UI
    language; the next click, beside the new results, records exactly them with its comment."""
    lake, _, _ = runs_lake
    before = {r.run_id for r in registry.list_runs(lake)}
    at = AppTest.from_function(submitting_page, default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.run()
    at.number_input(key="t_scale").set_value(3.0)
    at.text_input(key="t_comment").set_value("written for scale 3")
    at.button(key="t_submit").click().run()
    assert not at.exception, at.exception
    assert {r.run_id for r in registry.list_runs(lake)} == before
    assert "t_submitted" not in at.session_state
    assert [w.value for w in at.get_by_key("t_submit_changed").warning] == [translate("runs.submit_changed", lang)]
    at.button(key="t_submit").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["t_submitted"]
    assert registry.get_run(lake, run_id).params == {"scale": 3.0}
    assert [e.comment for e in review.audit_trail(lake, run_id) if e.action == "submit"] == ["written for scale 3"]
    assert not [w for w in at.warning if w.value == translate("runs.submit_changed", lang)]


# ---- issue 29: what reaches a release and the review queue ---------------------------------------

def _approved_result(lake, users, kind: str, params: dict, outputs: dict, series: str) -> str:
    """A run of a shipped *kind* recorded from what its page computed, stat's, approved by super2."""
    run_id = registry.record_result(lake, kind, params, {"gold.sample": lake.version("gold.sample")}, outputs,
                                    user=users["stat"], series=series)
    review.submit(lake, run_id, users["stat"])
    review.approve(lake, run_id, users["super2"])
    return run_id


def _seasonal_outputs() -> dict:
    months = pd.date_range("2024-06-01", "2026-08-01", freq="MS").date
    return {"series": pd.DataFrame({"month": months, "original": [1.0e8 + i for i in range(len(months))],
                                    "seasadj": [1.1e8 + i for i in range(len(months))]}),
            "coefficients": pd.DataFrame({"variable": ["MA-Nonseasonal-01"], "estimate": [-1.0]}),
            "diagnostics": pd.DataFrame({"statistic": ["M8"], "value": [1.107]}),
            "spec": pd.DataFrame({"spc": ["series{ }"]})}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_seasonal_release_offers_only_the_adjusted_series_and_shows_it_first(runs_lake, lang):
    """Issue 29 item 1: "output to publish" was preselected to the alphabetically first output, the
    ARIMA coefficients, and the supervisor saw nothing of the table before confirming."""
    from workbench.i18n import translate
    from workbench.runs.release import read_release

    lake, _, users = runs_lake
    run_id = _approved_result(lake, users, "seasonal_adjustment", {"indicator": "vat_sales_total", "spec": {}},
                              _seasonal_outputs(), "sa_vat_sales_total")
    at = AppTest.from_file(PAGES / "review.py", default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.session_state["user"] = load_users()["super"]
    at.run()
    pick(at, "release_pick", run_id)
    output = at.selectbox(key="release_output")
    assert output.options == [translate("runoutput.series", lang)] and output.value == "series"
    # the table being published: its period and unit said, its first rows in the UI language
    said = at.get_by_key("release_preview").caption[0].value
    period = "2024年6月至2026年8月" if lang == "zh" else "Jun 2024 to Aug 2026"
    assert period in said and ("元" if lang == "zh" else "yuan") in said, said
    rows = table(at, "release_preview_rows")
    assert len(rows) == 8 and not any("coefficient" in str(c) or c == "estimate" for c in rows.columns)
    at.button(key="release_submit").click().run()
    assert not at.error, at.error[0].value
    published = read_release(lake, "sa_vat_sales_total", users["super"]).toPandas()
    assert "seasadj" in published.columns and "estimate" not in published.columns


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_after_a_release_the_next_run_proposes_its_own_series_and_a_nowcast_is_refused_in_words(runs_lake, lang):
    """Issue 29 item 4: after releasing survey_revenue the GDP nowcast's form kept "survey_revenue",
    and the nowcast's refusal said "list it under [tables.*] in conf/disclosure.toml"."""
    from workbench.i18n import translate

    lake, _, users = runs_lake
    revenue = registry.run_method(lake, "app_test_totals", {"scale": 8.0}, ["gold.sample"], user=users["stat"],
                                  series="survey_revenue")
    review.submit(lake, revenue, users["stat"])
    review.approve(lake, revenue, users["super2"])
    nowcast = _approved_result(lake, users, "nowcast", {"series": "gdp", "asof": "2026-09-11"},
                               {"nowcasts": pd.DataFrame({"model": ["bridge"], "point": [1.0]})}, "gdp")
    at = AppTest.from_file(PAGES / "review.py", default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.session_state["user"] = load_users()["super"]
    at.run()
    pick(at, "release_pick", revenue)
    assert at.text_input(key="release_series").value == "survey_revenue"
    at.button(key="release_submit").click().run()
    assert review.state(lake, revenue) == "released"
    # the released run left the list: the form is now the nowcast's, with its own series
    assert at.selectbox(key="release_pick").value == nowcast
    assert at.text_input(key="release_series").value == "gdp"
    refusal = translate("review.rule.kind_not_releasable", lang, kind=translate("runkind.nowcast", lang),
                        run=nowcast)
    assert refusal in [e.value for e in at.error]
    assert "conf/disclosure.toml" not in texts(at)
    assert at.button(key="release_submit").disabled
    assert review.state(lake, nowcast) == "approved"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_identical_run_is_flagged_in_the_queue_and_the_comment_is_cleared(runs_lake, lang):
    """Issue 29 item 7: identical runs flooded the queue with no warning; the comment box kept the
    previous run's comment."""
    from workbench.i18n import translate

    lake, _, users = runs_lake
    made = []
    for _ in range(2):
        run_id = registry.run_method(lake, "app_test_totals", {"scale": 9.0}, ["gold.sample"], user=users["stat"])
        review.submit(lake, run_id, users["stat"])
        made.append(run_id)
    first, second = made
    at = AppTest.from_file(PAGES / "review.py", default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.session_state["user"] = load_users()["super"]
    at.run()
    pick(at, "review_pick", second)
    flagged = at.get_by_key("review_queue_identical")
    assert flagged.warning[0].value == translate("review.identical", lang, run=first,
                                                 state=translate("state.submitted", lang))
    # (its button opening that run needs the app's navigation: the browser walk clicks it)
    at.text_area(key="review_comment").input("same as the other one").run()
    at.button(key="review_reject").click().run()
    assert review.state(lake, second) == "rejected"
    assert at.text_area(key="review_comment").value == ""
    pick(at, "review_pick", first)  # the copy was rejected: the first run stands alone
    with pytest.raises(KeyError):
        at.get_by_key("review_queue_identical")


def test_submitting_a_copy_says_that_an_identical_run_exists(runs_lake):
    """Issue 29 item 7: the same settings were submitted four times with no warning, and the comment
    box kept the comment of the run just submitted."""
    lake, _, _ = runs_lake
    at = AppTest.from_function(submitting_page, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.run()
    at.number_input(key="t_scale").set_value(6.0).run()
    with pytest.raises(KeyError):
        at.get_by_key("t_identical")
    at.text_input(key="t_comment").input("first try").run()
    at.button(key="t_submit").click().run()
    first = at.session_state["t_submitted"]
    assert at.text_input(key="t_comment").value == ""
    again = AppTest.from_function(submitting_page, default_timeout=TIMEOUT)  # another session, same settings
    again.session_state["lang"] = "zh"
    again.run()
    again.number_input(key="t_scale").set_value(6.0).run()
    assert first in again.get_by_key("t_identical").warning[0].value


def test_runs_opens_a_seasonal_run_on_its_adjusted_series(runs_lake):
    """Issue 29 item 1: Runs opened seasonal runs on their coefficients and charted them."""
    lake, _, users = runs_lake
    run_id = _approved_result(lake, users, "seasonal_adjustment", {"indicator": "vat_sales_total", "spec": {}},
                              _seasonal_outputs(), "sa_vat_sales_total")
    at = page("runs.py", "super")
    pick(at, "runs_pick", run_id)
    assert at.selectbox(key="runs_detail_output").value == "series"
    assert not at.exception, at.exception


def _embargo(at: AppTest, day: date | None) -> AppTest:
    """Set the release form's embargo to 07:00 on *day* in the city's clock, or none."""
    box = at.checkbox(key="release_use_embargo")
    if day is None:
        return box.uncheck().run()
    box.check().run()
    at.date_input(key="release_embargo_date").set_value(day).run()
    return at.time_input(key="release_embargo_time").set_value(time(7, 0)).run()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_vintage_public_before_the_earlier_vintages_embargo_is_refused_on_the_page(runs_lake, lang):
    """Issue 29: a release whose embargo lifted before the previous vintage's was published, so the
    newer figure was out before the older one. The page refuses it, twice in a row (an earlier
    embargo, then none), naming both vintages' embargo times; a later embargo releases it."""
    lake, _, users = runs_lake
    first, second = approved_run(lake, users, 11.0), approved_run(lake, users, 12.0)
    at = AppTest.from_file(PAGES / "review.py", default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.session_state["user"] = users["super"]
    at.run()
    pick(at, "release_pick", first)
    at.text_input(key="release_series").input("ordered").run()
    _embargo(at, date(2030, 1, 2)).button(key="release_submit").click().run()
    assert review.state(lake, first) == "released", [e.value for e in at.error]
    earlier = "2030-01-02 07:00 (Asia/Shanghai)"
    for attempt, day in ((1, date(2030, 1, 1)), (2, None)):
        pick(at, "release_pick", second)
        at.text_input(key="release_series").input("ordered").run()
        _embargo(at, day).button(key="release_submit").click().run()
        assert not at.exception, at.exception
        said = "\n".join(e.value for e in at.error)
        assert "ordered" in said and earlier in said, (attempt, said)
        assert ("2030-01-01 07:00 (Asia/Shanghai)" if day else translate("review.rule.public_at_once", lang)) in said
        assert ("禁发至" if lang == "zh" else "under embargo until") in said, said
        assert review.state(lake, second) == "approved" and [r.vintage for r in list_releases(lake, "ordered")] == [1]
    _embargo(at, date(2030, 1, 3)).button(key="release_submit").click().run()
    assert review.state(lake, second) == "released", [e.value for e in at.error]
    assert [r.vintage for r in list_releases(lake, "ordered")] == [1, 2]
