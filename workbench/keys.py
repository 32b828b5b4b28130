"""Secret keys (pseudonyms, the audit chain): from an environment variable, else a key file.

A missing key file is created with a fresh random key, readable by its owner only. The file
is created with O_EXCL, so two processes starting at once cannot write two different keys
and each then use its own.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MIN_LENGTH = 16


def load_secret(env_var: str, key_file: str | Path, *, what: str, error: type[Exception]) -> bytes:
    """The key from *env_var*, else from *key_file* (created if missing); *error* if too short."""
    env = os.environ.get(env_var)
    if env:
        if len(env) < MIN_LENGTH:
            raise error(f"{env_var} is shorter than {MIN_LENGTH} characters; use a long random secret")
        return env.encode("utf-8")
    path = Path(key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32))
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_LENGTH:
        raise error(f"{path}: the {what} is shorter than {MIN_LENGTH} characters")
    return key.encode("ascii")
