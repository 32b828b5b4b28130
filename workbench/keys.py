"""Secret keys (pseudonyms, the audit chain): from an environment variable, else a key file.

A missing key file is created, when the caller allows it, with a fresh random key readable
by its owner only. The file is created with O_EXCL, so two processes starting at once cannot
write two different keys and each then use its own. A key file that its group or others may
read is refused: the key is what keeps a pseudonym from being recomputed from a name.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MIN_LENGTH = 16


def load_secret(env_var: str, key_file: str | Path, *, what: str, error: type[Exception],
                create: bool | str = True) -> bytes:
    """The key from *env_var*, else from *key_file*; *error* if too short or readable by
    others. A missing file is created when *create* is true; otherwise *create* (a string)
    says why it may not be, and *error* is raised with it."""
    env = os.environ.get(env_var)
    if env:
        if len(env) < MIN_LENGTH:
            raise error(f"{env_var} is shorter than {MIN_LENGTH} characters; use a long random secret")
        return env.encode("utf-8")
    path = Path(key_file)
    if not path.exists() and create is not True:
        raise error(f"{path}: the {what} file is missing and is not created anew: {create}")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32))
    mode = path.stat().st_mode
    if mode & 0o077:
        raise error(f"{path}: the {what} file may be read by others (mode {mode & 0o777:o}); "
                    f"make it its owner's only: chmod 600 {path}")
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_LENGTH:
        raise error(f"{path}: the {what} is shorter than {MIN_LENGTH} characters")
    return key.encode("ascii")
