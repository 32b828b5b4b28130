"""The manifest: every file written, with source, period, rows, sha256 and the
dirt injected into it, plus totals and where the truth is."""

from __future__ import annotations

import json
import os
from collections import Counter


class Manifest:
    def __init__(self, out: str, scale: str, seed: int):
        self.out = out
        self.scale = scale
        self.seed = seed
        self.files: list[dict] = []
        self.truth: dict[str, str] = {}
        self.notes: dict[str, object] = {}

    def add(self, path: str, source: str, period: str, fmt: str, rows: int, sha256: str,
            errors: Counter | dict | None = None, **extra: object) -> dict:
        entry = {"path": os.path.relpath(path, self.out).replace(os.sep, "/"), "source": source,
                 "period": period, "format": fmt, "rows": int(rows), "sha256": sha256,
                 "errors": {k: int(v) for k, v in sorted((errors or {}).items()) if v}}
        entry.update(extra)
        self.files.append(entry)
        return entry

    def to_dict(self, time_span: tuple[str, str], seconds: float) -> dict:
        totals: Counter = Counter()
        by_source: dict[str, Counter] = {}
        for f in self.files:
            totals.update(f["errors"])
            by_source.setdefault(f["source"], Counter()).update(f["errors"])
        return {
            "generator": "workbench.demo", "scale": self.scale, "seed": self.seed,
            "out": os.path.abspath(self.out), "time_span": {"from": time_span[0], "to": time_span[1]},
            "deliveries": "deliveries", "truth": self.truth,
            "files": sorted(self.files, key=lambda f: f["path"]),
            "errors_total": dict(sorted(totals.items())),
            "errors_by_source": {s: dict(sorted(c.items())) for s, c in sorted(by_source.items())},
            "rows_by_source": _rows_by_source(self.files), "notes": self.notes,
            "seconds": round(seconds, 2),
        }

    def write(self, manifest: dict) -> None:
        with open(os.path.join(self.out, "manifest.json"), "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, ensure_ascii=False, indent=1)


def _rows_by_source(files: list[dict]) -> dict[str, int]:
    out: Counter = Counter()
    for f in files:
        out[f["source"]] += f["rows"]
    return dict(sorted(out.items()))
