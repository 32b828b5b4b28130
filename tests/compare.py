"""Comparing documents that carry floats: the same structure, strings and integers exactly,
floats to a relative tolerance (a float computed in parallel threads, by DuckDB inside Splink
for instance, differs from run to run in its last bits)."""

from __future__ import annotations

import math


def first_difference(a, b, rtol: float, atol: float = 0.0, where: str = "") -> str | None:
    """Where two JSON-like values first differ beyond the tolerance, or None."""
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        if isinstance(a, dict) and isinstance(b, dict):
            if set(a) != set(b):
                return f"{where or '/'}: keys {sorted(set(a) ^ set(b))} on one side only"
            for key in a:
                found = first_difference(a[key], b[key], rtol, atol, f"{where}/{key}")
                if found:
                    return found
            return None
        if isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                return f"{where or '/'}: {len(a)} vs {len(b)} items"
            for i, (x, y) in enumerate(zip(a, b)):
                found = first_difference(x, y, rtol, atol, f"{where}/{i}")
                if found:
                    return found
            return None
        return None if a == b and type(a) is type(b) else f"{where or '/'}: {a!r} vs {b!r}"
    if isinstance(a, int) and isinstance(b, int):
        return None if a == b else f"{where or '/'}: {a} vs {b}"
    return None if math.isclose(a, b, rel_tol=rtol, abs_tol=atol) else f"{where or '/'}: {a!r} vs {b!r}"


# ---- content fingerprints of lake tables ---------------------------------------------------

def is_run_lineage(column: str) -> bool:
    """Lineage that names the job run or the moment it wrote (``_job_run_id``, ``_loaded_at``,
    ``_silver_updated_at``, the linkage's ``linked_run_id`` and ``trained_run_id``, a model's
    ``saved_at``, a quality build's ``batch_id``, :data:`RUN_LINEAGE`): different on any two
    runs by construction.
    Data columns that end in ``_at`` (``scraped_at``) are data."""
    return (column.endswith("run_id") or (column.startswith("_") and column.endswith("_at"))
            or column in RUN_LINEAGE)


# Columns a job or rules run stamps with its own id or clock: a model's save time, a quality
# build's batch and the edits it logged, when rules were evaluated.
RUN_LINEAGE = ("saved_at", "batch_id", "edit_id", "edited_at", "evaluated_at")


def is_pseudonym(column: str) -> bool:
    """A keyed pseudonym: its values depend on the key, which every test session makes anew."""
    return column.endswith("_pseudonym")


# string columns holding a JSON document with floats (Splink's trained model): DuckDB sums in
# two threads inside Splink, so its numbers vary in their last bits from one training to the next
JSON_DOCUMENTS = ("model_json",)
FINGERPRINT_RTOL = 1e-9  # floats: relative to the column's sum of absolute values


def _row_weights(keys: list[str]):
    import hashlib

    import numpy as np

    return np.array([int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big") / 2 ** 64
                     for k in keys])


def _rounded_document(text):
    import json

    def walk(v):
        if isinstance(v, float):
            return float(f"{v:.6g}")
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return None if text is None else json.dumps(walk(json.loads(text)), sort_keys=True)


def table_fingerprint(table) -> dict:
    """What a table holds, independent of row order, run lineage and the pseudonym key.

    * ``schema``: every column and its Arrow type;
    * ``rows``: the row count; ``exact``: SHA-256 of the sorted rows of every column compared
      exactly (text, integers, dates, booleans), so any changed, added or lost value shows;
    * ``floats``: per float column, the count of values, their sum, the sum of absolute
      values, and the sum weighted by a hash of each row's exact columns (ties a value to its
      row), compared to :data:`FINGERPRINT_RTOL` of the sum of absolute values: the engine
      sums in partitions, so the last bits of a sum depend on their order;
    * ``pseudonyms``: per pseudonym column, its distinct and missing values (the values
      themselves depend on the session's key);
    * a JSON document column (:data:`JSON_DOCUMENTS`) enters the exact hash with its numbers
      to six significant digits.
    """
    import hashlib

    import numpy as np
    import pandas as pd

    schema = [[f.name, str(f.type)] for f in table.schema]
    df = table.to_pandas()
    df = df.drop(columns=[c for c in df.columns if is_run_lineage(c)])
    pseudonyms = {c: [int(df[c].nunique()), int(df[c].isna().sum())] for c in df.columns if is_pseudonym(c)}
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c]) and not is_pseudonym(c)]
    exact = [c for c in df.columns if c not in floats and not is_pseudonym(c)]
    shown = df[exact].copy()
    for c in exact:
        shown[c] = (df[c].map(_rounded_document) if c in JSON_DOCUMENTS
                    else df[c].map(lambda v: "\\N" if v is None or (isinstance(v, float) and np.isnan(v)) else repr(v)))
    keys = ["\x1f".join(row) for row in shown.itertuples(index=False, name=None)] if exact else [""] * len(df)
    digest = hashlib.sha256("\x1e".join(sorted(keys)).encode()).hexdigest()
    weights = _row_weights(keys)
    numbers = {}
    for c in floats:
        v = df[c].to_numpy(dtype=float)
        ok = ~np.isnan(v)
        numbers[c] = [int(ok.sum()), float(v[ok].sum()), float(np.abs(v[ok]).sum()), float((v[ok] * weights[ok]).sum())]
    return {"schema": schema, "rows": len(df), "exact": digest, "floats": numbers, "pseudonyms": pseudonyms}


def fingerprint_differences(name: str, want: dict, got: dict) -> list[str]:
    """Where *got* (a :func:`table_fingerprint`) differs from *want* beyond the tolerance."""
    found = []
    for part in ("schema", "rows", "exact", "pseudonyms"):
        if want.get(part) != got.get(part):
            found.append(f"{name}: {part} differs: {str(want.get(part))[:300]} vs {str(got.get(part))[:300]}")
    if set(want["floats"]) != set(got["floats"]):
        found.append(f"{name}: float columns {sorted(want['floats'])} vs {sorted(got['floats'])}")
    for c in set(want["floats"]) & set(got["floats"]):
        (n1, s1, a1, w1), (n2, s2, a2, w2) = want["floats"][c], got["floats"][c]
        scale = max(a1, a2, 1e-300) * FINGERPRINT_RTOL
        if n1 != n2 or abs(s1 - s2) > scale or abs(a1 - a2) > scale or abs(w1 - w2) > scale:
            found.append(f"{name}.{c}: {n1} values summing {s1!r} (weighted {w1!r}) vs {n2} summing {s2!r} "
                         f"(weighted {w2!r})")
    return found
