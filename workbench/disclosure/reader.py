"""Released vintages read with delta-rs, without the engine: for the data API and exports.

The same visibility as :func:`workbench.runs.release.read_release`: a vintage is
served only when it is released, not withdrawn, and its embargo has passed for the
user asking (:func:`workbench.runs.release.visible`); the public has no clearance.
Table locations come from :meth:`workbench.lake.Lake.path`, never from literal paths.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from workbench.auth import User
from workbench.lake import Lake
from workbench.runs.release import RELEASES, Release, visible
from workbench.runs.review import AUDIT

PUBLIC = User("public", "The public", ())
# Bookkeeping columns of release.<series> that the public does not need.
INTERNAL_COLUMNS = ("release_id", "run_id", "embargo_until")


def _utc(value) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


class ReleaseReader:
    """Releases and their rows from one lake, through delta-rs."""

    def __init__(self, lake: Lake | str):
        self.lake = lake if isinstance(lake, Lake) else Lake(lake)

    def _table(self, name: str) -> DeltaTable | None:
        return DeltaTable(self.lake.path(name)) if self.lake.exists(name) else None

    def versions(self) -> tuple[int | None, int | None]:
        """Delta versions of the releases record and the audit trail (what the list depends on)."""
        return tuple(self.lake.version(n) if self.lake.exists(n) else None for n in (RELEASES, AUDIT))

    def releases(self) -> list[Release]:
        """Every recorded vintage with its withdrawn flag, sorted by series and vintage."""
        releases = self._table(RELEASES)
        if releases is None:
            return []
        withdrawn = set()
        audit = self._table(AUDIT)
        if audit is not None:
            trail = audit.to_pyarrow_table(columns=["run_id", "at", "after"]).to_pandas()
            latest = trail.sort_values("at", kind="mergesort").groupby("run_id").tail(1)
            withdrawn = set(latest.loc[latest["after"] == "withdrawn", "run_id"])
        out = []
        for d in releases.to_pyarrow_table().to_pylist():
            out.append(Release(
                release_id=d["release_id"], series=d["series"], vintage=int(d["vintage"]), run_id=d["run_id"],
                release_date=d["release_date"], embargo_until=_utc(d["embargo_until"]),
                released_at=_utc(d["released_at"]), released_by=d["released_by"], inputs=json.loads(d["inputs_json"]),
                quality_report=json.loads(d["quality_report_json"]), output=d["output"], rows=int(d["rows"]),
                withdrawn=d["run_id"] in withdrawn))
        return sorted(out, key=lambda r: (r.series, r.vintage))

    def public(self, user: User = PUBLIC, now: datetime | None = None,
               releases: list[Release] | None = None) -> list[Release]:
        """The vintages *user* may read now: released, not withdrawn, embargo passed."""
        now = now or datetime.now(timezone.utc)
        return [r for r in (self.releases() if releases is None else releases)
                if not r.withdrawn and visible(r, user, now)]

    def rows(self, release: Release) -> pa.Table:
        """The published rows of one vintage (bookkeeping columns dropped). Caller checks visibility."""
        dt = self._table(f"release.{release.series}")
        if dt is None:
            raise LookupError(f"release.{release.series} does not exist")
        table = dt.to_pyarrow_dataset().to_table(filter=pc.field("release_id") == release.release_id)
        return table.drop_columns([c for c in INTERNAL_COLUMNS if c in table.column_names])


def calendar(releases: list[Release], user: User = PUBLIC,
             now: datetime | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scheduled, published): vintages still under embargo, and those out, with who may read them.

    ``visible`` says whether *user* may read the vintage now (a supervisor sees
    embargoed ones); ``primary``/``secondary`` count suppressed cells when disclosure
    control ran.
    """
    now = now or datetime.now(timezone.utc)
    scheduled, published = [], []
    for r in releases:
        disclosure = (r.quality_report or {}).get("disclosure") or {}
        row = {"series": r.series, "vintage": r.vintage, "release_date": r.release_date,
               "embargo_until": r.embargo_until, "released_at": r.released_at, "rows": r.rows,
               "primary": disclosure.get("primary"), "secondary": disclosure.get("secondary"),
               "withdrawn": r.withdrawn, "visible": not r.withdrawn and visible(r, user, now),
               "release_id": r.release_id}
        out = scheduled if (r.embargo_until is not None and r.embargo_until > now and not r.withdrawn) else published
        out.append(row)
    columns = ["series", "vintage", "release_date", "embargo_until", "released_at", "rows", "primary", "secondary",
               "withdrawn", "visible", "release_id"]
    order = ["release_date", "series", "vintage"]
    return (pd.DataFrame(scheduled, columns=columns).sort_values(order, kind="mergesort", ignore_index=True),
            pd.DataFrame(published, columns=columns).sort_values(order, ascending=False, kind="mergesort",
                                                                 ignore_index=True))
