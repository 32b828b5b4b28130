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

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from workbench.config import REPO_ROOT

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


if __name__ == "__main__":  # pragma: no cover - a helper for administrators
    import sys

    print(hash_password(sys.argv[1]))
