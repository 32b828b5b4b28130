"""Accounts and roles for the app.

Accounts live in ``conf/users.toml`` with argon2 password hashes (never plain text)::

    [users.stat]
    name = "示例统计员 (demo statistician)"
    roles = ["statistician"]
    password_hash = "$argon2id$v=19$..."
    email = "stat@example.gov.cn"    # optional: matches an OIDC sign-in to roles

Behind an identity provider (Streamlit's ``st.login``), the provider proves who the
user is and this file still says what they may do: the account whose ``email``
matches gets its roles. No Streamlit here, so the rules are testable alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import tomllib
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from workbench.config import REPO_ROOT, AuthSettings, resolve_path

ROLES = ("statistician", "researcher", "supervisor", "data_engineer")
USERS_FILE = REPO_ROOT / "conf" / "users.toml"

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so a wrong name costs as long as a
# wrong password and response times do not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-password")


class AuthError(ValueError):
    """conf/users.toml is malformed."""


@dataclass(frozen=True)
class User:
    username: str
    name: str
    roles: tuple[str, ...]
    email: str = ""

    def has_any(self, roles: tuple[str, ...] | list[str]) -> bool:
        return bool(set(self.roles) & set(roles))


@dataclass(frozen=True)
class _Account:
    user: User
    password_hash: str


def hash_password(password: str) -> str:
    """An argon2id hash for conf/users.toml (``python -m workbench.auth PASSWORD``)."""
    return _hasher.hash(password)


def users_file() -> Path:
    return Path(os.environ.get("WORKBENCH_USERS_FILE") or USERS_FILE)


def _load(path: Path | None = None) -> dict[str, _Account]:
    path = path or users_file()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise AuthError(f"accounts file not found: {path}") from None
    accounts = {}
    for username, entry in (data.get("users") or {}).items():
        roles = tuple(entry.get("roles") or ())
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise AuthError(f"{path}: user {username!r} has unknown role(s) {bad}; allowed: {', '.join(ROLES)}")
        pw = entry.get("password_hash", "")
        if pw and not pw.startswith("$argon2"):
            raise AuthError(f"{path}: user {username!r}: password_hash must be an argon2 hash, not plain text")
        accounts[username] = _Account(
            User(username=username, name=entry.get("name", username), roles=roles, email=entry.get("email", "")),
            pw,
        )
    return accounts


def load_users(path: Path | None = None) -> dict[str, User]:
    return {name: acc.user for name, acc in _load(path).items()}


def authenticate(username: str, password: str, path: Path | None = None) -> User | None:
    """The user when the password matches the stored argon2 hash, else ``None``."""
    account = _load(path).get((username or "").strip())
    stored = account.password_hash if account and account.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return account.user if account and account.password_hash else None


def user_for_email(email: str, path: Path | None = None) -> User | None:
    """The account an identity provider's verified e-mail address maps to."""
    if not email:
        return None
    for acc in _load(path).values():
        if acc.user.email and acc.user.email.lower() == email.lower():
            return acc.user
    return None


# ---- sign-in protection: lockout, audit, browser-bound session tokens ----------------
# The classes below hold no Streamlit: the app creates one of each per server process
# (workbench.app.browser_session) and the tests drive them directly.


@dataclass(frozen=True)
class SignInResult:
    """The outcome of one sign-in attempt.

    ``status`` is ``"ok"`` (``user`` set), ``"wrong"`` (bad name or password) or
    ``"locked"`` (refused without checking the password until ``locked_until``, a
    Unix time; the right password does not help while an account or client is locked).
    """

    status: str
    user: User | None = None
    locked_until: float | None = None


class SignInAudit:
    """An append-only JSON-lines record of sign-in events: who, from where, what happened.

    A user name is recorded only when it names an account: people type passwords
    into the name field, and a failed attempt must not write one to disk.
    """

    def __init__(self, path: str | Path):
        self.path = Path(resolve_path(str(path)))
        self._lock = threading.Lock()

    def record(self, event: str, account: str | None, client: str | None, **details: object) -> None:
        entry = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "event": event,
                 "account": account or "(unknown)", "client": client or "(unknown)", **details}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def entries(self) -> list[dict]:
        try:
            with self.path.open(encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        except FileNotFoundError:
            return []


class SignInGuard:
    """Password checks with a failure count per account and per client, and temporary lockouts.

    After ``max_account_failures`` wrong attempts on one account within
    ``failure_window_minutes`` the account is locked for ``lockout_minutes``; the same
    for a client address after ``max_client_failures``. Every attempt is audited.
    The counts live in this process: a restart of the app clears them.
    """

    def __init__(self, settings: AuthSettings, audit: SignInAudit, users_path: Path | None = None,
                 clock=time.time):
        self.settings = settings
        self.audit = audit
        self.users_path = users_path
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._locked_until: dict[tuple[str, str], float] = {}

    def _prune(self, key: tuple[str, str], now: float) -> deque[float]:
        window = self.settings.failure_window_minutes * 60
        times = self._failures[key]
        while times and times[0] <= now - window:
            times.popleft()
        return times

    def locked_until(self, key: tuple[str, str], now: float | None = None) -> float | None:
        now = self._clock() if now is None else now
        until = self._locked_until.get(key)
        return until if until is not None and until > now else None

    def attempt(self, username: str, password: str, client: str | None) -> SignInResult:
        now = self._clock()
        name = (username or "").strip()
        known = name in _load(self.users_path)
        account_key, client_key = ("account", name), ("client", client or "(unknown)")
        with self._lock:
            until = max(filter(None, (self.locked_until(account_key, now), self.locked_until(client_key, now))),
                        default=None)
        if until is not None:
            self.audit.record("signin_refused_locked", name if known else None, client,
                              locked_until=datetime.fromtimestamp(until, timezone.utc).isoformat(timespec="seconds"))
            return SignInResult("locked", locked_until=until)
        user = authenticate(name, password, self.users_path)
        if user is not None:
            with self._lock:
                self._failures.pop(account_key, None)
            self.audit.record("signin", user.username, client)
            return SignInResult("ok", user=user)
        locked: list[str] = []
        with self._lock:
            for key, limit in ((account_key, self.settings.max_account_failures),
                               (client_key, self.settings.max_client_failures)):
                times = self._prune(key, now)
                times.append(now)
                if len(times) >= limit:
                    self._locked_until[key] = now + self.settings.lockout_minutes * 60
                    times.clear()
                    locked.append(key[0])
        self.audit.record("signin_failed", name if known else None, client)
        for kind in locked:
            self.audit.record("lockout", name if known else None, client, scope=kind,
                              minutes=self.settings.lockout_minutes)
        if locked:
            return SignInResult("locked", locked_until=now + self.settings.lockout_minutes * 60)
        return SignInResult("wrong")


class SessionTokens:
    """Signed, expiring sign-in tokens kept in a browser cookie, revocable on the server.

    A token is ``<random>.<expiry>.<signature>``: 32 random bytes, the Unix time it
    expires, and an HMAC of both under a key that exists only in this process (a
    restart signs everyone out). The server keeps a digest of every live token, so
    signing out revokes it: a copy of the cookie replayed later finds nothing.
    A *grant* is a one-time code, valid for a minute, that the sign-in page hands the
    browser so it can fetch its token as an HttpOnly cookie. A grant is bound to the
    browser that signed in (its *browser* cookie, which only that browser holds), so a
    grant URL opened in any other browser signs nobody in: otherwise an attacker could
    sign a victim's browser in as the attacker (login CSRF) and read what they enter.
    """

    GRANT_SECONDS = 60

    def __init__(self, session_hours: int, users_path: Path | None = None, clock=time.time):
        self.session_seconds = session_hours * 3600
        self.users_path = users_path
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._live: dict[str, tuple[str, float]] = {}  # token digest -> (user name, expiry)
        self._grants: dict[str, tuple[str, float, str]] = {}  # grant digest -> (user name, expiry, browser digest)
        # token digest -> the pages' settings, so a reload (a new Streamlit session) of a signed-in
        # browser starts where it was; gone with the token, so it never outlives the sign-in
        self._settings: dict[str, dict] = {}

    @staticmethod
    def digest(value: str) -> str:
        """What the server keeps (and what binds a Streamlit session): never the token itself."""
        return hashlib.sha256(value.encode()).hexdigest()

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def issue_grant(self, user: User, *, browser: str) -> str:
        """A one-time grant for *user*, redeemable only by the browser holding the cookie value *browser*."""
        if not browser:
            raise ValueError("a sign-in grant needs the browser it is for")
        grant = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[self.digest(grant)] = (user.username, self._clock() + self.GRANT_SECONDS,
                                                self.digest(browser))
        return grant

    def redeem_grant(self, grant: str, *, browser: str | None) -> str | None:
        """A new token for a grant, once; ``None`` for an unknown, used or expired grant, or one
        presented by a browser other than the one it was issued to (*browser*: its cookie value)."""
        with self._lock:
            entry = self._grants.pop(self.digest(grant or ""), None)
        if entry is None or entry[1] <= self._clock() or not browser \
                or not hmac.compare_digest(entry[2], self.digest(browser)):
            return None
        expires = int(self._clock() + self.session_seconds)
        body = f"{secrets.token_urlsafe(32)}.{expires}"
        token = f"{body}.{self._sign(body)}"
        with self._lock:
            self._live[self.digest(token)] = (entry[0], float(expires))
        return token

    def _valid(self, token: str | None) -> tuple[str, float] | None:
        if not token or token.count(".") != 2:
            return None
        body, _, signature = token.rpartition(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        with self._lock:
            entry = self._live.get(self.digest(token))
            if entry is not None and entry[1] <= self._clock():
                del self._live[self.digest(token)]
                self._settings.pop(self.digest(token), None)
                entry = None
        return entry

    def binding(self, token: str | None) -> str | None:
        """The digest a live token binds a session to, or ``None`` for no or a dead token."""
        return self.digest(token) if token and self._valid(token) else None

    def user_for(self, token: str | None) -> User | None:
        """The account a live token signs in, read afresh (a removed account signs nobody in)."""
        entry = self._valid(token)
        return None if entry is None else load_users(self.users_path).get(entry[0])

    def revoke(self, token: str | None) -> bool:
        with self._lock:
            self._settings.pop(self.digest(token or ""), None)
            return self._live.pop(self.digest(token or ""), None) is not None

    def keep_settings(self, token: str | None, values: dict) -> None:
        """Keep the pages' *values* with a live *token* (nothing for a dead one)."""
        if self._valid(token) is not None:
            with self._lock:
                self._settings[self.digest(token)] = dict(values)

    def settings(self, token: str | None) -> dict:
        """The settings kept with a live *token* ({} for none or a dead token)."""
        if self._valid(token) is None:
            return {}
        with self._lock:
            return dict(self._settings.get(self.digest(token), {}))


if __name__ == "__main__":  # pragma: no cover - a helper for administrators
    import sys

    print(hash_password(sys.argv[1]))
