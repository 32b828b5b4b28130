"""Keyed pseudonyms (HMAC-SHA256) for personal identifiers.

Computed inside the engine with ``sha2`` on binary values (HMAC is two nested
hashes over the key XOR-ed with fixed pads), so no Python UDF runs over every
row and the cleartext never leaves the engine. ``pseudonym()`` in Python is the
reference the Spark expression is tested against.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from pyspark.sql import Column
from pyspark.sql import functions as F

from workbench.config import Settings, resolve_path
from workbench.keys import load_secret
from workbench.lake import Lake

KEY_ENV = "WORKBENCH_PSEUDONYM_KEY"
_BLOCK = 64  # SHA-256 block size in bytes


class PseudonymKeyError(RuntimeError):
    pass


# The lake keeps a fingerprint of the key its pseudonyms were made with: an HMAC of a fixed
# label under the key, which says nothing about the key but changes with it. A key lost and
# made anew would give every person a new pseudonym and cut every link to earlier data.
FINGERPRINT_FILE = "_pseudonym_key_fingerprint"
_FINGERPRINT_LABEL = b"workbench pseudonym key fingerprint v1"


def key_fingerprint(key: bytes) -> str:
    return hmac.new(key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


def _pseudonymised_tables(lake: Lake) -> list[str]:
    """Silver tables holding pseudonyms (made before the lake recorded a fingerprint)."""
    return [t for t in lake.table_names() if t.startswith("silver.")
            and any(c.endswith("_pseudonym") for c in lake.arrow_schema(t).names)]


def load_key(settings: Settings, lake: Lake) -> bytes:
    """The key from WORKBENCH_PSEUDONYM_KEY, else from [privacy].key_file, checked against the
    fingerprint *lake* recorded. A missing key file is created only while the lake holds no
    pseudonyms; the first key used on a lake is recorded as its own."""
    path = os.path.join(lake.root, FINGERPRINT_FILE)
    recorded = open(path, encoding="ascii").read().strip() if os.path.exists(path) else None
    holding = [] if recorded else _pseudonymised_tables(lake)
    key_file = resolve_path(settings.privacy.key_file)
    create: bool | str = True
    if recorded or holding:
        create = (f"the lake at {lake.root} holds pseudonyms made with the lost key "
                  f"({', '.join(holding) or 'its fingerprint: ' + FINGERPRINT_FILE}); a new key would give every "
                  f"person a new pseudonym. Restore the key file from its backup (or set {KEY_ENV})")
    key = load_secret(KEY_ENV, key_file, what="pseudonym key", error=PseudonymKeyError, create=create)
    fingerprint = key_fingerprint(key)
    if recorded is None:
        try:
            with open(path, "x", encoding="ascii") as fh:  # two jobs at once: the first records it
                fh.write(fingerprint + "\n")
        except FileExistsError:
            recorded = open(path, encoding="ascii").read().strip()
    if recorded is not None and recorded != fingerprint:
        raise PseudonymKeyError(
            f"the pseudonym key ({KEY_ENV if os.environ.get(KEY_ENV) else key_file}) is not the key the lake at "
            f"{lake.root} was pseudonymised with (fingerprint in {FINGERPRINT_FILE}); with it every person would "
            "get a new pseudonym. Use the lake's key (restore it from its backup)")
    return key


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
