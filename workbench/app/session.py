"""Session state, the page registry, the role guard and the shared sidebar.

Every page starts with ``require_role(...)``: the guard runs on the server in the
page's own script, so a page is refused even when a user reaches it by URL or a
stale link, not only hidden from the navigation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from workbench.app.browser_session import PAGE_PATH, RUN_LINK
from workbench.auth import ROLES, User, user_for_email
from workbench.config import load_settings
from workbench.formatting import bilingual
from workbench.i18n import LANGUAGE_NAMES, translate

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"
ALL_ROLES = ROLES


@dataclass(frozen=True)
class PageSpec:
    """One page: its file in app_pages/, label key, icon, roles and menu section."""

    key: str
    file: str
    label: str
    icon: str
    roles: tuple[str, ...]
    section: str


# The one list of pages; later issues append (e.g. a supervisor review queue).
PAGES: tuple[PageSpec, ...] = (
    PageSpec("home", "home.py", "nav.home", ":material/home:", ALL_ROLES, "nav.section.data"),
    PageSpec("catalog", "catalog.py", "nav.catalog", ":material/dataset:", ALL_ROLES, "nav.section.data"),
    PageSpec("jobs", "jobs.py", "nav.jobs", ":material/play_circle:", ("data_engineer",), "nav.section.operations"),
    PageSpec("linkage_review", "linkage_review.py", "nav.linkage_review", ":material/join_inner:",
             ("statistician", "data_engineer"), "nav.section.operations"),
    PageSpec("runs", "runs.py", "nav.runs", ":material/history:", ("statistician", "researcher", "supervisor"),
             "nav.section.runs"),
    PageSpec("compare", "compare.py", "nav.compare", ":material/compare_arrows:",
             ("statistician", "researcher", "supervisor"), "nav.section.runs"),
    PageSpec("review", "review.py", "nav.review", ":material/fact_check:", ("supervisor",), "nav.section.runs"),
    PageSpec("dissemination", "dissemination.py", "nav.dissemination", ":material/public:", ALL_ROLES,
             "nav.section.runs"),
    PageSpec("nowcast", "nowcast.py", "nav.nowcast", ":material/trending_up:",
             ("researcher", "statistician", "supervisor"), "nav.section.methods"),
    PageSpec("estimates", "estimates.py", "nav.estimates", ":material/functions:",
             ("statistician", "researcher", "supervisor"), "nav.section.methods"),
    PageSpec("small_areas", "small_areas.py", "nav.small_areas", ":material/map:",
             ("statistician", "researcher", "supervisor"), "nav.section.methods"),
    PageSpec("seasonal", "seasonal.py", "nav.seasonal", ":material/waves:",
             ("statistician", "researcher", "supervisor"), "nav.section.methods"),
    PageSpec("prices", "prices.py", "nav.prices", ":material/sell:", ("statistician", "researcher", "supervisor"),
             "nav.section.methods"),
    PageSpec("quality", "quality.py", "nav.quality", ":material/rule:", ("statistician", "supervisor", "data_engineer"),
             "nav.section.quality"),
    PageSpec("fraud", "fraud.py", "nav.fraud", ":material/policy:", ("statistician", "supervisor"),
             "nav.section.quality"),
    PageSpec("editing", "editing.py", "nav.editing", ":material/edit_note:", ("statistician",), "nav.section.quality"),
)
ROLES_FOR = {p.key: p.roles for p in PAGES}


# Where the values of input widgets are kept between page runs (a plain session key,
# which Streamlit never cleans up, unlike a widget's own state).
KEPT = "_kept_widget_values"
NAV_PAGES = "_navigation_pages"
# Widget value kinds a page may set through st.session_state before the widget exists
# (buttons, uploads, editors and chart selections refuse that; they are never kept).
_SETTABLE_VALUE_TYPES = frozenset({"bool_value", "string_value", "double_value", "int_value",
                                   "string_array_value", "double_array_value", "int_array_value"})
_NEVER_KEPT = ("password",)  # a typed password must not linger in session state


def _input_widget_values() -> dict[str, Any]:
    """The current value of every keyed input widget, by key.

    Which keys belong to input widgets (and not to buttons or uploads) is known
    only to Streamlit's session state; if a Streamlit upgrade moves these
    attributes, nothing is kept (pages still work, settings are just not kept)
    and ``tests/test_app_review.py`` fails, so it is noticed.
    """
    from streamlit.runtime.state import get_session_state

    try:
        state = get_session_state()._state
        key_to_id, metadata = state._key_id_mapper.get_id_from_key, state._new_widget_state.widget_metadata
    except AttributeError:
        return {}
    values = {}
    for key in list(st.session_state.keys()):
        key = str(key)
        if key == KEPT or any(word in key for word in _NEVER_KEPT):
            continue
        widget = metadata.get(key_to_id(key, None) or "")
        if widget is None or widget.value_type not in _SETTABLE_VALUE_TYPES:
            continue
        value = st.session_state[key]
        if not isinstance(value, dict):  # a data editor's or a chart's selection state
            values[key] = value
    return values


LANGUAGE_DRAWN = "_language_drawn"  # the UI language of the previous run


def keep_widget_values() -> None:
    """Give every page back its settings after the user visits another page.

    Streamlit drops a widget's value at the end of the first run in which the widget
    is not drawn, so a page switch reset every setting of the page left. Called at the
    top of every run (main.py, before any widget): it copies the live input widgets'
    values aside and puts back those Streamlit dropped. A value that no longer fits
    its widget (an option gone) falls back to the widget's default.

    A reload starts a new session with nothing in it: a signed-in browser's settings are also
    kept on the server with its sign-in token, and the new session starts from them. The
    language is not taken from there but from the address (``keep_language_in_address``),
    which also serves the sign-in page.
    """
    kept = st.session_state.get(KEPT)
    if kept is None:
        kept = st.session_state[KEPT] = {k: v for k, v in _browser_settings().items() if k != "lang"}
    kept.update(_input_widget_values())
    # After a language switch every setting is set again through the Session State API, so
    # Streamlit sends it to the browser anew, labelled by the new language: a select box would
    # otherwise keep showing its option in the language it was picked in.
    language = st.session_state.get("lang")
    switched = st.session_state.get(LANGUAGE_DRAWN) not in (None, language)
    st.session_state[LANGUAGE_DRAWN] = language
    for key, value in kept.items():
        if key not in st.session_state or (switched and key != "lang"):
            st.session_state[key] = value
    _keep_browser_settings(kept)


def _browser_settings() -> dict[str, Any]:
    if not browser_bound():
        return {}
    from workbench.app.browser_session import tokens

    return tokens().settings(_session_cookie())


def _keep_browser_settings(values: dict[str, Any]) -> None:
    if browser_bound():
        from workbench.app.browser_session import tokens

        tokens().keep_settings(_session_cookie(), values)


def keep_language_in_address() -> None:
    """Write the UI language into the address (``?lang=en``), so a reload, a bookmark or a copied
    link opens in the language the user chose, signed in or not (a reload is a new session, which
    would otherwise start in the configured default)."""
    if st.query_params.get("lang") != lang():
        st.query_params["lang"] = lang()


def forget_widget_values(*keys: str) -> None:
    """Drop the kept and live values of *keys*, so those widgets start from their defaults
    (a setting that belonged to something the user has since left, e.g. another table)."""
    kept = st.session_state.get(KEPT, {})
    for key in keys:
        kept.pop(key, None)
        st.session_state.pop(key, None)


def linked_run(key: str, options: list[str]) -> str | None:
    """The run named in the page's link (``?run=ID``), chosen once in the select box *key*.

    Applied once per link, so the user can pick another run afterwards; a run that is
    not among *options* (unknown, or not in this list) is ignored.
    """
    wanted = st.query_params.get("run")
    if not wanted or wanted not in options:
        return None
    if st.session_state.get(f"_linked_{key}") != wanted:
        st.session_state[f"_linked_{key}"] = wanted
        st.session_state[key] = wanted
    return wanted


def init() -> None:
    """Initialise session state once per session (setdefault, never overwrite)."""
    asked = st.query_params.get("lang")  # set by the sign-in redirect
    st.session_state.setdefault("lang", asked if asked in LANGUAGE_NAMES else load_settings().ui.language)
    st.session_state.setdefault("user", None)


def lang() -> str:
    return st.session_state.get("lang") or "zh"


def t(key: str, **values: object) -> str:
    """The message *key* in the session's language."""
    return translate(key, lang(), **values)


def current_user() -> User | None:
    user = st.session_state.get("user")
    return user if isinstance(user, User) else None


def oidc_configured() -> bool:
    """True when .streamlit/secrets.toml has an [auth] section (production OIDC)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def adopt_oidc_user() -> None:
    """After st.login(), map the provider's verified e-mail to an account's roles."""
    if current_user() is not None or not oidc_configured():
        return
    try:
        logged_in = bool(st.user.is_logged_in)
    except Exception:
        logged_in = False
    if logged_in:
        user = user_for_email(str(st.user.get("email") or ""))
        if user is not None:
            st.session_state["user"] = user


def browser_bound() -> bool:
    """True in a running server, where a sign-in lives in the browser's cookie, not in the session.

    Only a script run without a server (AppTest, which stands a mock in for Streamlit's
    runtime) keeps the user in session state alone; every browser connection goes
    through a real runtime.
    """
    from streamlit import runtime

    return runtime.exists() and type(runtime.get_instance()) is runtime.Runtime


def _redirect(url: str) -> None:
    """Send the browser to *url* (Streamlit's own mechanism behind ``st.login``)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    msg = ForwardMsg()
    msg.auth_redirect.url = url
    ctx = get_script_run_ctx()
    if ctx is not None:
        ctx.enqueue(msg)


def _cookie(name: str) -> str | None:
    try:
        return st.context.cookies.get(name)
    except Exception:  # no client context (the connection just closed)
        return None


def _session_cookie() -> str | None:
    from workbench.app.browser_session import COOKIE

    return _cookie(COOKIE)


def browser_cookie() -> str | None:
    """This browser's own random cookie (set on its first page load), which sign-in grants are bound to."""
    from workbench.app.browser_session import BROWSER_COOKIE

    return _cookie(BROWSER_COOKIE)


def _oidc_user() -> User | None:
    if not oidc_configured():
        return None
    try:
        return user_for_email(str(st.user.get("email") or "")) if st.user.is_logged_in else None
    except Exception:  # not signed in through the provider
        return None


def _forget_user() -> None:
    st.session_state["user"] = None
    # The next user starts from the pages' defaults: neither the kept settings nor the
    # live ones (which the next run would keep again) survive, only the language.
    for key in [k for k in _input_widget_values() if k != "lang"]:
        del st.session_state[key]
    st.session_state.pop(KEPT, None)
    prefixes = ("jobs_", "catalog_", "quarantine_", "home_", "quality_", "fraud_", "editing_", "est_", "sae_", "sa_")
    for key in [k for k in st.session_state if str(k).startswith(prefixes)]:
        del st.session_state[key]


def bind_to_browser() -> None:
    """On every script run in a server: the user is whoever this connection's cookie signs in.

    A session reached by its id from a browser without the cookie (or with a revoked
    or expired token) has no user, and what the previous user left in the session's
    state is dropped.
    """
    if not browser_bound():
        return
    from workbench.app.browser_session import tokens

    user = tokens().user_for(_session_cookie()) or _oidc_user()
    if user is None and current_user() is not None:
        _forget_user()
    st.session_state["user"] = user


def sign_in(user: User) -> bool:
    """Sign *user* in; True when done now, False when the browser is on its way to fetch its cookie.

    In a server the grant is bound to this browser's own cookie (``browser_cookie``), which the
    caller has checked is there."""
    # The typed password must not linger in session state.
    st.session_state.pop("signin_password", None)
    if not browser_bound():
        st.session_state["user"] = user
        return True
    from workbench.app.browser_session import START_PATH, tokens

    # The language chosen on the sign-in page survives the page load that follows, and a link
    # opened signed out goes on to its page and run.
    page, run = requested_page()
    grant = tokens().issue_grant(user, browser=browser_cookie() or "")
    _redirect(f"{START_PATH}?grant={grant}&lang={lang()}&page={page}&run={run}")
    return False


def sign_out() -> None:
    """End the sign-in: the token is revoked on the server, then the browser drops its cookie
    (the page load that follows clears a dead token's cookie: browser_session's middleware)."""
    user = current_user()
    _forget_user()
    if browser_bound():
        from workbench.app.browser_session import guard, tokens

        tokens().revoke(_session_cookie())
        if user is not None:
            guard().audit.record("signout", user.username, client_address())
        _redirect("/")
    if oidc_configured():
        try:
            if st.user.is_logged_in:
                st.logout()
        except Exception:  # not signed in through the provider
            pass


def client_address() -> str | None:
    """The connecting client's address as the server saw it (the proxy's, behind one)."""
    try:
        address = st.context.ip_address
    except Exception:  # no client context
        address = None
    if not isinstance(address, str):  # AppTest's context stands in with a mock
        address = None
    # Streamlit reports a loopback client as None; in a server that is still a client.
    return address or ("loopback" if browser_bound() else None)


def require_role(*roles: str) -> User:
    """Stop rendering the page unless the signed-in user has one of *roles*."""
    user = current_user()
    if user is None:
        st.warning(t("guard.signin_needed"))
        st.stop()
    if not user.has_any(roles):
        st.error(t("guard.forbidden", roles=", ".join(t(f"role.{r}") for r in roles)))
        st.stop()
    return user


def role_names(user: User) -> str:
    return ", ".join(t(f"role.{r}") for r in user.roles)


def sidebar() -> None:
    """Language switch on every page; the user and a sign-out button once signed in."""
    with st.sidebar:
        st.radio(
            t("sidebar.language"),
            options=list(LANGUAGE_NAMES),
            format_func=LANGUAGE_NAMES.get,
            horizontal=True,
            key="lang",
        )
        user = current_user()
        if user is not None:
            # a display name written "中文 (English)" is said in the UI language
            st.caption(t("sidebar.signed_in_as", name=bilingual(user.name, lang()), roles=role_names(user)))
            st.button(t("sidebar.signout"), key="signout", on_click=sign_out, icon=":material/logout:")


def navigation_pages(user: User | None) -> dict[str, list]:
    """The pages this user may see, grouped by menu section (the sign-in page if none)."""
    if user is None:
        st.session_state.pop(NAV_PAGES, None)
        signin = str(PAGES_DIR / "signin.py")
        # Every page's address shows the sign-in too, so a link (``/runs?run=ID``) opened signed out
        # is not "page not found", and the sign-in goes on to it (see remember_requested_page).
        return {"": [st.Page(signin, title=t("nav.signin"), icon=":material/login:", url_path="signin", default=True),
                     *[st.Page(signin, title=t(spec.label), icon=spec.icon, url_path=spec.key) for spec in PAGES]]}
    grouped: dict[str, list] = {}
    by_key = {}
    first = True
    hidden = []
    for spec in PAGES:
        if not user.has_any(spec.roles):
            # Not in the menu, but its address still answers: the page's own role check says
            # in the UI language whose page it is (Streamlit would say "Page not found" in English).
            hidden.append(st.Page(str(PAGES_DIR / spec.file), title=t(spec.label), icon=spec.icon,
                                  url_path=spec.key, visibility="hidden"))
            continue
        by_key[spec.key] = st.Page(str(PAGES_DIR / spec.file), title=t(spec.label), icon=spec.icon,
                                   url_path=spec.key, default=first)
        grouped.setdefault(t(spec.section), []).append(by_key[spec.key])
        first = False
    if hidden:
        grouped.setdefault(next(iter(grouped), ""), []).extend(hidden)
    st.session_state[NAV_PAGES] = by_key  # for links between pages (page_for)
    return grouped


REQUESTED_PAGE = "_requested_page"


def remember_requested_page(url_path: str) -> None:
    """Signed out, on the page a link asked for: remember it (and its ``?run=``) for after sign-in."""
    run = st.query_params.get("run") or ""
    page = url_path if PAGE_PATH.fullmatch(url_path or "") and url_path != "signin" else ""
    st.session_state[REQUESTED_PAGE] = (page, run if RUN_LINK.fullmatch(run) else "")


def requested_page() -> tuple[str, str]:
    """(page url_path, run id) a signed-out visitor asked for; empty strings for none."""
    return st.session_state.get(REQUESTED_PAGE) or ("", "")


def page_for(key: str):
    """The navigation's page *key* if this user may open it, else None (also when a page
    runs on its own, outside the app's navigation, as in a page's AppTest)."""
    return (st.session_state.get(NAV_PAGES) or {}).get(key)
