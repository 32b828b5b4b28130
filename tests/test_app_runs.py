"""AppTests for the Runs, Compare and Review pages on a real lake with real runs."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from pyspark.sql import functions as F
from streamlit.testing.v1 import AppTest

from test_app import PAGES, TIMEOUT, table, texts
from workbench.app import run_views
from workbench.app.session import ROLES_FOR
from workbench.auth import load_users
from workbench.i18n import translate
from workbench.runs import registry, review


@registry.method("app_test_totals")
def _totals(inputs, params):
    df = inputs["gold.sample"].groupBy("area").agg((F.sum("value") * params["scale"]).alias("total"))
    return {"estimates": df, "_metrics": {"scale_used": params["scale"]}}


@registry.method("app_test_measures")
def _measures(inputs, params):
    df = inputs["gold.sample"].groupBy("area").agg(F.sum("value").alias("total"))
    return {"estimates": df, "_metrics": {"cv": params["cv"], "se": params["se"]}}


@pytest.fixture()
def runs_lake(spark, lake, monkeypatch):
    lake.write("gold.sample", spark.createDataFrame(pd.DataFrame({"area": ["a", "b"], "value": [1.0, 2.0]})))
    users = load_users()
    made = {}
    for scale, who in ((1.0, "stat"), (2.0, "stat"), (3.0, "super")):
        made[scale] = registry.run_method(lake, "app_test_totals", {"scale": scale}, ["gold.sample"],
                                          user=users[who], title=f"totals x{scale:g}")
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "en")
    return lake, made, users


def text_table(at: AppTest, key: str) -> pd.DataFrame:
    """The static table (widgets.text_table) in the container with *key*, with its headings."""
    return at.get_by_key(key).table[0].value


def pick(at: AppTest, key: str, run_id: str) -> AppTest:
    """Choose the option showing *run_id* (labels are formatted in the app's language)."""
    box = at.selectbox(key=key)
    return box.select_index(next(i for i, o in enumerate(box.options) if run_id in o)).run()


def page(name: str, username: str) -> AppTest:
    at = AppTest.from_file(PAGES / name, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.session_state["user"] = load_users()[username]
    return at.run()


def test_runs_page_lists_runs_shows_inputs_and_submits(runs_lake):
    lake, made, _ = runs_lake
    at = page("runs.py", "stat")
    assert not at.exception, at.exception
    assert set(table(at, "runs_list")["run_id"]) == {made[1.0], made[2.0]}  # stat's own, not super's
    pick(at, "runs_pick", made[2.0])
    inputs = table(at, "runs_detail_inputs")
    assert inputs.to_dict("records") == [{"table": "gold.sample", "version": 1}]  # 0 is the empty creation
    assert set(table(at, "runs_detail_output_rows")["total"]) == {2.0, 4.0}
    # parameters and metrics as readable two-column tables, not JSON
    assert text_table(at, "runs_detail_params").to_dict("records") == [{"Setting": "scale", "Value": "2"}]
    assert text_table(at, "runs_detail_metrics").to_dict("records") == [{"Metric": "scale_used", "Value": "2"}]
    assert not at.code, "no JSON dump on the Runs page"
    at.button(key="runs_submit").click().run()
    assert review.state(lake, made[2.0]) == "submitted"


def test_compare_page_marks_differing_parameters(runs_lake):
    _, made, _ = runs_lake
    at = page("compare.py", "stat")  # the author of both runs (research may open neither)
    assert not at.exception, at.exception
    at.multiselect(key="compare_pick").set_value([made[1.0], made[2.0]]).run()
    params = table(at, "compare_params").set_index("Name")
    assert bool(params.loc["scale", "Differs"]) and not bool(params.loc["Inputs · gold.sample", "Differs"])
    # numbers as numbers, not JSON; a column per run, headed by its title (issue 29, 8)
    assert params.loc["scale", ["totals x1", "totals x2"]].tolist() == ["1", "2"]
    # an undeclared kind's output: the first text column against the first number
    assert at.selectbox(key="compare_chart_x_app_test_totals_estimates").value == "area"
    assert at.selectbox(key="compare_chart_y_app_test_totals_estimates").value == "total"


def test_review_page_approves_refuses_self_approval_and_releases(runs_lake):
    lake, made, users = runs_lake
    for scale in (1.0, 3.0):
        review.submit(lake, made[scale], users["stat" if scale == 1.0 else "super"])
    at = page("review.py", "super")
    assert not at.exception, at.exception
    pick(at, "review_pick", made[3.0])  # super's own run
    at.button(key="review_approve").click().run()
    # the refusal is said by its rule, in the reader's language, and stays said in the language
    # read in after a switch (it is kept as the rule, not as text)
    four_eyes = {lang: translate("review.rule.four_eyes", lang, user="super", run=made[3.0],
                                 action=translate("runaction.approve", lang)) for lang in ("en", "zh")}
    assert [e.value for e in at.error] == [four_eyes["en"]] and review.state(lake, made[3.0]) == "submitted"
    at.session_state["lang"] = "zh"
    at.run()
    assert [e.value for e in at.error] == [four_eyes["zh"]]
    assert not at.code, "a catalogued refusal needs no verbatim text beneath it"
    at.session_state["lang"] = "en"
    at.run()
    pick(at, "review_pick", made[1.0])
    at.button(key="review_approve").click().run()
    assert review.state(lake, made[1.0]) == "approved"
    at.text_input(key="release_series").input("sample_totals").run()
    at.button(key="release_submit").click().run()
    assert "Released sample_totals vintage 1" in texts(at)
    assert table(at, "review_vintages")[["series", "vintage"]].values.tolist() == [["sample_totals", 1]]
    assert review.state(lake, made[1.0]) == "released"


@pytest.mark.parametrize("username", ["stat", "research", "eng"])
def test_review_page_refuses_non_supervisors_server_side(runs_lake, username):
    at = page("review.py", username)
    assert not at.exception
    assert at.error and "supervisor" in at.error[0].value
    assert not at.button


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_methods_warnings_are_said_in_the_ui_language_and_a_librarys_words_kept_verbatim(lang):
    """A nowcast's own warning is an English sentence in the lake (for logs and the CLI); the
    Runs and Nowcast pages say it in the UI language. A library's warning keeps its own words,
    shown verbatim under a sentence in the UI language."""
    from workbench.app.run_views import warning_parts
    from workbench.i18n import translate

    own = ("bridge: fewer than 8 past errors at horizon 4: the model's own interval is shown "
           "(too narrow this far from the release)")
    said, verbatim = warning_parts(own, lang)
    assert said == translate("runwarn.few_errors", lang, model=translate("nowcast.model.bridge", lang), n="8",
                             horizon="4") and verbatim is None
    said, verbatim = warning_parts("dfm: ConvergenceWarning: EM reached maximum number of iterations (3 times)", lang)
    assert verbatim == "EM reached maximum number of iterations"
    assert translate("nowcast.model.dfm", lang) in said and translate("runwarn.times", lang, n=3) in said
    assert warning_parts("a sentence no catalogue knows", lang) == ("a sentence no catalogue knows", None)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_generated_run_titles_name_what_the_run_is_about_in_the_ui_language(lang):
    """A page's English default title is rebuilt in the UI language from the kind and what the
    run is about: the estimated variable, the indicator, or the published series (a seasonal
    adjustment of retail sales showed as ``sa_retail_sales``); a title someone typed stays."""
    from workbench.app.run_views import kind_label, run_title
    from workbench.formatting import format_month, registry
    from workbench.i18n import translate

    def expected(kind, *detail):
        return translate("runtitle.generated", lang, kind=kind_label(kind, lang), detail=" ".join(detail)).strip()

    assert run_title("seasonal_adjustment", "Seasonal adjustment retail_sales", {"series": "retail_sales"},
                     "sa_retail_sales", lang) == expected("seasonal_adjustment",
                                                          translate("nowcast.series.retail_sales", lang))
    assert run_title("seasonal_adjustment", "Seasonal adjustment vat_sales_total", {"indicator": "vat_sales_total"},
                     "sa_vat_sales_total", lang) == expected(
        "seasonal_adjustment", registry().indicator("vat_sales_total").label(lang))
    assert run_title("survey_estimate", "Survey estimate employment 2026-08",
                     {"variable": "employment", "period": "2026-08"}, "survey_employment", lang) == expected(
        "survey_estimate", registry().column("employment").label(lang), format_month("2026-08", lang))
    assert run_title("nowcast", "checked against the VAT totals", {"series": "retail_sales"}, None, lang) == \
        "checked against the VAT totals"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_quality_progress_steps_are_said_in_the_ui_language(lang):
    """The quality library reports its steps in English (for logs and the CLI); the Quality
    and Editing pages' progress bars say each step in the UI language."""
    from workbench.app.quality_views import progress_text
    from workbench.i18n import translate

    assert progress_text("survey_returns: evaluating 12 rules", lang) == translate(
        "qprogress.evaluating", lang, table="survey_returns", n="12")
    assert progress_text("panel: imputing", lang) == translate("qprogress.panel_imputing", lang)
    assert progress_text("panel: done", lang) == progress_text("vat_monthly: done", lang) == translate(
        "qprogress.done", lang)
    assert progress_text("a step no catalogue knows", lang) == "a step no catalogue knows"


def test_an_action_message_is_said_in_the_language_it_is_read_in():
    """Quality, Editing and Fraud keep their last action's message across page runs; kept as
    text it stayed in the language it was made in after the reader switched."""
    from workbench.app.quality_views import Coded, Said
    from workbench.formatting import code_text
    from workbench.i18n import translate

    ran = Said.of("quality.ran", tables=2, seconds=1.5)
    assert ran.text("zh") == translate("quality.ran", "zh", tables=2, seconds=1.5) != ran.text("en")
    saved = Said.of("editing.saved", column=Said("editing.revenue"))
    for lang in ("zh", "en"):
        assert saved.text(lang) == translate("editing.saved", lang, column=translate("editing.revenue", lang))
    imputed = Said.of("editing.imputed", value="1,234.5 万元", method=Coded("imputation_method", "ratio_vat_own"))
    assert code_text("imputation_method", "ratio_vat_own", "zh") in imputed.text("zh")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_streamlits_english_select_all_is_offered_only_to_english_readers(runs_lake, lang):
    """Streamlit labels its multiselect bulk action "Select all" in fixed English; a Chinese
    reader gets the multiselect without it, with the placeholder in Chinese."""
    from zh_text import _offers_select_all

    at = AppTest.from_file(PAGES / "runs.py", default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.session_state["user"] = load_users()["super"]  # a reviewer: every run listed
    at.run()
    assert not at.exception, at.exception
    boxes = [at.multiselect(key=k) for k in ("runs_kind", "runs_state", "runs_user")]
    assert any(len(b.options) >= 2 for b in boxes)  # stat and super made runs
    assert [_offers_select_all(b.proto) for b in boxes if len(b.options) >= 2] == \
        [lang == "en"] * sum(len(b.options) >= 2 for b in boxes)
    assert {b.proto.placeholder for b in boxes} == {translate("common.choose", lang)}


# ---- issue 28 item 1: a run's raw outputs only for its author and the reviewers ------------

def linked(name: str, username: str, run_id: str, lang: str = "en") -> AppTest:
    """Page *name* opened by its address with ``?run=<run_id>``, signed in as *username*."""
    at = AppTest.from_file(PAGES / name, default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.session_state["user"] = load_users()[username]
    at.query_params["run"] = run_id
    return at.run()


# user -> may it open stat's run by its link (on a page its roles may open at all)
MAY_OPEN = {"stat": True, "research": False, "super": True, "super2": True, "admin": True, "eng": False}


@pytest.mark.parametrize("username", list(MAY_OPEN))
@pytest.mark.parametrize("name", ["runs.py", "compare.py", "review.py"])
def test_a_run_opened_by_its_link_shows_its_outputs_only_to_its_author_and_reviewers(runs_lake, username, name):
    """Signed in as research, ``/runs?run=<stat's run>`` sent every raw output row (cells
    release would suppress) and the Runs list offered every user's runs; Compare too. Every
    role opens stat's run by its link: the author and the reviewers see it, everyone else
    a refusal and nothing of the run; a page outside the role says so."""
    lake, made, users = runs_lake
    own = registry.run_method(lake, "app_test_totals", {"scale": 7.0}, ["gold.sample"], user=users["research"],
                              title="research's own")
    stats = made[2.0]
    review.submit(lake, stats, users["stat"])  # waiting for review: on the Review queue as well
    at = linked(name, username, stats)
    assert not at.exception, at.exception
    refusal = translate("access.run_refused", "en", run=stats)
    errors = [e.value for e in at.error]
    if not users[username].has_any(ROLES_FOR[name.removesuffix(".py")]):  # the page's own role guard
        assert errors == [translate("guard.forbidden", "en", roles=", ".join(
            translate(f"role.{r}", "en") for r in ROLES_FOR[name.removesuffix(".py")]))], errors
        return
    may = MAY_OPEN[username]
    everything = str([e.value for e in at.get("arrow_data_frame")]) + texts(at).replace(refusal, "")
    if may:
        assert refusal not in errors, errors
        if name == "runs.py":
            assert at.selectbox(key="runs_pick").value == stats
            assert set(table(at, "runs_detail_output_rows")["total"]) == {2.0, 4.0}
        elif name == "compare.py":
            assert stats in at.multiselect(key="compare_pick").value
        else:
            assert at.selectbox(key="review_pick").value == stats
    else:
        assert errors == [refusal], errors
        # nothing of stat's runs: not in the list, not picked, no output rows
        assert stats not in everything and made[1.0] not in everything
        if name == "runs.py":
            assert set(table(at, "runs_list")["run_id"]) == {own}
            assert at.selectbox(key="runs_pick").value == own  # research's own run, and its rows
            assert set(table(at, "runs_detail_output_rows")["total"]) == {7.0, 14.0}
        # said in Chinese too
        zh = linked(name, username, stats, "zh")
        assert [e.value for e in zh.error] == [translate("access.run_refused", "zh", run=stats)]


def test_a_link_to_no_run_is_refused_in_the_same_words(runs_lake):
    """A refusal must not tell which run ids exist: an unknown id reads like another user's."""
    at = linked("runs.py", "super", "r20990101t000000_00000000")
    assert [e.value for e in at.error] == [translate("access.run_refused", "en", run="r20990101t000000_00000000")]


def test_the_run_readers_refuse_a_user_the_rule_refuses(runs_lake):
    """Every page reads runs through workbench.app.data; its readers ask the access rule, so a
    page that forgets to ask still gets no rows."""
    from workbench.access import AccessDenied
    from workbench.app import data

    _, made, users = runs_lake
    for reader in (lambda u: data.run(made[1.0], u), lambda u: data.run_output(made[1.0], "estimates", u)):
        with pytest.raises(AccessDenied):
            reader(users["research"])
        with pytest.raises(AccessDenied):
            reader(None)
        assert reader(users["stat"]) is not None and reader(users["super2"]) is not None
    assert set(data.runs(users["research"])["run_id"]) == set()
    assert set(data.runs(users["stat"])["run_id"]) == {made[1.0], made[2.0]}
    assert set(data.runs(users["super"])["run_id"]) == set(made.values())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_compare_calls_values_equal_within_its_stated_tolerance_and_heads_runs_by_title(runs_lake, lang):
    """Issue 29, 8: Compare ticked "differs" for a CV of 2.8 % beside 2.8 % and an SE of 2,940
    beside 2,940 (stored values a few units apart in the 16th digit, as a recomputation
    leaves them), and headed its columns by run id. Values within the tolerance the page
    states are the same; values that truly differ but would read the same get the digits
    that tell them apart; columns carry titles (with the run id only where titles coincide)."""
    lake, _, users = runs_lake
    cv = 0.0281234
    noisy = math.nextafter(math.nextafter(math.nextafter(cv, 1.0), 1.0), 1.0)
    twins = [registry.run_method(lake, "app_test_measures", {"cv": c, "se": 2940.1}, ["gold.sample"],
                                 user=users["stat"], title="measures") for c in (cv, noisy)]
    other = registry.run_method(lake, "app_test_measures", {"cv": cv, "se": 2940.4}, ["gold.sample"],
                                user=users["stat"], title="measures again")
    at = AppTest.from_file(PAGES / "compare.py", default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.session_state["user"] = load_users()["stat"]
    at.run()
    name, differs = translate("runcol.name", lang), translate("compare.differs", lang)
    cv_name, se_name = run_views.setting_name("cv", lang), run_views.setting_name("se", lang)
    for attempt in range(2):  # twice in a row in one session: the second comparison reads as the first
        at.multiselect(key="compare_pick").set_value(twins).run()
        assert not at.exception, (attempt, at.exception)
        assert translate("compare.tolerance", lang, digits=9) in [c.value for c in at.caption]
        metrics = table(at, "compare_metrics").set_index(name)
        assert list(metrics.columns) == [differs] + [f"measures · {r}" for r in twins]
        assert not metrics[differs].any(), (attempt, metrics)
        assert not table(at, "compare_params").set_index(name)[differs].any()
        assert metrics.loc[cv_name].iloc[1:].tolist() == ["2.8%", "2.8%"]
        at.multiselect(key="compare_pick").set_value([twins[0], other]).run()
        metrics = table(at, "compare_metrics").set_index(name)
        assert list(metrics.columns) == [differs, "measures", "measures again"]
        assert not metrics.loc[cv_name, differs] and metrics.loc[se_name, differs]
        assert metrics.loc[se_name].iloc[1:].tolist() == ["2,940.1", "2,940.4"]  # not 2,940 beside 2,940


@registry.method("app_test_levels")
def _levels(inputs, params):
    df = inputs["gold.sample"].groupBy("area").agg(F.sum("value").alias("total"))
    return {"estimates": df, "_metrics": {"point_ar": params["level"], "rel_rmse_ar": 0.91}}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_nowcasts_levels_on_runs_carry_the_unit_of_its_series(runs_lake, spark, lang):
    """Issue 29, 9: a nowcast's metrics on Runs were bare numbers (point · AR 12,345.68): its
    levels are in the unit its target series is published in (gold.targets' unit, 亿元)."""
    lake, _, users = runs_lake
    lake.write("gold.targets", spark.createDataFrame(pd.DataFrame({
        "series": ["retail_sales"], "ref_period": ["2026-08"], "value": [12_000.0], "unit": ["亿元"]})))
    run_id = registry.run_method(lake, "app_test_levels", {"series": "retail_sales", "level": 12_345.678},
                                 ["gold.sample"], user=users["stat"], title="levels")
    at = AppTest.from_file(PAGES / "runs.py", default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.session_state["user"] = load_users()["stat"]
    at.run()
    pick(at, "runs_pick", run_id)
    assert not at.exception, at.exception
    metrics = text_table(at, "runs_detail_metrics")
    values = dict(zip(metrics.iloc[:, 0], metrics.iloc[:, 1]))
    assert values[run_views.setting_name("point_ar", lang)] == ("12,345.68 亿元" if lang == "zh" else "12,345.68 100m yuan")
    assert values[run_views.setting_name("rel_rmse_ar", lang)] == "0.91"  # a ratio has no unit


@registry.method("app_test_numbers_only")
def _numbers_only(inputs, params):
    df = inputs["gold.sample"].select(F.col("value").alias("low"), (F.col("value") * params["scale"]).alias("high"))
    return {"bounds": df}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_output_of_numbers_only_opens_on_runs_with_a_chart_of_two_columns(runs_lake, lang):
    """An output whose columns are all numbers put the same column on both axes and the page
    stopped on a pandas traceback ('DataFrame' object has no attribute 'dtype'): the y axis now
    opens on another column, and the same column picked twice is said, not drawn. Twice in a row."""
    lake, _, users = runs_lake
    run_id = registry.run_method(lake, "app_test_numbers_only", {"scale": 2.0}, ["gold.sample"], user=users["stat"],
                                 title="numbers only")
    at = page("runs.py", "stat")
    at.session_state["lang"] = lang
    for _ in range(2):
        pick(at, "runs_pick", run_id)
        assert not at.exception, at.exception
        x, y = (box for box in at.selectbox if box.key and box.key.endswith("_app_test_numbers_only_bounds"))
        assert {x.value, y.value} == {"low", "high"}
        y.set_value(x.value).run()
        assert not at.exception, at.exception
        assert translate("runs.chart_same_column", lang) in [c.value for c in at.caption]
        y.set_value("high" if x.value == "low" else "low").run()
        assert not at.exception
