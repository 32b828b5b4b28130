"""The statistician's workflow in a real browser on the built small demo lake (issue 19).

Catalogue -> Quality (run the rules) -> Editing (impute the whole panel) -> Estimates (the page's
defaults, submitted for review, twice: the second submission works too and its message names its
own run) -> Runs (the run's parameters and metrics as tables in the UI language, no JSON), first
in English, then again in Chinese. Every page is checked for tracebacks
(browserkit.check_page). The server is ``workbench serve --headless`` on conftest's ``demo_lake``.
Screenshots: tests/artifacts/statistician_*.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from browserkit import browser_page, check_page, cut_tables, serving, shot, sign_in
from workbench.i18n import translate
from workbench.runs import registry, review

# the demo lake is built in this test's setup (minutes on a loaded 2-core machine), then four workflows
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]
LONG = 300_000  # ms: rules and imputation on a 2-core machine shared with other work


def open_page(page, key: str, where: str) -> None:
    link = page.locator(f"[data-testid='stSidebarNav'] a[href$='/{key}']")
    more = page.locator("[data-testid='stSidebarNavViewButton']")
    if not link.count() and more.count():  # the menu folds its later sections under "View N more"
        more.first.click()
    # The menu is redrawn by every script run; on a loaded machine a click can land on a link
    # being replaced and be lost (the address never changes), so a lost click is made again,
    # as a user would, and only a navigation that never happens fails.
    for attempt in range(3):
        link.click()
        try:
            page.wait_for_url(re.compile(f"/{key}(\\?.*)?$"), timeout=30_000)  # the address keeps ?lang=
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    page.locator("[data-testid='stMain'] h1").first.wait_for(timeout=LONG)
    wait_idle(page)
    check_page(page, where)


def wait_idle(page, timeout: int = LONG) -> None:
    """Until Streamlit has finished the current script run (its status widget disappears)."""
    page.wait_for_timeout(500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=timeout)


def click(page, key: str) -> None:
    page.locator(f".st-key-{key} button").click()
    wait_idle(page)


def submitted_run(page, lang: str, known: set[str]) -> str:
    """The run id the success message names, read with the message's own template, once it names
    a run not in *known*: the page keeps showing the previous submission's message (in the current
    language) until the new submission's rerun replaces it, and on a loaded machine that rerun can
    start after wait_idle has already seen the page idle."""
    before, after = translate("est.submitted", lang, run_id="\0").split("\0")
    pattern = re.escape(before) + r"(r\d{8}t\d{6}_[0-9a-f]{8})" + re.escape(after)
    alert = page.locator("[data-testid='stAlertContentSuccess']").filter(has_text=before.strip() or after.strip())
    text = ""
    for _ in range(LONG // 500):
        if alert.count():
            text = alert.last.inner_text()
            found = re.search(pattern, text)
            if found and found.group(1) not in known:
                return found.group(1)
        page.wait_for_timeout(500)
    raise AssertionError(f"no success message naming a new run; last seen: {text!r}, known: {sorted(known)}")


def no_cut_tables(page, where: str, wide: set[str]) -> None:
    """Issue 29: at 1,400 px a table wider than its box (the runs list, a run's output) showed its
    first columns cut at the right edge, its scrollbar hidden until the pointer found it. Every
    table too wide for its box shows its scrollbar; *wide* collects them, so the walk can tell the
    check met at least one."""
    found = cut_tables(page)
    assert not found["cut"], f"{where}: tables cut at the right edge: {found['cut']}"
    wide.update(found["wide"])


def walk(page, lang: str, lake, known: set[str], wide: set[str]) -> list[str]:
    """One pass of the workflow in *lang*; returns the two submitted run ids."""
    open_page(page, "catalog", f"{lang}_catalog")
    shot(page, f"statistician_{lang}_1_catalog")
    no_cut_tables(page, f"{lang}_catalog", wide)
    open_page(page, "quality", f"{lang}_quality")
    click(page, "quality_run")
    page.locator("[data-testid='stAlertContentSuccess']").first.wait_for(timeout=LONG)
    check_page(page, f"{lang}_quality_run")
    shot(page, f"statistician_{lang}_2_quality")
    open_page(page, "editing", f"{lang}_editing")
    click(page, "editing_build")
    success = page.locator("[data-testid='stAlertContentSuccess']").first
    success.wait_for(timeout=LONG)
    check_page(page, f"{lang}_editing_build")
    assert not page.locator("[data-testid='stAlertContentError']").count()
    shot(page, f"statistician_{lang}_3_editing")
    open_page(page, "estimates", f"{lang}_estimates")
    page.locator(".st-key-est_table").wait_for(timeout=LONG)
    # the page says which values it uses: the edited panel, with its version
    values = translate("est.values_edited", lang, version="\0", built="\0").split("\0")[0]
    assert page.get_by_text(values.strip()[:12]).count(), f"{lang}: the values banner is missing"
    assert not page.locator("[data-testid='stAlertContentError']").count()
    runs = []
    for i in range(2):
        click(page, "est_submit")
        check_page(page, f"{lang}_estimates_submit_{i}")
        runs.append(submitted_run(page, lang, known | set(runs)))
        shot(page, f"statistician_{lang}_4_estimates_{i}")
    assert runs[0] != runs[1], "the second submission's message names the first run"
    for run_id in runs:
        assert review.state(lake, run_id) == "submitted"
        assert registry.get_run(lake, run_id).kind == "survey_estimate"
    # Runs: the submitted estimate's parameters and metrics read as tables in the UI language
    open_page(page, "runs", f"{lang}_runs")
    params = page.locator(".st-key-runs_detail_params")
    params.wait_for(timeout=LONG)
    for word in ("calibration", "replicates", "variable"):
        assert page.locator(".st-key-runs_detail_params").get_by_text(translate(f"runparam.{word}", lang)).count(), \
            f"{lang}: the parameter {word} is not named in the parameters table"
    metrics = page.locator(".st-key-runs_detail_metrics")
    assert metrics.get_by_text(translate("runparam.respondents", lang)).count(), f"{lang}: metrics table"
    assert not page.locator("[data-testid='stCode']").count(), f"{lang}: the Runs page shows a JSON dump"
    check_page(page, f"{lang}_runs_detail")
    shot(page, f"statistician_{lang}_5_runs")
    no_cut_tables(page, f"{lang}_runs", wide)
    return runs


def test_statistician_workflow_in_english_then_chinese_twice(demo_lake, tmp_path):
    from playwright.sync_api import expect

    env = demo_lake.environ
    with serving(tmp_path, env["WORKBENCH_DEMO_OUT"], "--headless", lake_root=env["WORKBENCH_LAKE_ROOT"],
                 key_file=env["WORKBENCH_PRIVACY_KEY_FILE"]) as url, browser_page() as page:
        page.set_default_timeout(LONG)
        sign_in(page, url, "stat")
        check_page(page, "signed_in")
        wide: set[str] = set()
        english = walk(page, "en", demo_lake.lake, set(), wide)
        page.locator("[data-testid='stSidebar']").get_by_text("中文").click()
        wait_idle(page)
        expect(page.locator(".st-key-signout")).to_be_visible()
        # still on Runs: the run picked in English is now labelled in Chinese (a select box used to
        # keep showing its option in the language it was picked in)
        picked = page.locator(".st-key-runs_pick input")
        expect(picked).to_have_value(re.compile(re.escape(translate("runkind.survey_estimate", "zh"))))
        assert "Survey estimate" not in picked.input_value()
        shot(page, "statistician_switched_to_zh_runs")
        chinese = walk(page, "zh", demo_lake.lake, set(english), wide)
    assert len(set(english + chinese)) == 4
    assert wide, "no table of the walk was wider than its box at 1,400 px: the cut-table check met none"
