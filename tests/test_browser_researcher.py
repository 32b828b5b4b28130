"""The researcher's workflow in a real browser on the built demo lake, in Chinese and in English.

Signs in as ``research``, nowcasts retail sales and submits the run, twice in a row (the
second submission records a second run and the message names it), then seasonally adjusts
a published series (retail sales, latest vintage) and submits that twice too; every page
is checked for tracebacks (browserkit.check_page). Screenshots: tests/artifacts/researcher_*.png.
"""

from __future__ import annotations

import re

import pytest

from browserkit import browser_page, check_page, serving, shot, sign_in
from workbench.i18n import translate
from workbench.runs import registry, review

pytestmark = pytest.mark.slow

RUN_ID = re.compile(r"r\d{8}t\d{6}_[0-9a-f]{8}")
# the first nowcast of a session runs the models and their track record (tens of seconds on a
# busy machine); later renders come from the cache
PAGE_TIMEOUT = 600_000


@pytest.fixture(scope="module")
def server(demo_lake, tmp_path_factory):
    base = tmp_path_factory.mktemp("browser_researcher")
    with serving(base, demo_lake.settings.demo_out, "--headless", lake_root=demo_lake.settings.lake_root,
                 key_file=demo_lake.settings.privacy.key_file) as url:
        yield url


def use_language(page, lang: str) -> None:
    page.locator("[data-testid='stSidebar']").get_by_text({"zh": "中文", "en": "English"}[lang], exact=True).click()
    page.get_by_role("link", name=translate("nav.nowcast", lang)).wait_for(timeout=60_000)


def rendered(page, selector: str) -> None:
    """Wait until *selector* (a table or chart inside a keyed container) is drawn, and scroll to it:
    the main area scrolls by itself, so a screenshot shows only what is in view."""
    from playwright.sync_api import expect

    target = page.locator(selector).first
    expect(target).to_be_visible(timeout=PAGE_TIMEOUT)
    target.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # the table's canvas and the chart draw after they appear


def submit_twice(page, prefix: str, lang: str, where: str) -> list[str]:
    """Submit the page's run twice; each confirmation must name the run just recorded."""
    from playwright.sync_api import expect

    confirmation = page.locator(f".st-key-{prefix}_confirmation")
    ids: list[str] = []
    for n in (1, 2):
        page.locator(f".st-key-{prefix}_comment input").fill(f"{where} {lang} #{n}")
        page.locator(f".st-key-{prefix}_comment input").press("Enter")
        page.locator(f".st-key-{prefix}_submit button").click()
        if ids:
            expect(confirmation).not_to_contain_text(ids[-1], timeout=PAGE_TIMEOUT)
        expect(confirmation).to_contain_text(RUN_ID, timeout=PAGE_TIMEOUT)
        check_page(page, f"{where}_{lang}_submit{n}")
        text = confirmation.inner_text()
        run_id = RUN_ID.search(text).group(0)
        assert text.strip() == translate("est.submitted", lang, run_id=run_id), text
        ids.append(run_id)
    assert ids[0] != ids[1]
    return ids


def test_researcher_nowcasts_and_adjusts_a_published_series_in_both_languages(server, demo_lake):
    from playwright.sync_api import expect

    lake = demo_lake.lake
    with browser_page() as page:
        sign_in(page, server, "research")
        check_page(page, "home")
        for lang in ("zh", "en"):
            use_language(page, lang)
            page.get_by_role("link", name=translate("nav.nowcast", lang)).click()
            rendered(page, ".st-key-nowcast_table [data-testid='stDataFrame']")
            expect(page.get_by_text(translate("nowcast.fan", lang), exact=True)).to_be_visible()
            check_page(page, f"nowcast_{lang}")
            shot(page, f"researcher_nowcast_{lang}")
            rendered(page, ".st-key-nowcast_fan [data-testid='stVegaLiteChart']")
            shot(page, f"researcher_nowcast_fan_{lang}")
            for run_id in submit_twice(page, "nowcast", lang, "nowcast"):
                run = registry.get_run(lake, run_id)
                assert run.kind == "nowcast" and run.user == "research"
                assert review.state(lake, run_id) == "submitted"
            shot(page, f"researcher_nowcast_submitted_{lang}")

            page.get_by_role("link", name=translate("nav.seasonal", lang)).click()
            rendered(page, ".st-key-sa_chart [data-testid='stVegaLiteChart']")
            box = page.locator(".st-key-sa_name_published input")
            box.click()
            box.fill("retail_sales")
            page.keyboard.press("Enter")
            expect(box).to_have_value("retail_sales", timeout=60_000)
            expect(page.get_by_text(translate("sa.quality", lang), exact=True)).to_be_visible(timeout=PAGE_TIMEOUT)
            check_page(page, f"seasonal_{lang}")
            rendered(page, ".st-key-sa_chart [data-testid='stVegaLiteChart']")
            shot(page, f"researcher_seasonal_chart_{lang}")
            for run_id in submit_twice(page, "sa", lang, "seasonal"):
                run = registry.get_run(lake, run_id)
                assert run.kind == "seasonal_adjustment" and run.params["series"] == "retail_sales"
                assert run.metrics["method"] == "x13"
            shot(page, f"researcher_seasonal_{lang}")
