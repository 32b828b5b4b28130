"""The supervisor's and the data engineer's workflows in a real browser on the built demo lake.

``workbench serve`` runs against conftest's ``demo_lake``; the runs to review are made
through the run registry as the statistician ``stat`` makes them (``releasable.approved``
and ``registry.run_method``), and ``super2`` reviews them: four-eyes, the approver is not
the maker. Each walk runs in Chinese and in English, twice in a row (a second pass finds
state the first left behind: released series, a withdrawn run), and every page it lands
on is checked for a traceback (``browserkit.check_page``). Screenshots: tests/artifacts/.
"""

from __future__ import annotations

import re
import time

import pytest

from browserkit import browser_page, check_page, serving, shot, sign_in, sign_out
from releasable import RELEASABLE, approved
from workbench import formatting
from workbench.auth import load_users
from workbench.i18n import translate
from workbench.runs import registry, review
from workbench.runs.release import covered_periods, list_releases, read_release

pytestmark = pytest.mark.slow
LANGUAGES = {"zh": "中文", "en": "English"}
# The build machine's two cores are shared: a page run can take tens of seconds there.
WAIT_MS = 180_000
KIND = "survey_estimate"  # released in about a second, disclosure-controlled, has a suppression report


@pytest.fixture(scope="module")
def server(demo_lake, tmp_path_factory):
    base = tmp_path_factory.mktemp("browser_supervisor")
    env = demo_lake.environ
    with serving(base, env["WORKBENCH_DEMO_OUT"], "--headless", lake_root=env["WORKBENCH_LAKE_ROOT"],
                 key_file=env["WORKBENCH_PRIVACY_KEY_FILE"]) as url:
        yield url


def settle(page, timeout: float = 180.0) -> None:
    """Wait until the app has finished its script run (the app root's script state)."""
    page.wait_for_timeout(500)
    page.wait_for_function(
        "() => { const app = document.querySelector(\"[data-testid='stApp']\");"
        " return app && !['running', 'rerunRequested', 'initial'].includes("
        "app.getAttribute('data-test-script-state')); }", timeout=timeout * 1000)
    page.wait_for_timeout(300)


def until(condition, what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def choose(page, key: str, text: str) -> None:
    """Pick the option containing *text* in the select box *key* (it filters as one types)."""
    box = page.locator(f".st-key-{key} input")
    box.click()
    box.fill(text)
    page.get_by_role("option").filter(has_text=text).first.click()
    settle(page)
    assert text in box.input_value(), f"{key}: {text} not chosen ({box.input_value()})"


def fill(page, key: str, text: str) -> None:
    page.locator(f".st-key-{key} input, .st-key-{key} textarea").first.fill(text)
    page.keyboard.press("Tab")
    settle(page)


def click(page, key: str) -> None:
    page.locator(f".st-key-{key} button").click()
    settle(page)


def open_page(page, name: str, lang: str, where: str) -> None:
    """Open a page through the sidebar menu (a reload would start a new, signed-out session)."""
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=translate(f"nav.{name}", lang),
                                                             exact=True).click()
    settle(page)
    check_page(page, where)


def set_language(page, lang: str) -> None:
    page.locator(".st-key-lang").get_by_text(LANGUAGES[lang], exact=True).click()
    settle(page)


def release_on_page(page, lang: str, run_id: str, series: str, where: str, embargo: bool = False) -> None:
    open_page(page, "review", lang, where)
    choose(page, "release_pick", run_id)
    fill(page, "release_series", series)
    if embargo:
        page.locator(".st-key-release_use_embargo label").click()
        settle(page)
    click(page, "release_submit")
    check_page(page, where)


@pytest.mark.parametrize("lang, attempt", [("zh", 1), ("en", 1), ("zh", 2), ("en", 2)])
def test_supervisor_compares_approves_releases_withdraws_and_disseminates(server, demo_lake, lang, attempt):
    lake, users = demo_lake.lake, load_users()
    tag = f"{lang}{attempt}"
    again, _ = approved(lake, KIND, title=f"survey again {tag}")  # to release after the withdrawal
    made = []
    for _ in range(2):  # two of stat's runs of one kind and series, waiting for review
        params, inputs, _ = RELEASABLE[KIND]
        run_id = registry.run_method(lake, KIND, params, inputs, user=users["stat"], title=f"survey {tag}",
                                     series=f"survey_{tag}")
        review.submit(lake, run_id, users["stat"])
        made.append(run_id)
    newer, older = made[1], made[0]
    # and one of super2's own, which super2 may not approve (four-eyes)
    params, inputs, _ = RELEASABLE[KIND]
    own = registry.run_method(lake, KIND, params, inputs, user=users["super2"], title=f"own {tag}")
    review.submit(lake, own, users["super2"])
    with browser_page() as page:
        page.set_default_timeout(WAIT_MS)
        sign_in(page, server, "super2")
        set_language(page, lang)
        check_page(page, f"home_{tag}")

        # A run's links (?run=ID) open it on Runs, and on Compare beside its predecessor of that kind.
        open_page(page, "review", lang, f"review_{tag}")
        choose(page, "review_pick", older)
        click(page, "review_detail_to_runs")
        check_page(page, f"runs_link_{tag}")
        assert older in page.locator(".st-key-runs_pick input").input_value()
        open_page(page, "review", lang, f"review_{tag}")
        choose(page, "review_pick", newer)
        click(page, "review_detail_to_compare")
        check_page(page, f"compare_{tag}")
        picked = page.locator(".st-key-compare_pick").inner_text()
        assert newer in picked and older in picked
        page.locator(".st-key-compare_params").wait_for()
        shot(page, f"supervisor_compare_{tag}")

        # Issue 29 item 7: stat's two runs are one computation: the queue says so and links the other
        open_page(page, "review", lang, f"review_identical_{tag}")
        choose(page, "review_pick", newer)
        flagged = page.locator(".st-key-review_queue_identical")
        flagged.wait_for(timeout=WAIT_MS)
        # the oldest standing copy: this pass's `again`, or a run of an earlier pass with the same inputs
        copies = review.identical_runs(lake, KIND, params, registry.get_run(lake, newer).inputs, besides=newer)
        twin = re.search(r"r\d{8}t\d{6}_[0-9a-f]{8}", flagged.inner_text()).group(0)
        assert twin == copies[0][0] and older in {r for r, _ in copies}, (twin, copies)
        shot(page, f"supervisor_identical_{tag}")
        click(page, "review_queue_open_identical")
        check_page(page, f"runs_identical_{tag}")
        assert twin in page.locator(".st-key-runs_pick input").input_value()

        # approving one's own run is refused by the four-eyes rule, said in the UI language by the
        # rule (no English sentence or verbatim text beneath it), and the run stays submitted
        open_page(page, "review", lang, f"review_own_{tag}")
        choose(page, "review_pick", own)
        click(page, "review_approve")
        refusal = translate("review.rule.four_eyes", lang, user="super2", run=own,
                            action=translate("runaction.approve", lang))
        page.locator("[data-testid='stAlertContentError']").filter(has_text=refusal).wait_for(timeout=WAIT_MS)
        assert not page.get_by_text(translate("common.failed_detail", lang), exact=True).count()  # no verbatim
        assert review.state(lake, own) == "submitted"
        shot(page, f"supervisor_four_eyes_{tag}")

        for run_id in (newer, older):
            open_page(page, "review", lang, f"review_{tag}")
            choose(page, "review_pick", run_id)
            fill(page, "review_comment", f"checked {tag}")
            click(page, "review_approve")
            check_page(page, f"review_approve_{tag}")
            until(lambda: review.state(lake, run_id) == "approved", f"{run_id} approved")
            # the comment was that run's: the next run in the queue starts with an empty box
            assert review.audit_trail(lake, run_id)[-1].comment == f"checked {tag}"
            assert page.locator(".st-key-review_comment textarea").input_value() == ""
        assert review.audit_trail(lake, newer)[-1].user == "super2"  # four-eyes: stat made it, super2 approved

        release_on_page(page, lang, newer, f"survey_{tag}", f"release_{tag}", embargo=True)
        until(lambda: review.state(lake, newer) == "released", f"{newer} released")
        shot(page, f"supervisor_release_{tag}")
        release_on_page(page, lang, older, f"survey_{tag}", f"release_second_{tag}")
        until(lambda: review.state(lake, older) == "released", f"{older} released")

        open_page(page, "review", lang, f"withdraw_{tag}")
        choose(page, "withdraw_pick", newer)
        fill(page, "withdraw_reason", "wrong period")
        click(page, "withdraw_submit")
        check_page(page, f"withdraw_{tag}")
        until(lambda: review.state(lake, newer) == "withdrawn", f"{newer} withdrawn")

        release_on_page(page, lang, again, f"survey_{tag}", f"release_again_{tag}")
        until(lambda: review.state(lake, again) == "released", f"{again} released")
        shot(page, f"supervisor_released_again_{tag}")
        vintages = sorted((r.vintage, r.run_id, r.withdrawn) for r in list_releases(lake, f"survey_{tag}"))
        assert vintages == [(1, newer, True), (2, older, False), (3, again, False)]
        embargoed = next(r for r in list_releases(lake, f"survey_{tag}") if r.run_id == newer)
        assert embargoed.embargo_until is not None
        # 09:30 in the city, whose zone is [lake].local_timezone (Asia/Shanghai, UTC+8)
        assert (embargoed.embargo_until.hour, embargoed.embargo_until.minute) == (1, 30)

        # Issue 29 item 1: a seasonal run publishes its adjusted series, never its ARIMA coefficients,
        # and the supervisor sees that table (its first rows, period and unit) before releasing it.
        seasonal, _ = approved(lake, "seasonal_adjustment", title=f"seasonal {tag}")
        run = registry.get_run(lake, seasonal)
        open_page(page, "review", lang, f"release_seasonal_{tag}")
        choose(page, "release_pick", seasonal)
        assert page.locator(".st-key-release_output input").input_value() == translate("runoutput.series", lang)
        preview = page.locator(".st-key-release_preview")
        preview.wait_for(timeout=WAIT_MS)
        said = preview.locator("[data-testid='stCaptionContainer']").inner_text()
        period = formatting.reference_period(covered_periods(lake, run, "series"), lang)
        unit = formatting.registry().indicator("vat_sales_total").stored_unit.label(lang)
        assert period and period in said and unit in said, said
        preview.locator(".st-key-release_preview_rows [data-testid='stDataFrame']").wait_for(timeout=WAIT_MS)
        shot(page, f"supervisor_release_preview_{tag}")
        fill(page, "release_series", f"sa_{tag}")
        click(page, "release_submit")
        check_page(page, f"release_seasonal_{tag}")
        until(lambda: review.state(lake, seasonal) == "released", f"{seasonal} released")
        published = read_release(lake, f"sa_{tag}", users["super"]).toPandas()
        adjusted = registry.read_output(lake, seasonal, "series").toPandas()
        assert "seasadj" in published.columns and len(published) == len(adjusted)
        assert sorted(published["seasadj"]) == sorted(adjusted["seasadj"])

        open_page(page, "dissemination", lang, f"dissemination_{tag}")
        choose(page, "diss_series", f"survey_{tag}")
        check_page(page, f"dissemination_series_{tag}")
        page.locator(".st-key-diss_report").wait_for(timeout=60_000)  # supervisors see the suppression report
        shot(page, f"supervisor_dissemination_{tag}")
        sign_out(page)


def _done(lang: str) -> str:
    """The start of the Jobs summary line in *lang*, before its counts."""
    return translate("jobs.done", lang, ok=0, skipped=0, failed=0, seconds=0.0).split("0")[0].strip()


@pytest.mark.parametrize("lang, attempt", [("zh", 1), ("en", 1), ("zh", 2), ("en", 2)])
def test_data_engineer_runs_a_job_and_browses_quarantine(server, demo_lake, lang, attempt):
    tag = f"{lang}{attempt}"
    with browser_page() as page:
        page.set_default_timeout(WAIT_MS)
        sign_in(page, server, "eng")
        set_language(page, lang)
        open_page(page, "jobs", lang, f"jobs_{tag}")
        choose(page, "jobs_pick", "bronze_register")
        click(page, "jobs_run_one")
        page.locator(".st-key-jobs_summary").wait_for(timeout=180_000)
        check_page(page, f"jobs_ran_{tag}")
        # the summary is said in the page's language (jobs keep catalogued messages, not text)
        other = "en" if lang == "zh" else "zh"
        said = page.locator("[data-testid='stAlertContentSuccess']")
        assert said.filter(has_text=_done(lang)).count(), f"{tag}: no summary line in {lang}"
        assert not said.filter(has_text=_done(other)).count(), f"{tag}: the summary line is in {other}"
        shot(page, f"engineer_jobs_{tag}")
        page.locator(".st-key-quarantine_table").scroll_into_view_if_needed()
        quarantined = page.locator(".st-key-quarantine_table input").input_value()
        assert "quarantine." in quarantined
        # quarantine by cause: the counts first, then the rows of one cause
        page.locator(".st-key-quarantine_causes").wait_for(timeout=60_000)
        cause = page.locator(".st-key-quarantine_cause input")
        cause.click()
        page.keyboard.press("ArrowDown")  # the first cause after "every cause"
        page.keyboard.press("Enter")
        settle(page)
        picked = page.locator(".st-key-quarantine_cause").inner_text()
        rows_word = translate("jobs.quarantine.cause_count", lang, cause="", n="").strip(" ()（）")
        assert rows_word in picked, f"{tag}: the picked cause shows no row count: {picked!r}"
        page.locator(".st-key-quarantine_rows").wait_for(timeout=60_000)
        check_page(page, f"quarantine_{tag}")
        shot(page, f"engineer_quarantine_{tag}")
        sign_out(page)


@pytest.mark.parametrize("lang, attempt", [("zh", 1), ("en", 1), ("zh", 2), ("en", 2)])
def test_a_run_link_opened_signed_out_signs_in_and_opens_the_run(server, demo_lake, lang, attempt):
    """Issue 19: ``/runs?run=ID`` from outside (a mail, a chat) while signed out said "Page not found".
    Now it shows the sign-in, and after it the page with that run chosen."""
    run_id, _ = approved(demo_lake.lake, KIND, title=f"linked {lang}{attempt}")
    tag = f"link_{lang}{attempt}"
    with browser_page() as page:  # a fresh browser: no cookie, signed out
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{server}/runs?run={run_id}")
        page.locator(".st-key-signin_username input").wait_for(timeout=WAIT_MS)
        set_language(page, lang)
        check_page(page, f"{tag}_signin")
        assert not page.get_by_text("Page not found").count()
        page.locator(".st-key-signin_username input").fill("super")
        page.locator(".st-key-signin_password input").fill("super-demo")
        page.locator(".st-key-signin_submit button").click()
        page.locator(".st-key-runs_pick input").wait_for(timeout=WAIT_MS)
        settle(page)
        check_page(page, f"{tag}_runs")
        assert run_id in page.locator(".st-key-runs_pick input").input_value()
        assert page.locator(".st-key-signout").get_by_text(translate("sidebar.signout", lang)).count()
        shot(page, f"supervisor_{tag}")
        sign_out(page)
