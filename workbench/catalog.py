"""What data we have and where: table descriptions, owners and lake summaries.

Descriptions come from ``conf/catalog.toml``; a table not listed there falls back to
its source in ``conf/sources.toml`` (``bronze.<source>`` and ``quarantine.<source>``
take the source's title and owner). The summaries (source freshness, quarantine
counts, open quality issues, runs waiting for review) read the lake and return
plain pandas frames, so the app, the CLI and notebooks show the same numbers.
Tables that later issues create (``workbench.runs``, ``quality.results``) may be
missing: the summaries then say ``None`` ("not yet available"), never raise.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import pandas as pd

from workbench.access import RAW_LAYERS, RAW_ROLES, Access, run_id_of, table_access  # noqa: F401 - pages use them
from workbench.auth import User
from workbench.config import REPO_ROOT
from workbench.methods.indicators import final_indicator_values

if TYPE_CHECKING:  # pragma: no cover
    from workbench.lake import Lake, TableInfo

CATALOG_FILE = REPO_ROOT / "conf" / "catalog.toml"
SOURCES_FILE = REPO_ROOT / "conf" / "sources.toml"
LAYERS = ("bronze", "silver", "gold", "quarantine", "quality", "workbench")

LOADS_TABLE = "workbench.loads"
RUNS_TABLE = "workbench.audit"  # a run's review state is its latest audited transition
QUALITY_TABLE = "quality.results"
INDICATORS_TABLE = "gold.indicators_monthly"

# Statuses meaning "a supervisor has not decided yet" / "a check failed and is open".
# The run registry and quality issues define the tables; these sets accept the
# spellings those issues are likely to use, so Home shows numbers from day one.
QUALITY_OPEN = ("fail", "failed", "error", "warn", "warning", "open")


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    title_zh: str = ""
    title_en: str = ""
    description_zh: str = ""
    description_en: str = ""
    owner: str = ""

    def title(self, lang: str) -> str:
        return (self.title_zh if lang == "zh" else self.title_en) or self.title_en or self.title_zh or self.name

    def description(self, lang: str) -> str:
        return (self.description_zh if lang == "zh" else self.description_en) or self.description_en or ""


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}


@lru_cache(maxsize=4)
def _entries(catalog_file: Path, sources_file: Path) -> tuple[dict[str, CatalogEntry], dict[str, dict]]:
    fields = ("title_zh", "title_en", "description_zh", "description_en", "owner")
    tables = {
        name: CatalogEntry(name, **{k: str(v.get(k, "")) for k in fields})
        for name, v in (_read(catalog_file).get("tables") or {}).items()
    }
    sources = {k: v for k, v in _read(sources_file).items() if isinstance(v, dict)}
    return tables, sources


def entry(name: str, catalog_file: Path = CATALOG_FILE, sources_file: Path = SOURCES_FILE) -> CatalogEntry:
    """The catalogue entry for table *name*, falling back to its source's contract."""
    tables, sources = _entries(catalog_file, sources_file)
    if name in tables:
        return tables[name]
    layer, _, rest = name.partition(".")
    source = sources.get(rest)
    if source is not None and layer in ("bronze", "quarantine"):
        kind_zh, kind_en = ("原始交付", "as delivered") if layer == "bronze" else ("隔离行", "quarantined rows")
        return CatalogEntry(
            name,
            title_zh=f"{source.get('title_zh', rest)}（{kind_zh}）",
            title_en=f"{source.get('title_en', rest)} ({kind_en})",
            description_zh=f"{source.get('title_zh', rest)}：{kind_zh}，附带来源文件、文件哈希、行号与加载时间。",
            description_en=f"{source.get('title_en', rest)}: {kind_en}, with source file, file hash, row number and load time.",
            owner=str(source.get("owner", "")),
        )
    return CatalogEntry(name)


# ---- who may preview which rows ---------------------------------------------------
# The catalogue asks the app's one access rule (workbench.access), as every page does.
PreviewAccess = Access
preview_access = table_access


def release_preview(reader, table: str, user: User, now=None, limit: int = 1000) -> pd.DataFrame:
    """The rows of ``release.<series>`` *user* may read now, newest vintage first, through the release reader.

    Only vintages the reader's visibility rule lets through (no withdrawn vintage, no
    embargoed one unless *user* is cleared), with the bookkeeping columns dropped as
    the data API drops them.
    """
    import pyarrow as pa

    series = table.partition(".")[2]
    parts, shown = [], 0
    for release in sorted((r for r in reader.public(user, now) if r.series == series), key=lambda r: -r.vintage):
        parts.append(reader.rows(release))
        shown += parts[-1].num_rows
        if shown >= limit:
            break
    if not parts:
        return pd.DataFrame()
    return pa.concat_tables(parts, promote_options="default").to_pandas().head(limit)


def search(infos: Iterable["TableInfo"], query: str, lang: str = "en") -> list["TableInfo"]:
    """Tables whose name, title or description (either language), owner or any column (its
    name, or its label or description in either language: 营业收入 finds the tables holding
    revenue) contains *query*."""
    from workbench.formatting import registry

    q = (query or "").strip().lower()
    if not q:
        return list(infos)
    reg = registry()
    hits = []
    for info in infos:
        e = entry(info.name)
        described = [reg.column(c) for c, _ in info.columns]
        haystack = [info.name, e.title_zh, e.title_en, e.description_zh, e.description_en, e.owner,
                    *(c for c, _ in info.columns),
                    *(text for v in described if v is not None
                      for text in (v.label_zh, v.label_en, v.description_zh, v.description_en))]
        if any(q in (h or "").lower() for h in haystack):
            hits.append(info)
    return hits


# ---- lake summaries -----------------------------------------------------------

def source_freshness(lake: "Lake") -> pd.DataFrame | None:
    """Per source: last delivery period, last load time, files, rejected files, rows.

    ``None`` when ``workbench.loads`` does not exist yet.
    """
    if not lake.exists(LOADS_TABLE):
        return None
    from pyspark.sql import functions as F

    df = lake.read(LOADS_TABLE)
    out = (
        df.groupBy("source")
        .agg(
            F.max(F.when(F.col("status") == "loaded", F.col("delivery_period"))).alias("last_delivery"),
            F.max("loaded_at").alias("last_load"),
            F.count(F.lit(1)).alias("files"),
            # a refused path (a link out of the folder, a pipe) is a rejected delivery too
            F.sum(F.when(F.col("status").isin("rejected", "refused"), 1).otherwise(0)).alias("rejected"),
            F.sum(F.coalesce(F.col("rows_loaded"), F.lit(0))).alias("rows_loaded"),
            F.sum(F.coalesce(F.col("rows_quarantined"), F.lit(0))).alias("rows_quarantined"),
        )
        .orderBy("source")
        .toPandas()
    )
    return out


def quarantine_counts(infos: Iterable["TableInfo"]) -> pd.DataFrame:
    """Rows per quarantine table, from the Delta log (no scan)."""
    rows = [{"table": i.name, "rows": i.rows} for i in infos if i.layer == "quarantine"]
    return pd.DataFrame(rows, columns=["table", "rows"])


def _count_status(lake: "Lake", name: str, statuses: tuple[str, ...]) -> int | None:
    if not lake.exists(name):
        return None
    from pyspark.sql import functions as F

    df = lake.read(name)
    if "status" not in df.columns:
        return None
    return int(df.filter(F.lower(F.col("status")).isin(list(statuses))).count())


def open_quality_issues(lake: "Lake") -> int | None:
    """Failed or warning checks in ``quality.results``; ``None`` until that table exists."""
    return _count_status(lake, QUALITY_TABLE, QUALITY_OPEN)


def runs_waiting_for_review(lake: "Lake") -> int | None:
    """Submitted runs a supervisor has not decided on; ``None`` until any run exists."""
    if not lake.exists(RUNS_TABLE):
        return None
    from workbench.runs.review import states

    return sum(1 for state in states(lake).values() if state == "submitted")


def indicators(lake: "Lake") -> pd.DataFrame | None:
    """``gold.indicators_monthly`` as pandas, final values only (a few thousand rows), or ``None``."""
    if not lake.exists(INDICATORS_TABLE):
        return None
    pdf = lake.read(INDICATORS_TABLE).select("indicator", "month", "value", "unit", "available_date").toPandas()
    pdf["month"] = pd.to_datetime(pdf["month"])
    return final_indicator_values(pdf).drop(columns="available_date")


# Long JSON blobs that say nothing to a reader of the history.
_NOISY_PARAMETERS = ("metadata", "protocol", "location")


def history_frame(lake: "Lake", name: str, limit: int | None = 100) -> pd.DataFrame:
    """A table's commits, newest first: version, time, operation, who, parameters."""
    rows = []
    for h in lake.history(name, limit):
        params = h.get("operationParameters") or {}
        meta = h.get("userMetadata")
        who = h.get("userName") or h.get("userId") or (str(meta) if meta else "") or h.get("engineInfo") or ""
        rows.append({
            "version": h.get("version"),
            "time": pd.to_datetime(h.get("timestamp"), unit="ms", utc=True).tz_localize(None),
            "operation": h.get("operation", ""),
            "who": str(who),
            "parameters": ", ".join(f"{k}={v}" for k, v in params.items()
                                   if v not in (None, "", "[]") and k not in _NOISY_PARAMETERS),
        })
    return pd.DataFrame(rows, columns=["version", "time", "operation", "who", "parameters"])


def rows_over_versions(lake: "Lake", name: str, last: int = 50) -> pd.DataFrame:
    """Row count at each of the latest *last* versions, from the Delta log."""
    latest = lake.version(name)
    versions = range(max(0, latest - last + 1), latest + 1)
    return pd.DataFrame({"version": list(versions), "rows": [lake.row_count(name, v) for v in versions]})
