"""AppTest tests for every page and role, on a real lake and the real embedded engine.

The lake is written through ``workbench.lake.Lake`` into a temporary folder with
the shapes the jobs produce (bronze with lineage columns, ``workbench.loads``,
a quarantine table, ``gold.indicators_monthly``); the app finds it through
``WORKBENCH_LAKE_ROOT`` exactly as it does in production.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from workbench.auth import load_users
from workbench.i18n import translate

MAIN = Path(__file__).resolve().parent.parent / "workbench" / "app" / "main.py"
PAGES = MAIN.parent / "app_pages"
TIMEOUT = 60  # the first run of a session starts Spark reads; later runs take well under a second
PASSWORDS = {u: f"{u}-demo" for u in ("stat", "research", "super", "super2", "eng", "admin")}


def _loaded_at(day: int) -> pd.Timestamp:
    return pd.Timestamp(2026, 11, day, 8, 30)


@pytest.fixture(scope="module")
def app_lake(spark, tmp_path_factory):
    """A small lake shaped like the jobs' output, built once for this module."""
    from workbench.lake import Lake

    root = tmp_path_factory.mktemp("app") / "lake"
    lake = Lake(str(root), spark=spark)
    lineage = {
        "_source": "vat", "_file_path": "deliveries/vat/vat_2026-09.csv", "_file_sha256": "ab" * 32,
        "_delivery_period": "2026-09", "_loaded_at": _loaded_at(3), "_job_run_id": "run-1",
    }
    bronze = pd.DataFrame({
        "纳税人识别号": ["91440101MA5ABCDE1X", "91440101MA5ABCDE2Y", "91440101MA5ABCDE3Z"],
        "销售额": ["1200.50", "88.00", "950.10"],
        "_row_number": [1, 2, 3],
    }).assign(**lineage)
    lake.write("bronze.vat", spark.createDataFrame(bronze))
    lake.write("bronze.vat", spark.createDataFrame(bronze.assign(_delivery_period="2026-10", _row_number=[4, 5, 6])))
    quarantine = pd.DataFrame({
        "raw_text": ["91440101MA5ABCDE9Q,abc", "bad,,row", "x"],
        "reason": ["销售额 not a number", "missing credit code", "missing credit code"],
        "_row_number": [7, 8, 9],
    }).assign(**lineage)
    lake.write("quarantine.vat", spark.createDataFrame(quarantine))
    loads = pd.DataFrame({
        "source": ["vat", "vat", "register"],
        "file_path": ["vat/vat_2026-09.csv", "vat/vat_2026-10.csv", "register/register_2026-10.csv"],
        "file_sha256": ["ab" * 32, "cd" * 32, "ef" * 32],
        "delivery_period": ["2026-09", "2026-10", "2026-10"],
        "status": ["loaded", "loaded", "rejected"],
        "reason": ["", "", "header 企业名称 missing"],
        "rows_read": [6, 3, 10], "rows_loaded": [3, 3, 0], "rows_quarantined": [3, 0, 10],
        "loaded_at": [_loaded_at(3), _loaded_at(4), _loaded_at(5)],
        "job_run_id": ["run-1", "run-2", "run-2"],
    })
    lake.write("workbench.loads", spark.createDataFrame(loads))
    months = pd.date_range("2025-01-01", "2026-09-01", freq="MS")
    indicators = pd.concat([
        pd.DataFrame({"indicator": name, "month": [m.date() for m in months],
                      "value": [base + i for i in range(len(months))], "unit": unit,
                      "available_date": [(m + pd.offsets.MonthEnd(1) + pd.Timedelta(days=20)).date() for m in months]})
        for name, base, unit in [("industrial_output_index", 100.0, "index"), ("retail_sales", 500.0, "yuan_100m")]
    ])
    lake.write("gold.indicators_monthly", spark.createDataFrame(indicators))
    enterprises = pd.DataFrame({"credit_code": ["91440101MA5ABCDE1X"], "name": ["广州甲公司"], "township_code": ["440101001"]})
    lake.write("silver.enterprises", spark.createDataFrame(enterprises))
    return lake


@pytest.fixture()
def app_env(app_lake, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", app_lake.root)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "en")
    return app_lake


def signed_in(username: str) -> AppTest:
    """The app after a real sign-in through the form."""
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(PASSWORDS[username])
    at.button(key="signin_submit").click().run()
    assert not at.exception, at.exception
    assert at.session_state["user"].username == username
    return at


def as_user(page: str, username: str) -> AppTest:
    """One page file run on its own with *username* in session state (the guard's view)."""
    at = AppTest.from_file(PAGES / page, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.session_state["user"] = load_users()[username]
    return at.run()


def table(at: AppTest, key: str) -> pd.DataFrame:
    """The table shown in the container with *key* (see workbench.app.widgets.table); an empty
    table is a sentence saying so in the UI language, read here as a frame without rows."""
    container = at.get_by_key(key)
    if not container.dataframe:
        said = {translate("common.no_rows", lang) for lang in ("zh", "en")}
        assert [c.value for c in container.caption] and {c.value for c in container.caption} <= said, key
        return pd.DataFrame()
    return container.dataframe[0].value


def texts(at: AppTest) -> str:
    parts = [e.value for e in [*at.markdown, *at.title, *at.header, *at.subheader, *at.caption, *at.info,
                               *at.warning, *at.error, *at.success]]
    return "\n".join(str(p) for p in parts)


# ---- sign-in ------------------------------------------------------------------

def test_signin_page_is_all_an_anonymous_visitor_sees(app_env):
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.text_input(key="signin_username") is not None
    assert at.session_state["user"] is None
    with pytest.raises(ValueError):  # the catalog is not even a registered page
        at.switch_page("app_pages/catalog.py")


def test_wrong_password_is_refused(app_env):
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()
    at.text_input(key="signin_username").input("eng")
    at.text_input(key="signin_password").input("eng-wrong")
    at.button(key="signin_submit").click().run()
    assert at.session_state["user"] is None
    assert [e.value for e in at.error] == ["Wrong user name or password."]


def test_unknown_user_is_refused(app_env):
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()
    at.text_input(key="signin_username").input("mallory")
    at.text_input(key="signin_password").input("mallory-demo")
    at.button(key="signin_submit").click().run()
    assert at.session_state["user"] is None
    assert at.error


@pytest.mark.parametrize("username", sorted(PASSWORDS))
def test_every_demo_account_signs_in_and_sees_home(app_env, username):
    at = signed_in(username)
    assert "signin_password" not in at.session_state  # the typed password does not linger
    assert len(table(at, "home_tables")) == 5
    assert not at.error


def test_sign_out_returns_to_sign_in(app_env):
    at = signed_in("stat")
    at.button(key="signout").click().run()
    assert at.session_state["user"] is None
    assert at.text_input(key="signin_username") is not None


# ---- navigation and the role guard --------------------------------------------

def _nav_pages(at: AppTest) -> set[str]:
    """The pages the menu lists (the app keeps them in session state for links between pages;
    a page outside the user's roles is registered too, hidden, so its address answers with its
    role check in the UI language instead of Streamlit's "Page not found")."""
    from workbench.app.session import NAV_PAGES

    return {Path(str(page._page)).name for page in at.session_state[NAV_PAGES].values()}


@pytest.mark.parametrize("username, pages", [
    ("stat", {"home.py", "catalog.py", "dissemination.py", "runs.py", "compare.py", "quality.py", "fraud.py",
              "editing.py", "linkage_review.py", "nowcast.py", "estimates.py", "small_areas.py", "seasonal.py",
              "prices.py"}),
    ("research", {"home.py", "catalog.py", "dissemination.py", "runs.py", "compare.py", "nowcast.py",
                  "estimates.py", "small_areas.py", "seasonal.py", "prices.py"}),
    ("super", {"home.py", "catalog.py", "dissemination.py", "runs.py", "compare.py", "review.py", "quality.py",
               "fraud.py", "nowcast.py", "estimates.py", "small_areas.py", "seasonal.py", "prices.py"}),
    ("eng", {"home.py", "catalog.py", "dissemination.py", "jobs.py", "quality.py", "linkage_review.py"}),
    ("admin", {"home.py", "catalog.py", "dissemination.py", "jobs.py", "runs.py", "compare.py", "review.py",
               "quality.py", "fraud.py", "editing.py", "linkage_review.py", "nowcast.py", "estimates.py",
               "small_areas.py", "seasonal.py", "prices.py"}),
])
def test_navigation_follows_roles(app_env, username, pages):
    assert _nav_pages(signed_in(username)) == pages


@pytest.mark.parametrize("username", ["stat", "research", "super", "super2"])
def test_jobs_page_refuses_other_roles_server_side(app_env, username):
    at = as_user("jobs.py", username)
    assert not at.exception
    assert at.error and "data engineer" in at.error[0].value
    assert not at.button  # nothing after the guard rendered
    assert not at.dataframe


def test_researcher_cannot_reach_jobs_through_navigation(app_env):
    """Jobs is not in a researcher's menu; reached by its address it says whose page it is, in
    the UI language, and shows nothing of the jobs."""
    at = signed_in("research")
    assert "jobs.py" not in _nav_pages(at)
    at.switch_page("app_pages/jobs.py").run()
    assert not at.exception
    assert [e.value for e in at.error] == [translate("guard.forbidden", "en", roles=translate("role.data_engineer", "en"))]
    assert {b.key for b in at.button} <= {"signout"} and not at.dataframe  # only the sidebar's sign-out


@pytest.mark.parametrize("page", ["home.py", "catalog.py", "jobs.py", "runs.py", "compare.py", "review.py"])
def test_pages_refuse_anonymous_visitors(app_env, page):
    at = AppTest.from_file(PAGES / page, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.warning and not at.dataframe


# ---- home -----------------------------------------------------------------------

def test_home_shows_lake_freshness_and_indicators(app_env):
    at = signed_in("stat")
    tables = table(at, "home_tables")
    assert set(tables["table"]) == {"bronze.vat", "quarantine.vat", "workbench.loads",
                                    "gold.indicators_monthly", "silver.enterprises"}
    assert tables.set_index("table").loc["bronze.vat", "rows"] == 6
    fresh = table(at, "home_freshness").set_index("source")  # sources by their contract's title
    vat, register = "VAT invoice totals by enterprise and month", "Business register extract"
    assert fresh.loc[vat, "last_delivery"] == "Oct 2026"  # a month with its year, in the UI language
    assert fresh.loc[register, "rejected"] == 1
    assert fresh.loc[register, "last_delivery"] == "—"  # nothing from register was loaded
    assert at.multiselect(key="home_indicators").value == ["industrial_output_index", "retail_sales"]
    metrics = {m.label: m for m in at.metric}
    assert metrics["Quarantined rows"].value == "3"
    # Tables from later issues do not exist yet: shown as such, no crash.
    for label in ("Open quality issues", "Runs waiting for review"):
        assert metrics[label].value == "—" and metrics[label].proto.help == "not yet available"


def test_home_on_an_empty_lake(tmp_path, monkeypatch, spark):
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", str(tmp_path / "nothing"))
    at = as_user("home.py", "stat")
    assert not at.exception
    assert "lake is empty" in at.info[0].value


def test_language_switch_and_default_from_settings(app_env, monkeypatch):
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "zh")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()
    assert at.session_state["lang"] == "zh"
    assert at.button(key="signin_submit").label == "登录"
    at.radio(key="lang").set_value("en").run()
    assert at.button(key="signin_submit").label == "Sign in"


def test_the_language_is_kept_in_the_address_so_a_reload_keeps_it(app_env, monkeypatch):
    """A reload is a new session, which started in the configured language (issue 29, 10): the
    chosen language is written into the address, signed out and signed in, and a new session
    opened at that address starts in it."""
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "zh")
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT).run()
    assert at.query_params["lang"] == "zh"
    at.radio(key="lang").set_value("en").run()
    assert at.query_params["lang"] == "en"
    at.text_input(key="signin_username").input("stat")
    at.text_input(key="signin_password").input(PASSWORDS["stat"])
    at.button(key="signin_submit").click().run()
    at.radio(key="lang").set_value("zh").run()
    assert at.query_params["lang"] == "zh"
    at.radio(key="lang").set_value("en").run()
    reloaded = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    reloaded.query_params["lang"] = at.query_params["lang"]
    reloaded.run()
    assert reloaded.session_state["lang"] == "en" and reloaded.button(key="signin_submit").label == "Sign in"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_select_boxes_say_choose_in_the_ui_language(app_env, monkeypatch, lang):
    """Streamlit's own placeholder ("Choose an option", "No options to select") is English and
    shows whenever a box has no choice; every select box of the app carries one in the UI
    language (issue 29, 10)."""
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", lang)
    at = signed_in("eng")
    at.switch_page("app_pages/jobs.py").run()
    assert not at.exception, at.exception
    assert at.selectbox, "the Jobs page has select boxes"
    for box in at.selectbox:
        assert box.proto.placeholder == translate("common.choose", lang), box.label


def test_home_sees_a_new_version_without_stale_cache(app_env, spark):
    at = signed_in("stat")
    before = table(at, "home_tables").set_index("table").loc["silver.enterprises", "rows"]
    extra = pd.DataFrame({"credit_code": ["91440101MA5ABCDE4W"], "name": ["广州乙公司"], "township_code": ["440101002"]})
    app_env.write("silver.enterprises", spark.createDataFrame(extra))
    at.run()
    after = table(at, "home_tables").set_index("table").loc["silver.enterprises", "rows"]
    assert after == before + 1


# ---- catalog --------------------------------------------------------------------

def test_catalog_lists_tables_with_owner_and_description(app_env):
    at = signed_in("research")
    at.switch_page("app_pages/catalog.py").run()
    assert not at.exception
    listed = table(at, "catalog_tables").set_index("table")
    # the owner in the UI language (conf/catalog.toml writes "市场监督管理局 (Market Regulation Bureau)")
    assert listed.loc["silver.enterprises", "owner"] == "Market Regulation Bureau"
    assert listed.loc["bronze.vat", "owner"] == "Tax Bureau"  # from conf/sources.toml
    at.selectbox(key="catalog_table").set_value("bronze.vat").run()
    schema = table(at, "catalog_schema")
    assert {"_source", "_file_sha256", "_delivery_period"} <= set(schema.iloc[:, 0])
    history = table(at, "catalog_history")
    assert list(history["version"]) == [2, 1, 0]  # 0: the table's empty creation
    assert "only data engineers see their rows" in texts(at)  # raw layer: no rows for a researcher
    at.selectbox(key="catalog_table").set_value("silver.enterprises").run()
    assert len(table(at, "catalog_preview")) == app_env.row_count("silver.enterprises")


def test_catalog_search_by_column_and_preview_filter(app_env):
    at = signed_in("eng")
    at.switch_page("app_pages/catalog.py").run()
    at.text_input(key="catalog_search").input("township_code").run()
    assert list(table(at, "catalog_tables")["table"]) == ["silver.enterprises"]
    at.text_input(key="catalog_search").input("vat").run()
    at.selectbox(key="catalog_table").set_value("bronze.vat").run()
    at.selectbox(key="catalog_filter_column").set_value("_delivery_period").run()
    at.text_input(key="catalog_filter_value").input("2026-10").run()
    preview = table(at, "catalog_preview")
    assert len(preview) == 3 and set(preview["_delivery_period"]) == {"2026-10"}
    at.selectbox(key="catalog_version").set_value(1).run()  # time travel: version 1 held September only
    assert len(table(at, "catalog_preview")) == 0


def test_raw_layers_show_no_rows_to_other_roles(app_env):
    at = signed_in("stat")
    at.switch_page("app_pages/catalog.py").run()
    at.text_input(key="catalog_search").input("vat").run()
    at.selectbox(key="catalog_table").set_value("bronze.vat").run()
    assert "only data engineers see their rows" in texts(at)
    with pytest.raises(KeyError):
        at.get_by_key("catalog_preview")


def test_catalog_search_without_match(app_env):
    at = signed_in("stat")
    at.switch_page("app_pages/catalog.py").run()
    at.text_input(key="catalog_search").input("no-such-thing").run()
    assert "No table matches." in texts(at)


# ---- jobs (quarantine browsing; running jobs is in test_app_jobs.py) ----------------

def test_data_engineer_browses_quarantine_by_reason(app_env):
    at = signed_in("eng")
    at.switch_page("app_pages/jobs.py").run()
    assert not at.exception
    counts = table(at, "quarantine_counts")
    assert counts.set_index("table").loc["quarantine.vat", "rows"] == 3
    # reasons grouped by cause with counts, largest first; then the rows of one cause
    causes = table(at, "quarantine_causes")
    assert causes["rows"].tolist() == [2, 1]
    cause = at.selectbox(key="quarantine_cause").options[1]
    at.selectbox(key="quarantine_cause").select_index(1).run()
    assert "missing credit code" in cause
    rows = table(at, "quarantine_rows")
    assert len(rows) == 2 and set(rows["_row_number"]) == {8, 9}


def test_data_engineer_runs_a_job_and_every_page_sees_its_tables(spark, tmp_path, monkeypatch):
    """Run one bronze job from the page on a hand-made VAT delivery (the contract in
    conf/sources.toml); the summary shows it and the catalogue lists the new tables
    on the next run, without any cache clearing."""
    vat = tmp_path / "demo" / "deliveries" / "vat"
    vat.mkdir(parents=True)
    (vat / "vat_2026-09.csv").write_text(
        "纳税人识别号,纳税人名称,所属期,销售额,税额\n"
        "91440101MA5ABCDE1X,广州甲公司,2026-09,1200.50,156.07\n"
        "91440101MA5ABCDE2Y,广州乙公司,2026-09,88.00,11.44\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("WORKBENCH_DEMO_OUT", str(tmp_path / "demo"))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "en")
    at = signed_in("eng")
    at.switch_page("app_pages/jobs.py").run()
    assert not at.exception
    assert "bronze_vat" in set(table(at, "jobs_list")["name"])
    assert "No quarantine tables." in texts(at)
    at.selectbox(key="jobs_pick").set_value("bronze_vat").run()
    at.button(key="jobs_run_one").click().run(timeout=180)
    assert not at.exception, at.exception
    summary = table(at, "jobs_summary")
    assert list(summary["name"]) == ["bronze_vat"]
    assert summary.loc[0, "status"] == "ok", summary.loc[0, "message"]
    assert summary.loc[0, "rows_written"] == 2
    assert any("Done: 1 ok" in s.value for s in at.success)
    at.switch_page("app_pages/catalog.py").run()
    listed = set(table(at, "catalog_tables")["table"])
    assert {"bronze.vat", "workbench.loads"} <= listed


# ---- identity provider (st.login) ------------------------------------------------

OIDC_SECRETS = {"auth": {"redirect_uri": "https://workbench.example/oauth2callback", "cookie_secret": "x",
                         "client_id": "workbench", "client_secret": "y",
                         "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}}


def test_oidc_user_gets_roles_from_users_toml_by_email(app_env):
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.secrets.update(OIDC_SECRETS)
    at.user.update({"is_logged_in": True, "email": "super2@demo.gcity.example"})
    at.run()
    assert not at.exception
    assert at.session_state["user"].username == "super2"
    assert "jobs.py" not in _nav_pages(at)


def test_oidc_user_without_account_gets_no_pages(app_env):
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.secrets.update(OIDC_SECRETS)
    at.user.update({"is_logged_in": True, "email": "stranger@example.com"})
    at.run()
    assert at.session_state["user"] is None
    assert at.button(key="signin_oidc") is not None
    assert "no roles" in at.error[0].value


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_catalog_search_finds_a_column_by_its_label_in_either_language(app_env, lang):
    """Issue 29, 10: searching the catalogue for a column's Chinese label (营业收入) found nothing:
    only column names were searched. A label or description in either language finds its table."""
    from workbench.formatting import registry

    at = signed_in("stat")
    at.session_state["lang"] = lang
    at.switch_page("app_pages/catalog.py").run()
    label = registry().column("township_code").label(lang)
    title = registry().column("township_code").description_zh[:4]  # a few words of its description
    for attempt in range(2):  # twice in a row, the search cleared between
        at.text_input(key="catalog_search").input(label).run()
        assert not at.exception, at.exception
        assert "silver.enterprises" in set(table(at, "catalog_tables")["table"]), (attempt, label)
        at.text_input(key="catalog_search").input(title).run()
        assert "silver.enterprises" in set(table(at, "catalog_tables")["table"]), (attempt, title)
        at.text_input(key="catalog_search").input("").run()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_catalog_preview_goes_through_the_formatting_layer(spark, lake, monkeypatch, lang):
    """Issue 29, 9: the catalogue preview showed raw codes, yuan and "None". Its rows are shown
    as every other table: a code with its name, money in 万元, a missing name as a dash."""
    from workbench.formatting import registry

    reg = registry()
    code = next(iter(reg.codelists["township_code"]))
    lake.write("silver.enterprises", spark.createDataFrame(
        [("91440101MA5ABCDE1X", None, code, 1_234_567.0)],
        "credit_code string, name string, township_code string, vat_sales double"))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", lang)
    at = signed_in("stat")
    at.switch_page("app_pages/catalog.py").run()
    at.selectbox(key="catalog_table").set_value("silver.enterprises").run()
    assert not at.exception, at.exception
    row = table(at, "catalog_preview").iloc[0]
    assert row["township_code"] == reg.code_label("township_code", code, lang) != code
    assert row["name"] == "—"
    assert row["vat_sales"] == pytest.approx(1_234_567.0 * reg.column("vat_sales").scale) != 1_234_567.0


def _chart_column(at: AppTest, column: str) -> set:
    """The values of *column* in the data of the first chart on the page (Vega-Lite's dataset,
    as the browser gets it)."""
    import pyarrow as pa

    chart = next(e for e in at.main if type(e).__name__ == "UnknownElement" and hasattr(e.proto, "datasets"))
    data = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all()
    return set(data.column(column).to_pylist())


def test_home_indicator_names_follow_a_language_switch_both_ways_twice(app_env, monkeypatch):
    """Issue 29, 10: switching to English on Home was seen to leave the indicators' names
    Chinese. The picker's options, what it holds, and the chart's panel headings are in the
    language switched to, each way, twice in a row; the picked indicators stay picked."""
    from workbench.formatting import registry

    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "zh")
    at = signed_in("stat")
    codes = ["industrial_output_index", "retail_sales"]
    for language in ("zh", "en", "zh", "en"):
        if at.session_state["lang"] != language:
            at.radio(key="lang").set_value(language).run()
        assert not at.exception, at.exception
        names = [registry().indicator(code).label(language) for code in codes]
        picker = at.multiselect(key="home_indicators")
        assert list(picker.proto.options) == sorted(names, key=lambda n: codes[names.index(n)])
        assert sorted(picker.value) == codes
        headings = _chart_column(at, "heading")
        assert len(headings) == 2 and all(any(name in h for name in names) for h in headings), headings
