"""End to end: the real server in a real browser (Debian chromium through Playwright).

Takes the small demo's deliveries (conftest's ``demo_small``), starts ``workbench serve`` on a
free port against an empty temporary lake, signs in as the data engineer, opens the
catalogue, runs one bronze job from the Jobs page and checks the catalogue then
lists the new tables and Home shows the source's freshness. Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import time
import urllib.request
from types import SimpleNamespace

import pytest

from browserkit import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, serving, sign_in, sign_out

JOB = "bronze_vat"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(demo_small, tmp_path_factory):
    """``workbench serve --headless``: conftest's small demo deliveries, an empty lake."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does this)")
    base = tmp_path_factory.mktemp("browser")
    with serving(base, demo_small["out"], "--headless") as url:
        yield SimpleNamespace(url=url, lake_root=str(base / "lake"))


def test_serve_as_make_demo_starts_it_for_a_new_user(demo_small, tmp_path):
    """``make demo`` runs ``workbench serve`` without --headless. A new user has no
    ~/.streamlit, and Streamlit then asked for an e-mail address on stdin: with no terminal
    (a service, a script) the app exited with code 255 instead of serving."""
    home = tmp_path / "home"
    home.mkdir()
    with serving(tmp_path, demo_small["out"], HOME=str(home), DISPLAY="") as url:
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
    assert not (home / ".streamlit" / "credentials.toml").exists()


def test_sign_in_browse_catalog_and_run_a_job(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            page.locator(".st-key-signin_username input").fill("eng")
            page.locator(".st-key-signin_password input").fill("eng-wrong")
            page.locator(".st-key-signin_submit button").click()
            expect(page.get_by_text("Wrong user name or password.")).to_be_visible(timeout=30_000)

            page.locator(".st-key-signin_password input").fill("eng-demo")
            page.locator(".st-key-signin_submit button").click()
            expect(page.get_by_text("Signed in as")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("The lake is empty")).to_be_visible(timeout=60_000)

            page.get_by_role("link", name="Jobs").click()
            expect(page.locator(".st-key-jobs_list")).to_be_visible(timeout=60_000)
            # Streamlit's select box filters as one types; Enter takes the match.
            page.locator(".st-key-jobs_pick input").click()
            page.locator(".st-key-jobs_pick input").fill(JOB)
            page.keyboard.press("Enter")
            expect(page.locator(".st-key-jobs_pick input")).to_have_value(JOB)
            page.locator(".st-key-jobs_run_one button").click()
            summary = page.locator(".st-key-jobs_summary")
            expect(summary).to_be_visible(timeout=180_000)
            expect(page.get_by_text("Done: 1 ok")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "browser_jobs.png"), full_page=True)

            page.get_by_role("link", name="Data catalog").click()
            tables = page.locator(".st-key-catalog_tables")
            expect(tables).to_be_visible(timeout=60_000)
            page.locator(".st-key-catalog_search input").fill("vat")
            page.locator(".st-key-catalog_search input").press("Enter")
            expect(page.get_by_role("heading", name="VAT invoice totals by enterprise and month (as delivered)")
                   ).to_be_visible(timeout=30_000)
            page.get_by_role("tab", name="Preview (up to 1,000 rows)").click()
            expect(page.locator(".st-key-catalog_preview")).to_be_visible(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "browser_catalog.png"), full_page=True)

            # Home now sees the job's load without a restart (caches keyed by version).
            page.get_by_role("link", name="Home").click()
            expect(page.locator(".st-key-home_freshness")).to_be_visible(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "browser_home.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser_failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _wait_for_state(lake, run_id: str, state: str, timeout: float = 30.0) -> None:
    from workbench.runs.review import state as current

    deadline = time.monotonic() + timeout
    while current(lake, run_id) != state:
        assert time.monotonic() < deadline, f"run {run_id} is {current(lake, run_id)}, expected {state}"
        time.sleep(0.3)


def test_submit_and_approve_by_two_accounts(server, spark):
    """Four-eyes in the browser: a statistician submits, a second person (supervisor) approves."""
    import pandas as pd
    from playwright.sync_api import expect, sync_playwright

    from workbench.auth import load_users
    from workbench.lake import Lake
    from workbench.runs import registry, review

    lake = Lake(server.lake_root, spark=spark)
    lake.write("gold.browser_sample", spark.createDataFrame(pd.DataFrame({"area": ["a", "b"], "value": [1.0, 2.0]})))
    run_id = registry.record_run(lake, "browser_totals", {"scale": 1.0}, {"gold.browser_sample": 0},
                                 {"estimates": lake.read("gold.browser_sample")}, {"areas": 2},
                                 user=load_users()["stat"], title="browser totals")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            sign_in(page, server.url, "stat")
            page.get_by_role("link", name="Runs", exact=True).click()
            expect(page.locator(".st-key-runs_list")).to_be_visible(timeout=60_000)
            page.locator(".st-key-runs_submit button").click()
            _wait_for_state(lake, run_id, "submitted")
            sign_out(page)  # waits for the sign-in form: a goto during sign-out's navigation is aborted

            sign_in(page, server.url, "super2")
            page.get_by_role("link", name="Review queue").click()
            expect(page.locator(".st-key-review_pick")).to_be_visible(timeout=60_000)
            page.locator(".st-key-review_comment textarea").fill("checked against VAT totals")
            page.locator(".st-key-review_approve button").click()
            expect(page.locator("[data-testid='stAlertContentSuccess']").get_by_text("is now approved")).to_be_visible(
                timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "browser_review.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser_review_failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    trail = review.audit_trail(lake, run_id)
    assert [(e.action, e.user) for e in trail] == [("record", "stat"), ("submit", "stat"), ("approve", "super2")]
    assert trail[-1].comment == "checked against VAT totals"
