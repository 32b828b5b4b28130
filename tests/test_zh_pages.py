"""Every page in Chinese, as every role, on the real small demo lake: no English left (issue 21).

The pages run in the real app (sign-in through the form, ``st.navigation``) on a copy of the
session's demo lake with the quality rules run and the edited survey panel built, so the
Quality, Fraud and Editing pages have something to show. A page fails on any Latin-letter word
that is not a declared proper name, identifier or unit (``tests/zh_text.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from test_app import MAIN, PASSWORDS, TIMEOUT
from workbench.app.session import PAGES
from zh_text import latin_words, violations

pytestmark = pytest.mark.slow

ROLE_USERS = {"statistician": "stat", "researcher": "research", "supervisor": "super", "data_engineer": "eng"}
CASES = [(user, spec.file) for role, user in ROLE_USERS.items() for spec in PAGES if role in spec.roles]


# ---- the checker itself -------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ("估计值（万元）", []),
    ("变异系数 CV 与 GEKS-Törnqvist 多边指数", []),              # declared method names
    ("表 silver.vat_monthly 第 3 版，文件 vat/vat_2018-03.csv", []),  # identifiers
    ("行业门类 C 制造业", []),                                      # a one-letter code
    ("请运行 `workbench quality run survey_returns`", []),         # a command shown as code
    ("View 4 more", ["View", "more"]),
    ("方法：nonrespondent", ["nonrespondent"]),
    ("card_spending_mcc_5311 的 total", ["total"]),
])
def test_latin_words_finds_english_but_not_names_identifiers_or_codes(text, words):
    assert latin_words(text) == words


# ---- every page, every role ------------------------------------------------------------------

@pytest.fixture(scope="module")
def zh_lake(demo_lake, spark, tmp_path_factory):
    """A copy of the demo lake with the quality rules run, the edited panel built and runs
    recorded (every releasable kind approved, one survey estimate submitted), so Runs, Compare
    and Review always have something to show."""
    from releasable import RELEASABLE, approved
    from workbench.auth import load_users
    from workbench.lake import Lake
    from workbench.quality import store
    from workbench.runs import registry, review

    root = tmp_path_factory.mktemp("zh") / "lake"
    shutil.copytree(demo_lake.settings.lake_root, root)
    lake = Lake(str(root), spark=spark, settings=demo_lake.settings)
    store.run_all(lake, "stat")
    store.build_panel(lake, "stat")
    made = {kind: approved(lake, kind) for kind in RELEASABLE}
    # one release published (no embargo), so Dissemination shows its published list, downloads,
    # disclosure sentence and, to a supervisor, the suppression report
    from releasable import AREA_INDUSTRY
    from workbench.runs.release import release_run

    run_id, output = made[AREA_INDUSTRY]
    release_run(lake, run_id, load_users()["super"], "area_industry_zh", output=output)
    params, inputs, _ = RELEASABLE["survey_estimate"]
    users = load_users()
    waiting = registry.run_method(lake, "survey_estimate", params, inputs, user=users["stat"])
    review.submit(lake, waiting, users["stat"])
    # a nowcast too (not releasable): its model codes, metrics and outputs show on Runs and Compare
    from workbench.methods.nowcast import runs as nowcast_runs
    from workbench.methods.nowcast.run import NowcastSpec

    spec = NowcastSpec("retail_sales", ("ar", "bridge"), ("card_spending_pace", "vat_sales_total"), "2026-09-20",
                       combinations=("equal",), track_periods=4)
    registry.run_method(lake, "nowcast", spec.as_dict(), list(nowcast_runs.INPUTS), user=users["research"])
    return lake, demo_lake


@pytest.fixture()
def zh_env(zh_lake, monkeypatch):
    lake, demo = zh_lake
    for key, value in demo.environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "zh")
    return lake


@pytest.mark.parametrize("user, page", CASES)
def test_every_page_in_chinese_has_no_english_word(zh_env, user, page):
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT * 5).run()
    at.text_input(key="signin_username").input(user)
    at.text_input(key="signin_password").input(PASSWORDS[user])
    at.button(key="signin_submit").click().run()
    at.switch_page(f"app_pages/{page}").run()
    assert not at.exception, at.exception
    found = violations(at)
    assert not found, f"{page} as {user}: {len(found)} English word(s):\n" + "\n".join(found[:40])


def test_every_column_of_the_demo_lake_is_described_in_both_languages(demo_lake):
    """The Data catalog shows each column's label, unit and description from conf/catalog.toml:
    every column the demo's jobs write has them, in Chinese without an English word."""
    from deltalake import DeltaTable

    from workbench.formatting import registry

    reg, undescribed, english = registry(), set(), []
    root = demo_lake.settings.lake_root
    for layer in ("bronze", "quarantine", "silver", "gold"):
        for table in sorted(p.name for p in (Path(root) / layer).iterdir() if (p / "_delta_log").is_dir()):
            for field in DeltaTable(str(Path(root) / layer / table)).schema().fields:
                var = reg.column(field.name)
                if var is None or not (var.description("zh") and var.description_en and var.label_zh):
                    undescribed.add(f"{layer}.{table}.{field.name}")
                elif latin_words(var.label_zh + " " + var.description_zh):
                    english.append(f"{field.name}: {latin_words(var.label_zh + ' ' + var.description_zh)}")
    assert not undescribed, sorted(undescribed)
    assert not english, sorted(set(english))


# ---- screenshots of every page in both languages (tests/artifacts/) ---------------------------

def walk_every_page(url: str, lang: str, prefix: str = "page") -> list[str]:
    """Sign in as the demo administrator (every role), switch to *lang*, open every page from
    the navigation and keep a full-page screenshot of each; returns the screenshots and the
    pages that showed an exception."""
    from playwright.sync_api import expect

    from browserkit import browser_page, check_page, shot, sign_in
    from workbench.i18n import translate

    taken, failures = [], []
    with browser_page(width=1400, height=1000) as page:
        sign_in(page, url, "admin")
        page.locator(".st-key-lang label").filter(has_text="中文" if lang == "zh" else "English").click(timeout=120_000)
        page.wait_for_timeout(1500)
        for index, spec in enumerate(PAGES):
            # the first page is the app's root URL
            href = "/" if index == 0 else f"/{spec.key}"
            page.locator(f"[data-testid='stSidebarNavLink'][href$='{href}']").click(timeout=240_000)
            # a page is done when it shows its own title, Streamlit's running indicator is gone
            # and nothing from the previous page is left stale (Prices' cold start takes ~30 s)
            title = translate("app.title" if spec.key == "home" else spec.label, lang)
            try:
                expect(page.locator("h1").first).to_have_text(title, timeout=240_000)
            except AssertionError:  # a page that titles itself otherwise: the screenshot shows it
                pass
            page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=240_000)
            page.wait_for_function("!document.querySelector('[data-stale=\"true\"], [data-testid=\"stSkeleton\"], "
                                   "[data-testid=\"stProgress\"], [data-testid=\"stSpinner\"]')", timeout=240_000)
            page.wait_for_timeout(2500)  # charts draw after their data arrives
            try:
                check_page(page, f"{lang}_{spec.key}")
            except AssertionError as exc:  # keep walking: every page gets its screenshot
                failures.append(str(exc))
            taken.append(str(shot(page, f"{prefix}_{lang}_{spec.key}")))
    return taken, failures


def test_screenshots_of_every_page_in_both_languages(zh_lake, tmp_path):
    from browserkit import serving

    lake, demo = zh_lake
    with serving(tmp_path, demo.settings.demo_out, lake_root=lake.root,
                 key_file=demo.settings.privacy.key_file) as url:
        for lang in ("zh", "en"):
            taken, failures = walk_every_page(url, lang)
            assert not failures, failures
            assert len(taken) == len(PAGES)
