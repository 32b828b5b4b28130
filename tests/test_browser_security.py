"""Issue 20 (items 1, 2) in a real browser against the real server: what leaked, and how to take a session over.

The lake (``test_api.build_release_lake`` plus one disclosure-controlled run by super2)
holds a public and an embargoed vintage of ``release.sample_totals``, a withdrawn
series, run outputs with unprotected small cells and the workbench's own records.
Each test runs in English and Chinese. Screenshots go to tests/artifacts/.

Threat model for (b): an attacker who learned a Streamlit session id (it travels in
the page's WebSocket and Streamlit used to log it) but not the HttpOnly sign-in cookie.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from browserkit import CHROMIUM, CHROMIUM_ARGS, check_page, require_chromium, serving, shot
from test_api import SECRET, SUPER, _approved, build_release_lake
from workbench.auth import User
from workbench.disclosure.tables import KIND
from workbench.i18n import translate

pytestmark = pytest.mark.slow

SUPER2 = User("super2", "Second supervisor", ("supervisor",))
LOCK_AFTER = 3  # [auth].max_account_failures for this server (5 in conf/workbench.toml)


@pytest.fixture(scope="module")
def security_lake(spark, tmp_path_factory):
    from workbench.runs import registry, review

    lake = build_release_lake(spark, str(tmp_path_factory.mktemp("security") / "lake"))
    # A run by super2 whose output holds the unprotected 2-contributor cells the release gate
    # suppresses: neither stat nor research wrote it.
    run_id = registry.run_method(lake, KIND, {"measures": ["vat_sales"], "first": "2026-09", "last": "2026-09"},
                                 ["gold.enterprise_month"], user=SUPER2)
    review.submit(lake, run_id, SUPER2)
    review.approve(lake, run_id, SUPER)
    # stat's approved run that was never released: its raw output holds the value SECRET
    secret = next(r.run_id for r in registry.list_runs(lake) if r.params.get("scale") == SECRET)
    return SimpleNamespace(lake=lake, foreign_run=f"runs.{run_id}.table", author_run=_approved, secret_run=secret)


@pytest.fixture(scope="module")
def server(security_lake, tmp_path_factory):
    require_chromium()
    base = tmp_path_factory.mktemp("security_server")
    audit = base / "signin-audit.jsonl"
    with serving(base, str(base / "demo"), "--headless", lake_root=security_lake.lake.root,
                 WORKBENCH_AUTH_AUDIT_FILE=str(audit), WORKBENCH_AUTH_MAX_ACCOUNT_FAILURES=str(LOCK_AFTER),
                 WORKBENCH_AUTH_LOCKOUT_MINUTES="2") as url:
        yield SimpleNamespace(url=url, log=base / "server.log", audit=audit)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


_OPEN_CONTEXTS: list = []


@pytest.fixture(autouse=True)
def close_contexts():
    """Close every browser context a test opened, also when it failed (an open one wedges chromium)."""
    yield
    while _OPEN_CONTEXTS:
        try:
            _OPEN_CONTEXTS.pop().close()
        except Exception:  # already closed by the test
            pass


def new_page(browser, lang: str, init_script: str | None = None):
    """A page in a fresh browser context (its own cookie jar), optionally with a script run before the app's."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    _OPEN_CONTEXTS.append(context)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.workbench_lang = lang
    return page


def pick_language(page, lang: str) -> None:
    """Switch the sidebar language (the server starts in English)."""
    if lang != "en":
        page.locator("[data-testid='stSidebar']").get_by_text("中文", exact=True).click()
        page.get_by_text(translate("signin.title", lang)).wait_for(timeout=30_000)


def sign_in_as(page, url: str, username: str, lang: str) -> None:
    page.goto(url)
    page.locator(".st-key-signin_username").wait_for(timeout=60_000)
    pick_language(page, lang)
    page.locator(".st-key-signin_username input").fill(username)
    page.locator(".st-key-signin_password input").fill(f"{username}-demo")
    page.locator(".st-key-signin_submit button").click()
    page.locator(".st-key-signout").wait_for(timeout=60_000)
    # the language chosen before signing in is kept
    page.get_by_text(translate("sidebar.signout", lang), exact=True).wait_for(timeout=30_000)


def open_preview(page, url: str, table: str, lang: str) -> str:
    """The catalogue's preview tab of *table*; returns the tab's text."""
    page.goto(f"{url}/catalog?lang={lang}")  # a page load starts a new session, in the server's language
    page.locator(".st-key-catalog_search input").wait_for(timeout=60_000)
    page.locator(".st-key-catalog_search input").fill(table)
    page.locator(".st-key-catalog_search input").press("Enter")
    page.locator(f"text={translate('catalog.path', lang)}").first.wait_for(timeout=90_000)
    page.get_by_role("tab", name=translate("catalog.preview", lang)).click()
    panel = page.get_by_role("tabpanel", name=translate("catalog.preview", lang))
    panel.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # the preview reads the lake
    check_page(page, f"catalog_{table}_{lang}")
    return panel.inner_text()


def shown(lang: str, n: int) -> str:
    return translate("catalog.shown", lang, n=f"{n:,}")


# ---- (a) the catalogue leak ------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_catalogue_shows_no_embargoed_vintage_no_foreign_run_output_no_workbench_record(server, browser,
                                                                                      security_lake, lang):
    refused_run = translate("catalog.access.run_output", lang)
    refused_record = translate("catalog.access.workbench", lang)
    for username in ("stat", "research"):
        page = new_page(browser, lang)
        sign_in_as(page, server.url, username, lang)
        # release.sample_totals: 25 public rows (vintage 1); vintage 2's 25 rows are under embargo
        text = open_preview(page, server.url, "release.sample_totals", lang)
        assert shown(lang, 25) in text and shown(lang, 50) not in text, text
        shot(page, f"security_release_{username}_{lang}")
        if username == "stat":  # a withdrawn series shows nothing
            assert shown(lang, 0) in open_preview(page, server.url, "release.withdrawn_series", lang)
        text = open_preview(page, server.url, security_lake.foreign_run, lang)
        assert refused_run in text, text
        shot(page, f"security_run_output_{username}_{lang}")
        for record in ("workbench.audit", "workbench.releases"):  # the library test covers every workbench table
            assert refused_record in open_preview(page, server.url, record, lang), record
        shot(page, f"security_workbench_{username}_{lang}")
        page.context.close()

    page = new_page(browser, lang)
    sign_in_as(page, server.url, "super", lang)
    assert shown(lang, 50) in open_preview(page, server.url, "release.sample_totals", lang)
    text = open_preview(page, server.url, security_lake.foreign_run, lang)
    assert refused_run not in text and shown(lang, 0) not in text, text
    assert refused_record not in open_preview(page, server.url, "workbench.audit", lang)
    shot(page, f"security_supervisor_audit_{lang}")
    page.context.close()


# ---- (b) session resumption without the cookie ---------------------------------------

# Replaces the browser's WebSocket so the app's connection asks to resume a stolen
# session id (what Streamlit's frontend itself sends when it reconnects).
RESUME_STOLEN = """
(() => {
  const Native = window.WebSocket;
  const Stolen = function (url, protocols) {
    const list = Array.isArray(protocols) ? protocols.slice(0, 2) : [protocols];
    return new Native(url, [...list, "%s"]);
  };
  Stolen.prototype = Native.prototype;
  for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Stolen[k] = Native[k];
  window.WebSocket = Stolen;
})();
"""


def watch_session_ids(page) -> list[str]:
    """Session ids the server hands this page, read off its WebSocket as an eavesdropper would."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    ids: list[str] = []

    def on_frame(payload):
        if isinstance(payload, (bytes, bytearray)):
            msg = ForwardMsg()
            try:
                msg.ParseFromString(bytes(payload))
            except Exception:  # not a ForwardMsg
                return
            if msg.WhichOneof("type") == "new_session":
                ids.append(msg.new_session.initialize.session_id)

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    return ids


def lands_on_sign_in(page, url: str, where: str) -> None:
    page.goto(url)
    page.locator(".st-key-signin_username").wait_for(timeout=60_000)
    page.wait_for_timeout(2000)  # time for a resumed session to show its pages, had it resumed
    check_page(page, where)
    assert page.locator(".st-key-signout").count() == 0, f"{where}: the session was taken over"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_session_id_without_the_cookie_does_not_resume_a_sign_in(server, browser, lang):
    victim = new_page(browser, lang)
    ids = watch_session_ids(victim)
    sign_in_as(victim, server.url, "super2", lang)
    live = ids[-1]

    # the supervisor's tab is live: a cookie-less browser presenting its id lands on sign-in
    attacker = new_page(browser, lang, RESUME_STOLEN % live)
    lands_on_sign_in(attacker, server.url, f"takeover_live_{lang}")
    shot(attacker, f"security_takeover_live_{lang}")
    attacker.context.close()

    cookie = next(c for c in victim.context.cookies() if c["name"] == "workbench_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert victim.evaluate("document.cookie").find("workbench_session") == -1  # no script can read it

    # and the supervisor is still signed in, also after a reload
    victim.reload()
    victim.locator(".st-key-signout button").wait_for(timeout=60_000)
    victim.wait_for_timeout(1500)
    check_page(victim, f"reload_{lang}")
    shot(victim, f"security_reload_keeps_sign_in_{lang}")

    # a tab closed without signing out: its session waits in storage, still not for a stranger
    closed = ids[-1]
    tab = victim.context.new_page()
    victim.close()
    tab.wait_for_timeout(3000)
    attacker = new_page(browser, lang, RESUME_STOLEN % closed)
    lands_on_sign_in(attacker, server.url, f"takeover_closed_{lang}")
    attacker.context.close()

    # sign out in the remaining tab: the token dies on the server, a replayed copy signs nobody in
    tab.goto(server.url)
    tab.locator(".st-key-signout button").click()
    tab.locator(".st-key-signin_username").wait_for(timeout=60_000)
    assert not [c for c in tab.context.cookies() if c["name"] == "workbench_session"]
    replay = new_page(browser, lang)
    replay.context.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path", "httpOnly", "sameSite")}])
    lands_on_sign_in(replay, server.url, f"replay_{lang}")
    shot(replay, f"security_replayed_token_{lang}")
    replay.context.close()
    tab.context.close()

    # no session id, token or grant in the server's log
    log = server.log.read_text(errors="replace")
    for secret in {*ids, cookie["value"]}:
        assert secret not in log, "a secret reached the server log"
    assert "grant=" not in log or "grant=<redacted" in log


# ---- (c) lockout -----------------------------------------------------------------------

def audit_of(server, username: str) -> list[dict]:
    if not server.audit.exists():  # the first sign-in event creates the file
        return []
    entries = [json.loads(line) for line in server.audit.read_text().splitlines() if line.strip()]
    return [e for e in entries if e["account"] == username]


def wait_for_audit(server, username: str, count: int, timeout: float = 30.0) -> None:
    """Until the audit holds *count* entries for *username* (each attempt writes one or two)."""
    import time

    deadline = time.monotonic() + timeout
    while len(audit_of(server, username)) < count:
        assert time.monotonic() < deadline, f"audit for {username}: {audit_of(server, username)}"
        time.sleep(0.2)


@pytest.mark.parametrize("lang,username", [("en", "eng"), ("zh", "admin")])
def test_wrong_passwords_lock_the_account_and_are_audited(server, browser, lang, username):
    page = new_page(browser, lang)
    page.goto(server.url)
    page.locator(".st-key-signin_username").wait_for(timeout=60_000)
    pick_language(page, lang)
    wrong = translate("signin.failed", lang)
    locked = translate("signin.locked", lang, time="")[:8]

    def attempt(password: str, entries: int) -> None:
        page.locator(".st-key-signin_username input").fill(username)
        page.locator(".st-key-signin_password input").fill(password)
        page.locator(".st-key-signin_submit button").click()
        wait_for_audit(server, username, entries)
        page.wait_for_timeout(500)

    for n in range(1, LOCK_AFTER):
        attempt(f"wrong-{n}", n)
        page.get_by_text(wrong).wait_for(timeout=30_000)
    attempt(f"wrong-{LOCK_AFTER}", LOCK_AFTER + 1)  # the failure that locks: two entries
    page.get_by_text(re.compile(re.escape(locked))).wait_for(timeout=30_000)
    # the right password does not help while the account is locked
    attempt(f"{username}-demo", LOCK_AFTER + 2)
    page.get_by_text(re.compile(re.escape(locked))).wait_for(timeout=30_000)
    assert page.locator(".st-key-signout").count() == 0
    check_page(page, f"lockout_{lang}")
    shot(page, f"security_lockout_{lang}")
    page.context.close()

    events = [e["event"] for e in audit_of(server, username)]
    assert events == ["signin_failed"] * LOCK_AFTER + ["lockout", "signin_refused_locked"], events
    assert audit_of(server, username)[LOCK_AFTER]["scope"] == "account"
    text = server.audit.read_text()
    assert "wrong-1" not in text and f"{username}-demo" not in text  # no password in the audit


# ---- a page outside the user's roles, opened by its address --------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_page_outside_the_users_roles_says_so_in_the_ui_language(server, browser, lang):
    """Issue 21: a statistician who opened ``/review`` by its address got Streamlit's own
    "Page not found" dialog, in English whatever the UI language. The address now answers with
    the page's role check, said in the UI language, and nothing of the review queue; twice in
    a row, the second by reloading the address."""
    page = new_page(browser, lang)
    sign_in_as(page, server.url, "stat", lang)
    refusal = translate("guard.forbidden", lang, roles=translate("role.supervisor", lang))
    for attempt in (1, 2):
        page.goto(f"{server.url}/review?lang={lang}")
        page.get_by_text(refusal).wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        assert not page.get_by_text("Page not found").count()
        assert not page.locator(".st-key-review_pick").count() and not page.locator(".st-key-review_approve").count()
        # the menu still lists only the statistician's pages
        assert not page.locator("[data-testid='stSidebarNavLink'][href$='/review']").count()
        check_page(page, f"forbidden_review_{lang}_{attempt}")
        shot(page, f"security_forbidden_review_{lang}_{attempt}")


# ---- issue 28 item 1: another user's run by its link -------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_another_users_run_opened_by_its_link_is_refused(server, browser, security_lake, lang):
    """Signed in as research, ``/runs?run=<stat's approved, unreleased run>`` sent the browser
    every raw output row. Now the link is refused, in the UI language, twice in a row (the
    second by opening the address again), and nothing of the run reaches the page; Compare's
    link likewise. The author opens the same link and sees the rows."""
    run_id = security_lake.secret_run
    refusal = translate("access.run_refused", lang, run=run_id)
    secret_texts = (f"{SECRET:,}", f"{SECRET}", "987654", "987,654")
    page = new_page(browser, lang)
    sign_in_as(page, server.url, "research", lang)
    for attempt in (1, 2):
        for where in ("runs", "compare"):
            page.goto(f"{server.url}/{where}?run={run_id}&lang={lang}")
            page.get_by_text(refusal).wait_for(timeout=60_000)
            page.wait_for_timeout(1500)  # time for anything else the page would draw
            check_page(page, f"foreign_run_{where}_{lang}_{attempt}")
            text = page.locator("body").inner_text()
            assert not any(s in text for s in secret_texts), text
            assert not page.locator(".st-key-runs_detail_output_rows").count()
            assert not page.locator(".st-key-runs_detail_params").count()
            shot(page, f"security_foreign_run_{where}_{lang}_{attempt}")
    page.context.close()

    author = new_page(browser, lang)
    sign_in_as(author, server.url, "stat", lang)
    author.goto(f"{server.url}/runs?run={run_id}&lang={lang}")
    author.locator(".st-key-runs_detail_output_rows").wait_for(timeout=90_000)
    check_page(author, f"own_run_{lang}")
    assert not author.get_by_text(refusal).count()
    assert run_id in author.locator(".st-key-runs_pick input").input_value()
    shot(author, f"security_own_run_{lang}")
    author.context.close()


# ---- issue 28 item 14: login CSRF and cross-site sign-out ---------------------------------

def _session_cookie(page) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "workbench_session"), None)


GRANT_URL = re.compile(r".*/workbench/session/start\?.*")


def submit_sign_in(page, url: str, username: str) -> None:
    page.goto(url)
    page.locator(".st-key-signin_username input").fill(username)
    page.locator(".st-key-signin_password input").fill(f"{username}-demo")
    page.locator(".st-key-signin_submit button").click()


def held_grant(page, url: str, username: str, grants: list[str]) -> str:
    """Sign in as *username* in *page*, whose context holds (does not follow) the grant redirect."""
    before = len(grants)
    submit_sign_in(page, url, username)
    for _ in range(600):
        if len(grants) > before:
            return grants[-1]
        page.wait_for_timeout(100)
    raise AssertionError("the sign-in never sent the browser for its cookie")


def test_an_attackers_sign_in_grant_signs_no_other_browser_in(server, browser):
    """Login CSRF: the grant URL of an attacker's own sign-in, opened in a victim's browser,
    signed the victim in as the attacker. A grant is now good only in the browser that
    signed in: the victim's browser, and a bare HTTP client, get no session cookie."""
    import httpx

    attacker = new_page(browser, "en")
    grants: list[str] = []

    def hold(route):  # the attacker keeps the grant instead of redeeming it
        grants.append(route.request.url)
        route.abort()

    attacker.context.route(GRANT_URL, hold)
    attack = held_grant(attacker, server.url, "stat", grants)

    # the victim has the app open (so it holds its own browser cookie) and follows the link
    victim = new_page(browser, "en")
    victim.goto(server.url)
    victim.locator(".st-key-signin_username").wait_for(timeout=60_000)
    victim.goto(attack)
    victim.locator(".st-key-signin_username").wait_for(timeout=60_000)
    victim.wait_for_timeout(1500)
    check_page(victim, "login_csrf_victim")
    assert _session_cookie(victim) is None and victim.locator(".st-key-signout").count() == 0
    shot(victim, "security_login_csrf_victim")

    # fresh grants of the attacker's, fetched by a plain HTTP client with no cookie or another one
    for cookies in ({}, {"workbench_browser": "a-browser-of-someone-else"}):
        answer = httpx.get(held_grant(attacker, server.url, "stat", grants), cookies=cookies, follow_redirects=False)
        assert answer.status_code == 303 and "workbench_session" not in answer.headers.get("set-cookie", ""), \
            answer.headers

    # the browser that signed in still signs in (its own grant, its own cookie)
    attacker.context.unroute(GRANT_URL)
    submit_sign_in(attacker, server.url, "stat")
    attacker.locator(".st-key-signout").wait_for(timeout=60_000)
    assert _session_cookie(attacker)
    attacker.context.close()
    victim.context.close()


def test_a_cross_site_request_signs_nobody_out(server, browser):
    """A link (GET) to ``/workbench/session/end`` from another site signed the victim out. Ending a
    session takes a POST from the app's own origin now; anything else leaves it signed in."""
    import httpx

    page = new_page(browser, "en")
    sign_in_as(page, server.url, "super2", "en")
    token = _session_cookie(page)
    end = f"{server.url}/workbench/session/end"
    own_origin = server.url
    cookies = {"workbench_session": token}
    attempts = [("GET", {}), ("GET", {"Referer": "https://evil.example/page"}),
                ("POST", {}), ("POST", {"Origin": "https://evil.example"}),
                ("POST", {"Origin": "null"}), ("POST", {"Referer": "https://evil.example/x"}),
                ("POST", {"Origin": own_origin.replace("127.0.0.1", "127.0.0.1.evil.example")})]
    for method, headers in attempts:
        answer = httpx.request(method, end, headers=headers, cookies=cookies, follow_redirects=False)
        # a GET is the app's own page (Streamlit answers every other address so) or refused; never a sign-out
        assert answer.status_code in ((200, 405) if method == "GET" else (403, 405)), (method, headers, answer)
        assert "workbench_session" not in answer.headers.get("set-cookie", ""), (method, headers)
    # still signed in, in the browser too
    page.reload()
    page.locator(".st-key-signout button").wait_for(timeout=60_000)
    check_page(page, "cross_site_signout_refused")
    shot(page, "security_cross_site_signout_refused")

    # the app's own origin may end it
    answer = httpx.post(end, headers={"Origin": own_origin}, cookies=cookies, follow_redirects=False)
    assert answer.status_code == 303 and "workbench_session=" in answer.headers.get("set-cookie", "")
    page.reload()
    page.locator(".st-key-signin_username").wait_for(timeout=60_000)
    assert page.locator(".st-key-signout").count() == 0
    page.context.close()
