"""Keyed pseudonyms (HMAC-SHA256) for personal identifiers.

Computed inside the engine with ``sha2`` on binary values (HMAC is two nested
hashes over the key XOR-ed with fixed pads), so no Python UDF runs over every
row and the cleartext never leaves the engine. ``pseudonym()`` in Python is the
reference the Spark expression is tested against.
"""

from __future__ import annotations

import hashlib
import hmac

from pyspark.sql import Column
from pyspark.sql import functions as F

from workbench.config import Settings, resolve_path
from workbench.keys import load_secret

KEY_ENV = "WORKBENCH_PSEUDONYM_KEY"
_BLOCK = 64  # SHA-256 block size in bytes


class PseudonymKeyError(RuntimeError):
    pass


def load_key(settings: Settings) -> bytes:
    """The key from WORKBENCH_PSEUDONYM_KEY, else from [privacy].key_file (created if missing)."""
    return load_secret(KEY_ENV, resolve_path(settings.privacy.key_file), what="pseudonym key",
                       error=PseudonymKeyError)


def normalise(value: str) -> str:
    return value.strip().upper()


def pseudonym(value: str | None, key: bytes) -> str | None:
    if value is None or not value.strip():
        return None
    return hmac.new(key, normalise(value).encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonym_col(col: Column, key: bytes) -> Column:
    """Spark column equal to ``pseudonym(value, key)`` for every row."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner_pad = bytes(b ^ 0x36 for b in key)
    outer_pad = bytes(b ^ 0x5C for b in key)
    text = F.upper(F.trim(col.cast("string")))
    inner = F.unhex(F.sha2(F.concat(F.unhex(F.lit(inner_pad.hex())), F.encode(text, "UTF-8")), 256))
    outer = F.sha2(F.concat(F.unhex(F.lit(outer_pad.hex())), inner), 256)
    return F.when(F.length(text) > 0, outer)
