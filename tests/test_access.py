"""Issue 20 items 1 and 2 without a browser: the catalogue's preview policy per role and layer,
release rows through the release reader, sign-in lockout and audit, session tokens, log redaction."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from workbench import catalog
from workbench.auth import SessionTokens, SignInAudit, SignInGuard, load_users
from workbench.config import AuthSettings

USERS = load_users()
STAT, RESEARCH, SUPER, ENG = (USERS[u] for u in ("stat", "research", "super", "eng"))

# ---- (1) who may preview which rows ------------------------------------------------------

# role -> tables whose rows it may preview; every other table in TABLES is refused.
TABLES = ("bronze.vat", "quarantine.vat", "silver.enterprises", "gold.indicators_monthly", "quality.results",
          "release.sample_totals", "runs.r1.table", "runs.r2.table", "workbench.loads", "workbench.watermarks",
          "workbench.runs", "workbench.run_outputs", "workbench.audit", "workbench.releases",
          "workbench.disclosure_reports", "workbench.some_future_table", "scratch.anything")
AUTHORS = {"runs.r1.table": "stat", "runs.r2.table": "super2"}
OPEN = {"silver.enterprises", "gold.indicators_monthly", "quality.results", "release.sample_totals"}
ALLOWED = {
    "statistician": OPEN | {"runs.r1.table"},  # its own run's output only
    "researcher": OPEN,
    "data_engineer": OPEN | {"bronze.vat", "quarantine.vat", "workbench.loads", "workbench.watermarks"},
    "supervisor": OPEN | {"runs.r1.table", "runs.r2.table", "workbench.loads", "workbench.watermarks",
                          "workbench.runs", "workbench.run_outputs", "workbench.audit", "workbench.releases",
                          "workbench.disclosure_reports", "workbench.some_future_table"},
}


@pytest.mark.parametrize("user", [STAT, RESEARCH, ENG, SUPER], ids=lambda u: u.roles[0])
@pytest.mark.parametrize("table", TABLES)
def test_preview_policy_per_role_and_layer(user, table):
    access = catalog.preview_access(user, table, run_author=AUTHORS.get(table))
    assert access.allowed == (table in ALLOWED[user.roles[0]]), (user.username, table)
    if not access.allowed:
        assert access.reason.startswith("catalog."), access  # a message that says why
    assert access.release_rows == (table.startswith("release.") and access.allowed)


def test_a_run_output_with_no_known_author_is_for_reviewers_only():
    assert not catalog.preview_access(STAT, "runs.r9.table", run_author=None).allowed
    assert catalog.preview_access(SUPER, "runs.r9.table", run_author=None).allowed
    assert not catalog.preview_access(None, "silver.enterprises").allowed


def test_run_id_of_a_run_output():
    assert catalog.run_id_of("runs.r20261201t101010_ab12cd34.estimates") == "r20261201t101010_ab12cd34"
    assert catalog.run_id_of("workbench.runs") is None and catalog.run_id_of("runs.x") is None


@pytest.fixture(scope="module")
def release_lake(spark, tmp_path_factory):
    from test_api import build_release_lake

    return build_release_lake(spark, str(tmp_path_factory.mktemp("access") / "lake"))


def test_release_rows_go_through_the_release_reader(release_lake):
    """sample_totals: vintage 1 public (25 areas, totals 1..25), vintage 2 (x2) under embargo."""
    from workbench.disclosure.reader import ReleaseReader

    reader = ReleaseReader(release_lake)
    public = catalog.release_preview(reader, "release.sample_totals", RESEARCH)
    assert len(public) == 25 and set(public["vintage"]) == {1}
    assert sorted(public["total"]) == [float(v) for v in range(1, 26)]  # exact: sums of whole numbers
    assert not {"release_id", "run_id", "embargo_until"} & set(public.columns)  # as the API drops them
    cleared = catalog.release_preview(reader, "release.sample_totals", SUPER)
    assert len(cleared) == 50 and list(cleared["vintage"][:25]) == [2] * 25  # newest vintage first
    assert catalog.release_preview(reader, "release.next_month", STAT).empty  # embargoed only
    assert catalog.release_preview(reader, "release.withdrawn_series", SUPER).empty  # withdrawn: for nobody
    assert len(catalog.release_preview(reader, "release.sample_totals", SUPER, limit=30)) == 30


# ---- (2) lockout, audit, tokens, redaction -------------------------------------------------

class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def guard(tmp_path: Path, clock: Clock, **settings) -> SignInGuard:
    conf = AuthSettings(**{"max_account_failures": 3, "max_client_failures": 5, "failure_window_minutes": 10,
                           "lockout_minutes": 15, **settings})
    return SignInGuard(conf, SignInAudit(tmp_path / "audit.jsonl"), clock=clock)


def test_an_account_locks_after_n_failures_for_m_minutes_and_the_right_password_waits(tmp_path):
    clock = Clock()
    g = guard(tmp_path, clock)
    assert [g.attempt("eng", "no", "10.0.0.1").status for _ in range(3)] == ["wrong", "wrong", "locked"]
    locked = g.attempt("eng", "eng-demo", "10.0.0.2")  # another client, the right password: still locked
    assert locked.status == "locked" and locked.locked_until == clock.now + 15 * 60
    assert g.attempt("stat", "stat-demo", "10.0.0.1").status == "ok"  # other accounts are not locked
    clock.now += 15 * 60 + 1
    assert g.attempt("eng", "eng-demo", "10.0.0.1").user == ENG
    events = [(e["event"], e["account"]) for e in g.audit.entries()]
    assert events == [("signin_failed", "eng")] * 3 + [("lockout", "eng"), ("signin_refused_locked", "eng"),
                                                       ("signin", "stat"), ("signin", "eng")]
    assert "eng-demo" not in (tmp_path / "audit.jsonl").read_text()


def test_failures_outside_the_window_do_not_count(tmp_path):
    clock = Clock()
    g = guard(tmp_path, clock)
    for _ in range(2):
        assert g.attempt("eng", "no", "c").status == "wrong"
    clock.now += 10 * 60 + 1
    assert g.attempt("eng", "no", "c").status == "wrong"  # the first two fell out of the window


def test_a_client_locks_after_failures_on_many_accounts_and_unknown_names_are_not_recorded(tmp_path):
    clock = Clock()
    g = guard(tmp_path, clock, max_account_failures=100)
    names = ["stat", "research", "eng", "hunter2-typed-as-a-name", "super"]
    assert [g.attempt(n, "no", "10.9.9.9").status for n in names] == ["wrong"] * 4 + ["locked"]
    assert g.attempt("admin", "admin-demo", "10.9.9.9").status == "locked"
    assert g.attempt("admin", "admin-demo", "10.9.9.8").status == "ok"
    lockout = [e for e in g.audit.entries() if e["event"] == "lockout"]
    assert lockout == [{**lockout[0], "scope": "client", "client": "10.9.9.9"}]
    assert "hunter2" not in (tmp_path / "audit.jsonl").read_text()  # a mistyped password is never written


def test_a_grant_gives_one_token_once_and_a_revoked_or_expired_token_signs_nobody_in():
    clock = Clock()
    tokens = SessionTokens(session_hours=8, clock=clock)
    grant = tokens.issue_grant(SUPER, browser="b1")
    token = tokens.redeem_grant(grant, browser="b1")
    assert tokens.user_for(token) == SUPER and tokens.binding(token) == SessionTokens.digest(token)
    assert tokens.redeem_grant(grant, browser="b1") is None  # one-time
    late = tokens.issue_grant(STAT, browser="b1")
    clock.now += SessionTokens.GRANT_SECONDS + 1
    assert tokens.redeem_grant(late, browser="b1") is None  # a grant lives a minute
    body, _, signature = token.rpartition(".")
    forged = f"{body[:-1]}{'A' if body[-1] != 'A' else 'B'}.{signature}"
    assert tokens.user_for(forged) is None and tokens.user_for("") is None and tokens.user_for(None) is None
    assert tokens.revoke(token) and tokens.user_for(token) is None and tokens.binding(token) is None
    second = tokens.redeem_grant(tokens.issue_grant(STAT, browser="b1"), browser="b1")
    clock.now += 8 * 3600 + 1
    assert tokens.user_for(second) is None  # expired
    other = SessionTokens(session_hours=8, clock=clock)
    assert other.user_for(tokens.redeem_grant(tokens.issue_grant(STAT, browser="b1"), browser="b1")) is None  # another process's key


@pytest.mark.parametrize("first", ["-", "_", "A", "z", "0"])
def test_a_token_is_redacted_whatever_character_it_begins_with(first):
    """Tokens are random base64url: one in 64 begins with "-", which a word boundary missed."""
    from workbench.app.browser_session import redact

    token = first + "x" * 42 + ".1796639016." + "c" * 64
    for line in (f"token {token}", f"token={token}", f"({token})", token):
        assert token not in redact(line) and "<redacted:" in redact(line), line


def test_session_ids_tokens_and_grants_are_redacted_from_log_records(caplog):
    from workbench.app.browser_session import install_log_redaction, redact

    tokens = SessionTokens(session_hours=1)
    token = tokens.redeem_grant(tokens.issue_grant(STAT, browser="b1"), browser="b1")
    session_id = "2e89435d-9679-49da-b872-5812d5c8b807"
    install_log_redaction()
    log = logging.getLogger("streamlit.runtime.websocket_session_manager")
    # Streamlit's own loggers do not propagate to the root once Streamlit has configured them
    # (as it has when another test imported it first), so caplog listens on this one directly;
    # a logger that still propagates reaches caplog through the root, and a second handler
    # would record every line twice.
    listen = not log.propagate
    if listen:
        log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger=log.name):
            log.warning("Session with id %s is already connected! Reconnecting to existing session.", session_id)
            log.warning("GET /workbench/session/start?grant=%s token %s", "abcDEF_-123", token)
    finally:
        if listen:
            log.removeHandler(caplog.handler)
    text = caplog.text
    assert session_id not in text and token not in text and "abcDEF_-123" not in text
    assert "Reconnecting to existing session" in text and text.count("<redacted:") == 3
    assert redact("run r20261201t101010_ab12cd34 finished") == "run r20261201t101010_ab12cd34 finished"


def test_the_binding_middleware_drops_a_forged_identity_header_and_adds_only_a_live_tokens_digest():
    import asyncio

    from workbench.app import browser_session

    seen = []

    async def app(scope, receive, send):
        seen.append(dict(scope["headers"]).get(browser_session.IDENTITY_HEADER.encode()))

    middleware = browser_session.SessionBindingMiddleware(app)
    token = browser_session.tokens().redeem_grant(browser_session.tokens().issue_grant(STAT, browser="b1"), browser="b1")
    forged = (browser_session.IDENTITY_HEADER.encode(), b"digest-of-someone-else")

    def connect(*headers):
        asyncio.run(middleware({"type": "websocket", "headers": list(headers)}, None, None))

    connect(forged)  # no cookie: the forged header is gone, nothing replaces it
    connect(forged, (b"cookie", f"a=1; {browser_session.COOKIE}={token}".encode()))
    browser_session.tokens().revoke(token)
    connect((b"cookie", f"{browser_session.COOKIE}={token}".encode()))  # revoked: anonymous again
    assert seen == [None, SessionTokens.digest(token).encode(), None]


@pytest.mark.parametrize("page, run, location", [
    ("runs", "r20261202t060423_23457873", "/runs?lang=en&run=r20261202t060423_23457873"),  # a link, carried on
    ("", "", "/?lang=en"),                                                                  # no link: the first page
    ("//evil.example", "", "/?lang=en"),                                   # never an address of someone else's
    ("runs/../../x", "r1' OR '1'='1", "/?lang=en"),
    ("review", "javascript:alert(1)", "/review?lang=en"),
])
def test_the_sign_in_redirect_carries_on_only_to_a_page_and_a_run(page, run, location):
    """A link opened signed out goes on to its page after sign-in; nothing else passes the redirect."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from workbench.app.browser_session import START_PATH, routes

    with TestClient(Starlette(routes=routes())) as http:
        answer = http.get(START_PATH, params={"grant": "none", "lang": "en", "page": page, "run": run},
                          follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == location


def test_a_sign_ins_page_settings_are_kept_with_its_token_and_go_with_it():
    """A reload is a new Streamlit session; the pages' settings come back from the token's own
    store (issue 29, 10), and never outlive the sign-in: revoked or expired, they are gone."""
    clock = Clock()
    tokens = SessionTokens(session_hours=8, clock=clock)
    first = tokens.redeem_grant(tokens.issue_grant(STAT, browser="b1"), browser="b1")
    other = tokens.redeem_grant(tokens.issue_grant(SUPER, browser="b2"), browser="b2")
    tokens.keep_settings(first, {"est_variable": "revenue"})
    tokens.keep_settings(other, {"est_variable": "employment"})
    assert tokens.settings(first) == {"est_variable": "revenue"}
    assert tokens.settings(other) == {"est_variable": "employment"}  # each sign-in its own
    tokens.keep_settings("forged.1.abc", {"x": 1})
    assert tokens.settings("forged.1.abc") == {} and tokens.settings(None) == {}
    assert tokens.revoke(first) and tokens.settings(first) == {}
    tokens.keep_settings(first, {"est_variable": "revenue"})  # a dead token keeps nothing
    assert tokens.settings(first) == {}
    clock.now += 8 * 3600 + 1
    assert tokens.settings(other) == {} and not tokens._settings  # expired, and dropped
