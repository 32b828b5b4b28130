"""Released vintages read with delta-rs, without the engine: for the data API and exports.

The same visibility as :func:`workbench.runs.release.read_release`: a vintage is
served only when it is released, not withdrawn, and its embargo has passed for the
user asking (:func:`workbench.runs.release.visible`); the public has no clearance.
Table locations come from :meth:`workbench.lake.Lake.path`, never from literal paths.

Nothing is served on the lake's word alone: the audit trail's hash chain must verify
(else :class:`~workbench.runs.audit_chain.AuditChainError`, naming the break), each
record needs the audit entry that released it (:func:`~workbench.runs.release.verified_releases`),
and a vintage's rows must have the digest they were released with.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa

from workbench.auth import User
from workbench.disclosure.export import ReleaseContext
from workbench.lake import Lake
from workbench.runs.audit_chain import (
    AUDIT,
    AuditChainError,
    ChainHead,
    check_extends,
    head,
    read_chain,
    rows_digest,
    vintage_rows,
)
from workbench.runs.release import RELEASES, Release, verified_releases, visible

PUBLIC = User("public", "The public", ())
# Bookkeeping columns of release.<series> that the public does not need.
INTERNAL_COLUMNS = ("release_id", "run_id", "embargo_until")


class ReleaseReader:
    """Releases and their rows from one lake, through delta-rs, each checked before it is served."""

    def __init__(self, lake: Lake | str):
        self.lake = lake if isinstance(lake, Lake) else Lake(lake)
        # The longest chain verified so far: a later read that does not extend it lost entries.
        self._seen = ChainHead(0, "")

    def versions(self) -> tuple[int | None, int | None]:
        """Delta versions of the releases record and the audit trail (what the list depends on)."""
        return tuple(self.lake.version(n) if self.lake.exists(n) else None for n in (RELEASES, AUDIT))

    def releases(self) -> list[Release]:
        """Every recorded vintage with its withdrawn flag and any problem, sorted by series and vintage.

        Raises AuditChainError when the audit trail does not verify, or holds fewer
        entries than this reader saw before.
        """
        chain = read_chain(self.lake)
        check_extends(chain, self._seen)
        self._seen = head(chain)
        return verified_releases(self.lake)

    def public(self, user: User = PUBLIC, now: datetime | None = None,
               releases: list[Release] | None = None) -> list[Release]:
        """The vintages *user* may read now: verified, released, not withdrawn, embargo passed."""
        now = now or datetime.now(timezone.utc)
        return [r for r in (self.releases() if releases is None else releases)
                if r.published and visible(r, user, now)]

    def context(self, release: Release) -> ReleaseContext:
        """The reference period and measure of *release*, from the parameters its run recorded:
        an estimates table carries neither column itself, yet every export must state them.
        Read through delta-rs, like the rest of the reader (the API starts no engine)."""
        import json

        import pyarrow.compute as pc

        from workbench.runs.registry import RUNS

        if not self.lake.exists(RUNS):
            return ReleaseContext()
        runs = self.lake.read_arrow(RUNS, ["run_id", "params_json"])
        found = runs.filter(pc.equal(runs.column("run_id"), release.run_id)).column("params_json").to_pylist()
        params = json.loads(found[0]) if found and found[0] else None
        return ReleaseContext.from_params(params, self.series_unit((params or {}).get("series")))

    def series_unit(self, series: str | None) -> str:
        """The unit code a published series of ``gold.targets`` is in (亿元 -> ``100m_yuan``), or ""."""
        import pyarrow.compute as pc

        from workbench.formatting import unit_code

        if not series or not self.lake.exists("gold.targets"):
            return ""
        targets = self.lake.read_arrow("gold.targets", ["series", "unit"])
        units = targets.filter(pc.equal(targets.column("series"), series)).column("unit").to_pylist()
        return unit_code(units[0]) if units else ""

    def rows(self, release: Release) -> pa.Table:
        """The published rows of one vintage (bookkeeping columns dropped). Caller checks visibility.

        Raises AuditChainError if the rows are not the ones released (added or changed by hand).
        """
        table = vintage_rows(self.lake, release.series, release.release_id)
        if table.num_rows != release.rows or rows_digest(table) != release.rows_sha256:
            raise AuditChainError(f"release.{release.series} vintage {release.vintage} holds {table.num_rows} "
                                  f"row(s) that are not the {release.rows} row(s) released; not served")
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
               "withdrawn": r.withdrawn, "visible": r.published and visible(r, user, now),
               "release_id": r.release_id}
        out = scheduled if (r.embargo_until is not None and r.embargo_until > now and r.published) else published
        out.append(row)
    columns = ["series", "vintage", "release_date", "embargo_until", "released_at", "rows", "primary", "secondary",
               "withdrawn", "visible", "release_id"]
    order = ["release_date", "series", "vintage"]
    return (pd.DataFrame(scheduled, columns=columns).sort_values(order, kind="mergesort", ignore_index=True),
            pd.DataFrame(published, columns=columns).sort_values(order, ascending=False, kind="mergesort",
                                                                 ignore_index=True))
