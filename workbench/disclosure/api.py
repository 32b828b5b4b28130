"""The read-only data API: released, disclosure-controlled tables with their vintages.

``workbench api [--host H] [--port N]`` serves it with uvicorn; the OpenAPI spec is at
``/openapi.json`` and the interactive docs at ``/docs``.

* Only vintages recorded in ``workbench.releases`` are reachable, and only when they
  are not withdrawn and their embargo has passed (the visibility of
  :func:`workbench.runs.release.read_release` for a user without clearance). Any
  other name, including every ``gold.*``, ``runs.*`` or ``workbench.*`` table, is a
  404; an embargoed vintage is a 403 until its time. Embargo times are checked on
  every request.
* Only what the audit trail vouches for is served: a record no ``release`` entry
  carries, or rows that are not the ones released, is a 404; an audit trail whose hash
  chain does not verify (or that lost entries since the service last read it) makes
  every data endpoint a 503 that names the break, since a withdrawal could be missing.
* Reads use delta-rs (:class:`~workbench.disclosure.reader.ReleaseReader`), not the
  engine. A vintage never changes once released, so its rows, each page's JSON and
  each export are cached in memory after the first request; the list of releases is
  re-read at most every ``[api].refresh_seconds``. The page cache is bounded by bytes
  (``[api].page_cache_mb``), not by entries: a client asking for every page/page_size
  pair of a vintage would otherwise hold thousands of near-whole copies of it.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import OrderedDict
from datetime import date, datetime, timezone
from typing import Any, Literal

import pyarrow as pa
from fastapi import FastAPI, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from workbench.disclosure.export import FORMATS, export, metadata, prepared_frame
from workbench.disclosure.reader import PUBLIC, ReleaseReader
from workbench.disclosure.settings import DisclosureSettings, load_disclosure_settings
from workbench.lake import Lake
from workbench.runs.audit_chain import AuditChainError
from workbench.runs.release import Release, visible

SERIES_NAME = r"^[a-z0-9_]{1,64}$"
MAX_VINTAGE = 1_000_000


class Health(BaseModel):
    status: str


class SeriesInfo(BaseModel):
    series: str
    latest_vintage: int
    vintages: int
    latest_release_date: str


class VintageInfo(BaseModel):
    series: str
    vintage: int
    release_date: str
    released_at: str
    rows: int
    disclosure: dict[str, Any] | None = None


class Scheduled(BaseModel):
    series: str
    vintage: int
    release_date: str
    available_from: str


class Page(BaseModel):
    series: str
    vintage: int
    release_date: str
    reference_period: str  # the months the rows cover, in words ("Aug 2026"); each row has its period
    unit: str  # the unit of the values in words; each row has its SDMX unit_measure and unit_mult
    page: int
    page_size: int
    total_rows: int
    total_pages: int
    columns: list[str]
    rows: list[dict[str, str | int | float | bool | None]]


class Error(BaseModel):
    detail: str


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


class ByteBoundedCache:
    """A least-recently-used cache of byte strings whose measured size stays under *max_bytes*.

    Each entry counts its value's and its key's size as Python holds them
    (``sys.getsizeof``); an entry larger than the whole bound is served, never kept.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.total_bytes = 0
        self._entries: OrderedDict[Any, tuple[bytes, int]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def size(key: Any, value: bytes) -> int:
        return sys.getsizeof(value) + sys.getsizeof(key) + sum(sys.getsizeof(k) for k in key)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Any) -> bytes | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            self._entries.move_to_end(key)
            return hit[0]

    def put(self, key: Any, value: bytes) -> None:
        size = self.size(key, value)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.total_bytes -= old[1]
            self._entries[key] = (value, size)
            self.total_bytes += size
            while self.total_bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.total_bytes -= dropped


class _Releases:
    """The release list (refreshed every few seconds) and immutable per-vintage caches."""

    def __init__(self, reader: ReleaseReader, settings: DisclosureSettings):
        self.reader, self.settings = reader, settings
        self._lock = threading.Lock()
        self._loaded_at = -math.inf
        self._all: list[Release] = []
        self._broken: str | None = None  # why the records did not verify at the last read
        self._rows: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
        self.pages = ByteBoundedCache(int(settings.api.page_cache_mb * 1024 * 1024))
        self._files: dict[tuple, bytes] = {}

    def all(self) -> list[Release]:
        if time.monotonic() - self._loaded_at > self.settings.api.refresh_seconds:
            with self._lock:
                if time.monotonic() - self._loaded_at > self.settings.api.refresh_seconds:
                    try:
                        self._all, self._broken = self.reader.releases(), None
                    except AuditChainError as exc:
                        self._all, self._broken = [], str(exc)
                    self._loaded_at = time.monotonic()
        if self._broken is not None:
            raise HTTPException(503, f"the release records do not verify, so nothing is served: {self._broken}")
        return self._all

    def public(self) -> list[Release]:
        now = datetime.now(timezone.utc)
        return [r for r in self.all() if r.published and visible(r, PUBLIC, now)]

    def find(self, series: str, vintage: int) -> Release:
        """The vintage if the public may read it now; else 404 (unknown, withdrawn, unverified) or 403 (embargo)."""
        match = [r for r in self.all() if r.series == series and r.vintage == vintage and r.problem is None]
        if not match or match[0].withdrawn:
            raise HTTPException(404, f"no released vintage {vintage} of series {series!r}")
        rel = match[0]
        if not visible(rel, PUBLIC, datetime.now(timezone.utc)):
            raise HTTPException(403, f"series {series!r} vintage {vintage} is under embargo until "
                                     f"{rel.embargo_until.isoformat()}")
        return rel

    def rows(self, rel: Release) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
        """(columns, rows, what the rows are) of one vintage as published: values at their published
        precision and unit (``unit_measure``/``unit_mult``), the reference period on every row; and
        the vintage's reference period and unit in words (English: the API has no reader's language)."""
        if rel.release_id not in self._rows:
            try:
                table = self.reader.rows(rel)
            except AuditChainError as exc:
                raise HTTPException(503, str(exc)) from exc
            context = self.reader.context(rel)
            frame = table.to_pandas()
            published = pa.Table.from_pandas(prepared_frame(frame, context), preserve_index=False)
            rows = [{k: _jsonable(v) for k, v in row.items()} for row in published.to_pylist()]
            meta = metadata(rel, frame, context, "en")
            about = {"reference_period": meta["reference_period"], "unit": meta["unit"]}
            self._rows[rel.release_id] = (published.column_names, rows, about)
        return self._rows[rel.release_id]

    def page(self, rel: Release, page: int, page_size: int) -> bytes:
        key = (rel.release_id, page, page_size)
        cached = self.pages.get(key)
        if cached is not None:
            return cached
        columns, rows, about = self.rows(rel)
        total_pages = max(1, math.ceil(len(rows) / page_size))
        body = {"series": rel.series, "vintage": rel.vintage, "release_date": str(rel.release_date), **about,
                "page": page,
                "page_size": page_size, "total_rows": len(rows), "total_pages": total_pages, "columns": columns,
                "rows": rows[(page - 1) * page_size: page * page_size]}
        data = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
        self.pages.put(key, data)
        return data

    def file(self, rel: Release, fmt: str):
        key = (rel.release_id, fmt)
        if key not in self._files:
            try:
                table = self.reader.rows(rel)
            except AuditChainError as exc:
                raise HTTPException(503, str(exc)) from exc
            self._files[key] = export(table.to_pandas(), rel, fmt, self.settings.sdmx, self.reader.context(rel))
        return self._files[key]


def create_app(lake: Lake | str | None = None, settings: DisclosureSettings | None = None) -> FastAPI:
    """The API over *lake* (default: the lake of ``conf/workbench.toml`` and its overrides)."""
    if lake is None:
        from workbench.config import load_settings

        lake = Lake(load_settings().lake_root)
    settings = settings or load_disclosure_settings()
    releases = _Releases(ReleaseReader(lake), settings)
    api = settings.api
    app = FastAPI(
        title="G City Statistics: released data",
        version="1.0",
        description="Released, disclosure-controlled tables of the G City statistics bureau with every vintage. "
                    "Suppressed cells are null with conf_status C (confidential) or D (secondary "
                    "confidentiality). Read-only.",
    )
    app.state.page_cache = releases.pages  # its size is watched by tests and can be by operators
    unverified = {503: {"model": Error, "description": "the release records or the audit trail do not verify"}}
    not_found = {404: {"model": Error, "description": "no such released series or vintage"}, **unverified}
    embargoed = {403: {"model": Error, "description": "the vintage is under embargo"}}

    @app.get("/health", response_model=Health, summary="liveness")
    async def health() -> Health:
        return Health(status="ok")

    @app.get("/series", response_model=list[SeriesInfo], responses=unverified, summary="released series")
    async def series() -> list[SeriesInfo]:
        by: dict[str, list[Release]] = {}
        for r in releases.public():
            by.setdefault(r.series, []).append(r)
        out = []
        for name, vs in sorted(by.items()):
            last = max(vs, key=lambda r: r.vintage)
            out.append(SeriesInfo(series=name, latest_vintage=last.vintage, vintages=len(vs),
                                  latest_release_date=str(last.release_date)))
        return out

    @app.get("/calendar", response_model=list[Scheduled], responses=unverified,
             summary="scheduled releases (under embargo)")
    async def calendar() -> list[Scheduled]:
        now = datetime.now(timezone.utc)
        return [Scheduled(series=r.series, vintage=r.vintage, release_date=str(r.release_date),
                          available_from=r.embargo_until.isoformat())
                for r in releases.all() if r.published and not visible(r, PUBLIC, now)]

    @app.get("/series/{name}/vintages", response_model=list[VintageInfo], responses=not_found,
             summary="the released vintages of a series")
    async def vintages(name: str = Path(pattern=SERIES_NAME)) -> list[VintageInfo]:
        out = [VintageInfo(series=r.series, vintage=r.vintage, release_date=str(r.release_date),
                           released_at=r.released_at.isoformat(), rows=r.rows,
                           disclosure=(r.quality_report or {}).get("disclosure"))
               for r in releases.public() if r.series == name]
        if not out:
            raise HTTPException(404, f"no released series {name!r}")
        return out

    @app.get("/series/{name}/vintages/{vintage}", response_model=Page, responses={**not_found, **embargoed},
             summary="one vintage's rows, a page at a time")
    async def rows(name: str = Path(pattern=SERIES_NAME), vintage: int = Path(ge=1, le=MAX_VINTAGE),
                   page: int = Query(1, ge=1, le=MAX_VINTAGE),
                   page_size: int = Query(api.page_size, ge=1, le=api.max_page_size)) -> Response:
        rel = releases.find(name, vintage)
        return Response(releases.page(rel, page, page_size), media_type="application/json")

    @app.get("/series/{name}/vintages/{vintage}/files/{fmt}", responses={
        **not_found, **embargoed, 200: {"content": {m: {} for _, m in FORMATS.values()},
                                        "description": "the vintage as a file"}},
        response_class=Response, summary="one vintage as CSV, Excel, Parquet, SDMX-CSV or its SDMX DSD")
    async def file(name: str = Path(pattern=SERIES_NAME), vintage: int = Path(ge=1, le=MAX_VINTAGE),
                   fmt: Literal["csv", "xlsx", "parquet", "sdmx", "dsd"] = Path()) -> Response:
        out = releases.file(releases.find(name, vintage), fmt)
        return Response(out.data, media_type=out.mime,
                        headers={"Content-Disposition": f'attachment; filename="{out.file_name}"'})

    return app


def serve(host: str | None = None, port: int | None = None) -> int:
    """Run the API with uvicorn (``workbench api``)."""
    import uvicorn

    settings = load_disclosure_settings()
    uvicorn.run(create_app(settings=settings), host=host or settings.api.host, port=port or settings.api.port,
                log_level="warning", access_log=False)
    return 0
