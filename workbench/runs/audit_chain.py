"""The audit trail as a keyed hash chain, and digests that bind a release to it.

Every entry of ``workbench.audit`` carries its position (``seq``), the hash of the
entry before it (``prev_hash``) and its own hash (``entry_hash``): an HMAC-SHA256,
under the audit key, of its fields and ``prev_hash``. Editing, inserting, deleting or
reordering an entry breaks the chain at that entry, and without the key nobody can
compute a chain that verifies. The key is held by the workbench (the app, the API),
not by the lake: ``WORKBENCH_AUDIT_KEY``, else ``[privacy].audit_key_file`` (created
with a random key on first use, mode 600, git-ignored like the pseudonym key).

A chain cut short (its last commits and files deleted) still verifies on its own, so every
append also anchors the chain's head, MAC'd, in ``<lake root>/_audit_head.json``, and every
read refuses a chain that does not extend it.

The ``release`` entry of a run also carries *evidence*: the digest of its row in
``workbench.releases`` and of the vintage's published rows, so a record or a row
appended by hand has no entry that vouches for it.

Everything here reads through delta-rs, without the engine, so the API verifies
with the same code the review functions use before they append.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable, Mapping
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from deltalake import DeltaTable

from workbench.clock import stored_instant
from workbench.config import Settings, resolve_path
from workbench.keys import load_secret
from workbench.lake import Lake

AUDIT = "workbench.audit"
KEY_ENV = "WORKBENCH_AUDIT_KEY"
GENESIS = "0" * 64
# The fields an entry's hash covers, in this order; prev_hash is appended.
HASHED_FIELDS = ("seq", "audit_id", "run_id", "at", "user", "action", "before", "after", "comment", "evidence")
AUDIT_SCHEMA = pa.schema([
    ("audit_id", pa.string()), ("run_id", pa.string()), ("at", pa.timestamp("us", tz="UTC")),
    ("user", pa.string()), ("action", pa.string()), ("before", pa.string()), ("after", pa.string()),
    ("comment", pa.string()), ("seq", pa.int64()), ("evidence", pa.string()), ("prev_hash", pa.string()),
    ("entry_hash", pa.string()),
])


class AuditKeyError(RuntimeError):
    """The audit key is missing or too short."""


class AuditChainError(RuntimeError):
    """The audit trail does not verify; the message names the first break."""


def audit_key(settings: Settings) -> bytes:
    """The key from WORKBENCH_AUDIT_KEY, else from [privacy].audit_key_file (created if missing)."""
    return load_secret(KEY_ENV, resolve_path(settings.privacy.audit_key_file), what="audit key",
                       error=AuditKeyError)


def _micros(value: Any) -> int | None:
    """A timestamp as microseconds since the epoch (UTC); naive values are UTC."""
    if value is None:
        return None
    delta = stored_instant(value) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _plain(value: Any) -> Any:
    """A value in a form that survives a Delta round trip unchanged, for hashing."""
    if isinstance(value, datetime):
        return {"ts": _micros(value)}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, float):
        return {"float": "nan" if math.isnan(value) else repr(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def canonical(values: Iterable[Any]) -> bytes:
    return json.dumps([_plain(v) for v in values], ensure_ascii=False, separators=(",", ":"),
                      default=str).encode("utf-8")


def entry_hash(key: bytes, entry: Mapping[str, Any], prev_hash: str) -> str:
    return hmac.new(key, canonical([*(entry[f] for f in HASHED_FIELDS), prev_hash]), hashlib.sha256).hexdigest()


def record_digest(record: Mapping[str, Any], columns: Iterable[str]) -> str:
    """SHA-256 of one record's *columns* (a row of workbench.releases)."""
    return hashlib.sha256(canonical(record[c] for c in columns)).hexdigest()


def rows_digest(table: pa.Table) -> str:
    """SHA-256 of a table's rows, independent of row and column order."""
    names = sorted(table.column_names)
    lines = sorted(canonical(row[n] for n in names) for row in table.select(names).to_pylist())
    digest = hashlib.sha256(canonical(names))
    for line in lines:
        digest.update(hashlib.sha256(line).digest())
    return digest.hexdigest()


def vintage_rows(lake: Lake, series: str, release_id: str) -> pa.Table:
    """The rows of ``release.<series>`` that belong to one release, every column, via delta-rs."""
    name = f"release.{series}"
    if not lake.exists(name):
        raise LookupError(f"{name} does not exist")
    return DeltaTable(lake.path(name)).to_pyarrow_dataset().to_table(filter=pc.field("release_id") == release_id)


@dataclass(frozen=True)
class ChainHead:
    """How long the verified chain is and the hash of its last entry."""
    length: int
    entry_hash: str


def _rewrite_in_log(path: str) -> int | None:
    """The first commit of an append-only table that removed data (a rewrite), if any.

    Only the JSON commits still in the log are seen; Lake and Delta's own flag refuse
    such a commit, so one here was made around them.
    """
    log = os.path.join(path, "_delta_log")
    if "://" in path or not os.path.isdir(log):
        return None
    seen = _COMMITS.setdefault(os.path.realpath(log), {})
    for name in sorted(os.listdir(log)):
        if not name.endswith(".json") or not name[:-5].isdigit():
            continue
        stat = os.stat(os.path.join(log, name))
        signature = (stat.st_size, stat.st_mtime_ns)
        if name not in seen or seen[name][0] != signature:
            removes = False
            with open(os.path.join(log, name), encoding="utf-8") as handle:
                for line in handle:
                    if '"remove"' in line and json.loads(line).get("remove", {}).get("dataChange", True):
                        removes = True
            seen[name] = (signature, removes)
        if seen[name][1]:
            return int(name[:-5])
    return None


def refuse_rewritten(lake: Lake, name: str) -> None:
    """AuditChainError when a commit in the log of the append-only record *name* removed rows
    (a delta-rs ``restore``, a delete or an overwrite made around the lake and its flag)."""
    rewritten = _rewrite_in_log(lake.path(name))
    if rewritten is not None:
        raise AuditChainError(f"{name} was rewritten at Delta version {rewritten} (a commit removed rows, as a "
                              "restore, delete or overwrite does); it is append-only and no longer verifies")


# Per process, the audit's data files already read, by path and (size, mtime): a file is
# immutable once written, so later reads open only the new ones (one file per entry).
_FILES: dict[str, dict[str, tuple[tuple[int, int], pa.Table]]] = {}
_FILES_LOCK = threading.Lock()
_COMMITS: dict[str, dict[str, tuple[tuple[int, int], bool]]] = {}  # log folder -> commit -> removes data?
_VERIFIED: dict[tuple[str, str], tuple[tuple, list[dict[str, Any]]]] = {}  # (audit, key) -> (files, rows)


def _read_audit(path: str) -> tuple[pa.Table, tuple | None]:
    """Every row of the audit, checking each data file against what the Delta log recorded,
    and a fingerprint of the files read (None when they cannot be fingerprinted)."""
    dt = DeltaTable(path)
    if "://" in path:
        return dt.to_pyarrow_table(), None
    schema = pa.schema(dt.schema().to_arrow())
    actions = pa.table(dt.get_add_actions(flatten=True)).select(["path", "size_bytes", "num_records"]).to_pylist()
    with _FILES_LOCK:
        cache = _FILES.get(os.path.realpath(path), {})
        fresh, tables, logged = {}, [], 0
        for action in actions:
            local = os.path.join(path, unquote(action["path"]))
            stat = os.stat(local)
            if stat.st_size != action["size_bytes"]:
                raise AuditChainError(f"{AUDIT}: data file {action['path']} has {stat.st_size} bytes where the "
                                      f"Delta log recorded {action['size_bytes']}: it was changed by hand")
            signature = (stat.st_size, stat.st_mtime_ns)
            hit = cache.get(local)
            if hit is None or hit[0] != signature:
                hit = (signature, pads.dataset(local, schema=schema, format="parquet").to_table())
            fresh[local] = hit
            tables.append(hit[1])
            logged = None if logged is None or action["num_records"] is None else logged + action["num_records"]
        _FILES[os.path.realpath(path)] = fresh
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    if logged is not None and logged != table.num_rows:
        raise AuditChainError(f"{AUDIT}: its data files hold {table.num_rows} entries where its Delta log recorded "
                              f"{logged}: a file was changed by hand")
    return table, (dt.version(), tuple((local, sig) for local, (sig, _) in fresh.items()))


def read_chain(lake: Lake, key: bytes | None = None) -> list[dict[str, Any]]:
    """Every audit entry in chain order, after verifying the whole chain.

    Raises AuditChainError naming the first entry that is missing, out of place,
    edited or not written with the audit key.
    """
    key = key if key is not None else audit_key(lake.settings)
    # The anchored head is read before the chain: an append between the two reads then only
    # makes the chain longer than the head, never shorter.
    anchored = _anchored_head(lake, key)
    if not lake.exists(AUDIT):
        check_extends([], anchored, HEAD_ANCHOR)
        return []
    path = lake.path(AUDIT)
    try:
        table, fingerprint = _read_audit(path)
    except AuditChainError:
        raise
    except Exception as exc:  # delta-rs and Arrow raise many kinds
        raise AuditChainError(f"{AUDIT} at {path} cannot be read as its Delta log describes it (a file was "
                              f"changed or removed by hand): {str(exc).splitlines()[0]}") from exc
    missing = [c for c in ("seq", "prev_hash", "entry_hash") if c not in table.column_names]
    if missing:
        raise AuditChainError(f"{AUDIT} at {path} has no column(s) {missing}: it was written before the audit "
                              "became a hash chain (or by hand) and cannot be verified; rebuild the lake's records")
    refuse_rewritten(lake, AUDIT)
    tag = (os.path.realpath(path), hashlib.sha256(key).hexdigest())
    cached = _VERIFIED.get(tag)
    if fingerprint is not None and cached is not None and cached[0] == fingerprint:
        check_extends(cached[1], anchored, HEAD_ANCHOR)
        return [dict(r) for r in cached[1]]  # the same files, already verified with this key
    rows = table.combine_chunks().to_pylist()
    if any(r["seq"] is None for r in rows):
        bad = next(r for r in rows if r["seq"] is None)
        raise AuditChainError(f"{AUDIT}: entry {bad['audit_id']} (run {bad['run_id']}) has no position in the "
                              "chain: it was appended outside the workbench")
    rows.sort(key=lambda r: r["seq"])
    prev = GENESIS
    for i, row in enumerate(rows):
        where = f"{AUDIT} entry {i} ({row['action']} of run {row['run_id']} by {row['user']}, id {row['audit_id']})"
        if row["seq"] != i:
            raise AuditChainError(
                f"{AUDIT}: entry {i} is missing (the next one is entry {row['seq']}): an entry was deleted"
                if row["seq"] > i else f"{where}: two entries claim position {row['seq']}: one was inserted")
        if row["prev_hash"] != prev:
            raise AuditChainError(f"{where} does not follow entry {i - 1}: an entry before it was deleted, "
                                  "replaced or reordered")
        if not hmac.compare_digest(row["entry_hash"] or "", entry_hash(key, row, prev)):
            raise AuditChainError(f"{where} was edited or not written by the workbench: its hash does not match")
        prev = row["entry_hash"]
    check_extends(rows, anchored, HEAD_ANCHOR)
    if fingerprint is not None:
        _VERIFIED[tag] = (fingerprint, [dict(r) for r in rows])
    return rows


def head(rows: list[dict[str, Any]]) -> ChainHead:
    return ChainHead(len(rows), rows[-1]["entry_hash"] if rows else GENESIS)


def check_extends(rows: list[dict[str, Any]], seen: ChainHead, source: str = "when last read") -> None:
    """Refuse a verified chain that does not contain the head seen earlier (entries were cut off)."""
    if seen.length == 0:
        return
    if len(rows) < seen.length or rows[seen.length - 1]["entry_hash"] != seen.entry_hash:
        raise AuditChainError(f"{AUDIT} lost entries: it held {seen.length} verified entries {source} and "
                              f"now holds {len(rows)} that do not extend them (entries were cut off the end)")


# ---- the chain's head, anchored outside the table it protects --------------------------
# Cutting the last commits (and their files) off workbench.audit leaves a shorter chain that
# verifies: a withdrawal undone. Every append therefore also writes the new head, MAC'd with
# the audit key, to a file beside the tables; a reader refuses a chain that does not extend it.
# Whoever can write the lake can still put back an older head file they kept: the anchor
# catches a cut, not a replay (keep a copy of the head elsewhere for that).
HEAD_FILE = "_audit_head.json"
HEAD_ANCHOR = f"by the head anchored in {HEAD_FILE}"


def _head_path(lake: Lake) -> str | None:
    return None if "://" in lake.root else os.path.join(lake.root, HEAD_FILE)


def _head_mac(key: bytes, seen: ChainHead) -> str:
    return hmac.new(key, f"workbench.audit.head:{seen.length}:{seen.entry_hash}".encode("ascii"),
                    hashlib.sha256).hexdigest()


def anchor_head(lake: Lake, key: bytes, rows: list[dict[str, Any]]) -> None:
    """Write the head of the verified chain *rows* (the caller holds the audit lock), atomically."""
    path = _head_path(lake)
    if path is None:  # an object store: no atomic rename; the API's memory of the head remains
        return
    seen = head(rows)
    text = json.dumps({"length": seen.length, "entry_hash": seen.entry_hash, "mac": _head_mac(key, seen)})
    partial = f"{path}.{os.getpid()}.{threading.get_ident()}.partial"
    with open(partial, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _anchored_head(lake: Lake, key: bytes) -> ChainHead:
    """The head last anchored (length 0 if the lake has none yet); AuditChainError if it is forged."""
    path = _head_path(lake)
    if path is None:
        return ChainHead(0, GENESIS)
    try:
        with open(path, encoding="ascii") as handle:
            data = json.load(handle)
        seen, mac = ChainHead(int(data["length"]), str(data["entry_hash"])), str(data["mac"])
    except FileNotFoundError:
        if lake.exists(AUDIT) and DeltaTable(lake.path(AUDIT)).to_pyarrow_dataset().count_rows() > 0:
            raise AuditChainError(f"{AUDIT} has entries but the lake has no anchored head ({path}): the file was "
                                  "deleted (which hides entries cut off the end), or the trail was written before "
                                  "heads were anchored; rebuild the lake's records") from None
        return ChainHead(0, GENESIS)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditChainError(f"the audit head {path} cannot be read: {exc}") from exc
    if not hmac.compare_digest(mac, _head_mac(key, seen)):
        raise AuditChainError(f"the audit head {path} was not written by the workbench (its MAC does not match)")
    return seen


def new_entry(key: bytes, previous: list[dict[str, Any]], *, audit_id: str, run_id: str, at: datetime, user: str,
              action: str, before: str | None, after: str, comment: str,
              evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    """The next entry after the verified *previous* entries, with its hash."""
    entry = {"audit_id": audit_id, "run_id": run_id, "at": at, "user": user, "action": action, "before": before,
             "after": after, "comment": comment, "seq": len(previous),
             "evidence": json.dumps(evidence, sort_keys=True, ensure_ascii=False) if evidence is not None else None}
    prev = previous[-1]["entry_hash"] if previous else GENESIS
    return {**entry, "prev_hash": prev, "entry_hash": entry_hash(key, entry, prev)}
