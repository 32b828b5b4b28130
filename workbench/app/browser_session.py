"""Binding a signed-in Streamlit session to the browser that signed in.

A Streamlit session is resumed by its id alone (the browser sends it when it
reconnects), and the id is no secret: it travels in the page's WebSocket and
Streamlit logs it. So the sign-in is not kept in the session but in an HttpOnly
cookie holding a token from :class:`workbench.auth.SessionTokens`:

0. :class:`SessionBindingMiddleware` gives every browser a random :data:`BROWSER_COOKIE`
   on its first page load (HttpOnly: no script, and no other site, can read or set it);
1. the sign-in page checks the password (:class:`workbench.auth.SignInGuard`) and
   sends the browser to :data:`START_PATH` with a one-time grant bound to that
   browser's cookie;
2. that route swaps the grant for a token only for the browser the grant was issued
   to, sets the cookie and sends the browser back. A grant URL opened in another
   browser (an attacker's own grant, sent to a victim: login CSRF) signs nobody in;
3. the middleware turns the cookie of every WebSocket handshake into Streamlit's user
   identity (a trusted header), so Streamlit refuses to resume a session for a
   connection that does not carry the same live token;
4. each script run reads the user from the cookie again (``session.bind_to_browser``);
5. signing out revokes the token on the server (the sidebar's button, over the app's
   own connection); the middleware clears a dead token's cookie on the next page load.
   :data:`END_PATH` ends a session for a form or a script: by POST only, and only from
   the app's own origin, so a link or a form on another site signs nobody out.

One token store and one guard exist per server process, made on first use.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from workbench.auth import SessionTokens, SignInAudit, SignInGuard
from workbench.config import load_settings
from workbench.i18n import LANGUAGE_NAMES

COOKIE = "workbench_session"
# A random value per browser that sign-in grants are bound to. SameSite=Lax: a link from
# elsewhere (a mail) still carries it, so it is not replaced on the way in.
BROWSER_COOKIE = "workbench_browser"
# The header Streamlit copies into a session's identity (server.trustedUserHeaders).
# Only this middleware sets it; whatever a client sends under that name is dropped.
IDENTITY_HEADER = "x-workbench-session"
IDENTITY_KEY = "workbench_session"
START_PATH = "/workbench/session/start"
# What the sign-in may carry on to after its redirect: a page's url_path and a run id, nothing else.
PAGE_PATH = re.compile(r"[a-z][a-z_]{0,40}")
RUN_LINK = re.compile(r"r\d{8}t\d{6}_[0-9a-f]{8}")
END_PATH = "/workbench/session/end"

_lock = threading.Lock()
_tokens: SessionTokens | None = None
_guard: SignInGuard | None = None


def tokens() -> SessionTokens:
    global _tokens
    with _lock:
        if _tokens is None:
            _tokens = SessionTokens(load_settings().auth.session_hours)
        return _tokens


def guard() -> SignInGuard:
    global _guard
    with _lock:
        if _guard is None:
            settings = load_settings().auth
            _guard = SignInGuard(settings, SignInAudit(settings.audit_file))
        return _guard


def trusted_headers_option() -> str:
    """The JSON value of Streamlit's ``server.trustedUserHeaders`` this binding needs."""
    return '{"X-Workbench-Session": "%s"}' % IDENTITY_KEY


def cookie_from_headers(headers: list[tuple[bytes, bytes]], name: str = COOKIE) -> str | None:
    for header, value in headers:
        if header.lower() == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header carries no token
                continue
            if name in jar:
                return jar[name].value
    return None


def _cookie_header(name: str, value: str, secure: bool, samesite: str, max_age: int | None = None) -> bytes:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", f"SameSite={samesite}"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


def _sets_cookie(headers: list[tuple[bytes, bytes]], name: str) -> bool:
    return any(k.lower() == b"set-cookie" and v.startswith(f"{name}=".encode()) for k, v in headers)


class SessionBindingMiddleware:
    """Pure ASGI middleware: the session cookie's live-token digest becomes the identity header.

    No token, or a revoked or expired one, gives no header, the identity of an
    anonymous visitor, which never matches a signed-in session's. On plain HTTP
    responses it also gives a browser without one its :data:`BROWSER_COOKIE`, and
    clears a session cookie whose token is dead (signed out, expired, or from before a
    restart), unless the response itself sets a new one.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != IDENTITY_HEADER.encode()]
        presented = cookie_from_headers(headers)
        binding = tokens().binding(presented)
        if binding is not None:
            headers.append((IDENTITY_HEADER.encode(), binding.encode()))
        scope = dict(scope, headers=headers)
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = _secure_scope(scope)
        needs_browser = not cookie_from_headers(headers, BROWSER_COOKIE)
        dead_session = bool(presented) and binding is None

        async def send_with_cookies(message):
            if message["type"] == "http.response.start" and (needs_browser or dead_session):
                out = list(message.get("headers", []))
                if needs_browser and not _sets_cookie(out, BROWSER_COOKIE):
                    out.append((b"set-cookie", _cookie_header(BROWSER_COOKIE, secrets.token_urlsafe(32), secure,
                                                              "Lax")))
                if dead_session and not _sets_cookie(out, COOKIE):
                    out.append((b"set-cookie", _cookie_header(COOKIE, '""', secure, "Strict", max_age=0)))
                message = dict(message, headers=out)
            await send(message)

        await self.app(scope, receive, send_with_cookies)


def _secure_scope(scope) -> bool:
    # TLS ends at the reverse proxy in production; it says so in X-Forwarded-Proto.
    forwarded = dict((k.lower(), v) for k, v in scope.get("headers", [])).get(b"x-forwarded-proto", b"")
    return scope.get("scheme") == "https" or forwarded.lower() == b"https"


def _secure(request) -> bool:
    return _secure_scope(request.scope)


def same_origin(request) -> bool:
    """True when the request comes from a page of this app: its Origin (or, without one, its
    Referer) names this server's own scheme, host and port. A form or a script on another
    site carries that site's origin; a request that names none is refused too."""
    from urllib.parse import urlsplit

    claimed = request.headers.get("origin") or request.headers.get("referer") or ""
    parts = urlsplit(claimed)
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or ""
    return bool(parts.netloc) and parts.netloc.lower() == host.lower() \
        and parts.scheme == ("https" if _secure(request) else "http")


async def start_session(request):
    """Swap a one-time grant for a token in an HttpOnly cookie, then back to the app."""
    from starlette.responses import RedirectResponse

    query = parse_qs(request.url.query)
    # only the browser the grant was issued to (its own cookie) gets a token for it
    token = tokens().redeem_grant(query.get("grant", [""])[0], browser=request.cookies.get(BROWSER_COOKIE))
    # back to the app: to the page (and run) a link asked for before sign-in, else its first page;
    # only a page name and a run id pass, never an address of someone else's choosing
    from urllib.parse import urlencode

    lang, page, run = (query.get(name, [""])[0] for name in ("lang", "page", "run"))
    params = {"lang": lang} if lang in LANGUAGE_NAMES else {}
    if RUN_LINK.fullmatch(run):
        params["run"] = run
    target = f"/{page}" if PAGE_PATH.fullmatch(page) else "/"
    response = RedirectResponse(target + (f"?{urlencode(params)}" if params else ""), status_code=303)
    if token is not None:
        response.set_cookie(COOKIE, token, max_age=tokens().session_seconds, path="/", httponly=True,
                            samesite="strict", secure=_secure(request))
    return response


async def end_session(request):
    """Revoke the cookie's token on the server and clear the cookie: a POST from the app's own
    origin only (a link or a form on another site must not sign anyone out)."""
    from starlette.responses import PlainTextResponse, RedirectResponse

    if not same_origin(request):
        return PlainTextResponse("sign-out refused: not from this application's own pages", status_code=403)
    tokens().revoke(request.cookies.get(COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


def routes() -> list:
    from starlette.routing import Route

    return [Route(START_PATH, start_session, methods=["GET"]), Route(END_PATH, end_session, methods=["POST"])]


# ---- no secret in a log ------------------------------------------------------------
# Streamlit logs session ids ("Session with id ... is already connected"), and a
# session id is what a takeover starts from. Every log record of the server process
# passes through this factory, which replaces ids, tokens and grants by a short
# digest: lines can still be matched to each other, not replayed.
_SECRETS = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"  # session ids (uuid4)
    r"|(?<=grant=)[A-Za-z0-9_\-]+"  # sign-in grants in a URL
    # session tokens; not \b at the start: a token may begin with "-", and between a space and
    # "-" there is no word boundary (one token in 64 went to the log in clear)
    r"|(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{43}\.\d{10}\.[0-9a-f]{64}\b",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: f"<redacted:{SessionTokens.digest(m.group(0))[:8]}>", text)


def install_log_redaction() -> None:
    """Redact session ids, tokens and grants from every log record made from now on."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "workbench_redacts", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format is left alone
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    factory.workbench_redacts = True
    logging.setLogRecordFactory(factory)
