"""A shorter period of a generated demo: the same deliveries, only those of chosen months.

For runs that need every job and every source but not nine years of them (the Spark cluster
parity suite in CI; a quick look at a new machine). The deliveries are copies of the full
demo's, byte for byte the same, dirt and all; the manifest lists only them, with the period
it was cut to. Copies, not hard links: bronze refuses a delivered file with a second name,
since that name may lie outside the delivery folder. The hidden truth is never delivered, so
it is the full demo's, hard-linked (copied where the file system cannot link).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Period:
    """Months *first* to *last* inclusive ('YYYY-MM')."""

    first: str
    last: str

    def __post_init__(self) -> None:
        for label in (self.first, self.last):
            if not MONTH.match(label):
                raise ValueError(f"demo subset: {label!r} is not a month (YYYY-MM)")
        if self.first > self.last:
            raise ValueError(f"demo subset: {self.first} is after {self.last}")

    def holds(self, period: str) -> bool:
        """A delivery's period: a month inside, or a year ('YYYY') that overlaps the months."""
        if len(period) == 4:
            return self.first[:4] <= period <= self.last[:4]
        return self.first <= period <= self.last


def subset(source: str | os.PathLike, out: str | os.PathLike, period: Period) -> dict:
    """Write the deliveries of *period* from the demo at *source* into *out*; return its manifest."""
    source, out = Path(source), Path(out)
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"demo subset: {out} is not empty")
    kept = [f for f in manifest["files"] if period.holds(f["period"])]
    if not kept:
        raise ValueError(f"demo subset: no delivery of {source} falls in {period.first}..{period.last}")
    for relative in [f["path"] for f in kept]:
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, out / relative)
    for relative in manifest["truth"].values():
        _link(source / relative, out / relative)
    rows: dict[str, int] = {}
    for f in kept:
        rows[f["source"]] = rows.get(f["source"], 0) + int(f["rows"])
    cut = {**manifest, "out": str(out), "files": kept, "rows_by_source": rows,
           "time_span": {"from": period.first, "to": period.last},
           "subset_of": {"out": str(source), "time_span": manifest["time_span"]}}
    (out / "manifest.json").write_text(json.dumps(cut, ensure_ascii=False, indent=1), encoding="utf-8")
    return cut


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(src, dst)
