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
