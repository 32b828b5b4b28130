"""Bronze: land every delivered file as delivered, with lineage; nothing is lost.

One job per source in ``conf/sources.toml`` (``bronze_<source>``). For each new
file: hash it, skip it if the same bytes were loaded before, parse it through the
source contract, append its rows to ``bronze.<source>`` (raw values as text plus
lineage), its unparseable rows to ``quarantine.<source>`` with the reason, and one
line to ``workbench.loads``. Rows read = rows loaded + rows quarantined, checked
for every file. A file rejected whole (unmappable headers) goes to the quarantine
line by line, so its rows are not lost either.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from pyspark.sql import functions as F

from workbench.pipeline import Job, JobContext, JobResult, JobSpec
from workbench.sources.contract import RejectedFile, SourceContract, load_contracts
from workbench.sources.readers import ROW_NUMBER, ParsedFile, file_sha256, read_delivery

LOADS = "workbench.loads"
BATCH_ROWS = 1_000_000  # rows per engine write: bounds memory, keeps commits few

LINEAGE = pa.schema([
    ("_source", pa.string()),
    ("_file_path", pa.string()),
    ("_file_sha256", pa.string()),
    ("_row_number", pa.int64()),
    ("_delivery_period", pa.string()),
    ("_loaded_at", pa.timestamp("us", tz="UTC")),
    ("_job_run_id", pa.string()),
])
QUARANTINE_SCHEMA = pa.schema([("stage", pa.string()), ("raw_text", pa.string()), ("reason", pa.string())]
                              + list(LINEAGE))
LOADS_SCHEMA = pa.schema([
    ("source", pa.string()), ("file_path", pa.string()), ("file_sha256", pa.string()),
    ("delivery_period", pa.string()), ("status", pa.string()), ("reason", pa.string()),
    ("rows_read", pa.int64()), ("rows_loaded", pa.int64()), ("rows_quarantined", pa.int64()),
    ("loaded_at", pa.timestamp("us", tz="UTC")), ("job_run_id", pa.string()),
])


@dataclass(frozen=True)
class Lineage:
    source: str
    file_path: str
    file_sha256: str
    delivery_period: str | None
    loaded_at: datetime
    run_id: str


def _lineage_columns(lineage: Lineage, row_numbers: pa.Array) -> dict[str, pa.Array]:
    n = len(row_numbers)
    return {
        "_source": pa.array([lineage.source] * n, pa.string()),
        "_file_path": pa.array([lineage.file_path] * n, pa.string()),
        "_file_sha256": pa.array([lineage.file_sha256] * n, pa.string()),
        "_row_number": row_numbers.cast(pa.int64()),
        "_delivery_period": pa.array([lineage.delivery_period] * n, pa.string()),
        "_loaded_at": pa.array([lineage.loaded_at] * n, pa.timestamp("us", tz="UTC")),
        "_job_run_id": pa.array([lineage.run_id] * n, pa.string()),
    }


def to_bronze(parsed: ParsedFile, lineage: Lineage) -> tuple[pa.Table, pa.Table]:
    """Pure transform: parsed rows and rejects -> (bronze rows, quarantine rows), both with lineage."""
    rows = parsed.table
    data = {name: rows.column(name) for name in rows.column_names if name != ROW_NUMBER}
    data.update(_lineage_columns(lineage, rows.column(ROW_NUMBER).combine_chunks()))
    bronze = pa.table(data)
    quarantine = quarantine_rows(parsed.quarantine, lineage, stage="bronze")
    assert bronze.num_rows + quarantine.num_rows == parsed.rows_read
    return bronze, quarantine


def quarantine_rows(rejects: list[dict], lineage: Lineage, stage: str) -> pa.Table:
    numbers = pa.array([r["row_number"] for r in rejects], pa.int64())
    data = {
        "stage": pa.array([stage] * len(rejects), pa.string()),
        "raw_text": pa.array([r["raw_text"] for r in rejects], pa.string()),
        "reason": pa.array([r["reason"] for r in rejects], pa.string()),
        **_lineage_columns(lineage, numbers),
    }
    return pa.table(data, schema=QUARANTINE_SCHEMA)


def rejected_file_rows(path: str, contract: SourceContract, reason: str) -> list[dict]:
    """Every data row of a file rejected whole, as raw text, so none is lost."""
    try:
        if contract.format in ("csv", "jsonl"):
            raw = Path(path).read_bytes()
            try:
                text = raw.decode(contract.encoding)
            except UnicodeDecodeError:
                text = raw.decode("gbk" if contract.encoding == "utf-8" else "utf-8", "replace")
            lines = text.lstrip("\ufeff").splitlines()
            start = 2 if contract.format == "csv" else 1
            body = lines[1:] if contract.format == "csv" else lines
            return [{"row_number": i, "raw_text": line, "reason": reason}
                    for i, line in enumerate(body, start=start) if line.strip()]
        if contract.format == "xlsx":
            from python_calamine import CalamineWorkbook

            rows = CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python()
            return [{"row_number": i, "raw_text": "\t".join("" if v is None else str(v) for v in row), "reason": reason}
                    for i, row in enumerate(rows[1:], start=2) if any(v not in (None, "") for v in row)]
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        return [{"row_number": i, "raw_text": json.dumps(r, ensure_ascii=False, default=str), "reason": reason}
                for i, r in enumerate(table.to_pylist(), start=1)]
    except Exception as exc:  # noqa: BLE001 - an unreadable file is kept as one line
        return [{"row_number": 0, "raw_text": f"<unreadable file, {os.path.getsize(path)} bytes>",
                 "reason": f"{reason}; the file itself could not be read: {exc}"}]


def _loads_row(lineage: Lineage, status: str, reason: str, read: int, loaded: int, quarantined: int) -> dict:
    return {
        "source": lineage.source, "file_path": lineage.file_path, "file_sha256": lineage.file_sha256,
        "delivery_period": lineage.delivery_period, "status": status, "reason": reason,
        "rows_read": read, "rows_loaded": loaded, "rows_quarantined": quarantined,
        "loaded_at": lineage.loaded_at, "job_run_id": lineage.run_id,
    }


def delivered_files(root: str, contract: SourceContract, since: str | None) -> list[tuple[str, str]]:
    """(absolute path, path relative to the delivery root) of the source's files, in name order."""
    folder = Path(root) / contract.folder
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and contract.matches(path.name):
            period = contract.period_of(path.name)
            if since and period and period < since[: len(period)]:
                continue
            files.append((str(path), str(path.relative_to(root))))
    return files


def _known_files(ctx: JobContext, source: str) -> tuple[set[tuple[str, str]], dict[str, str]]:
    """(path, hash) pairs already processed, and hash -> the path it was first loaded from.

    Read from the bronze and quarantine tables as well as the load log, so that a run
    that died between writing rows and logging them still never loads a file twice.
    """
    lake = ctx.lake
    pairs: set[tuple[str, str]] = set()
    first: dict[str, str] = {}
    sources = []
    if lake.exists(LOADS):
        sources.append(lake.read(LOADS).filter(f"source = '{source}'").select(
            "file_path", "file_sha256"))
    for table in (f"bronze.{source}", f"quarantine.{source}"):
        if lake.exists(table):
            sources.append(lake.read(table).select(
                F.col("_file_path").alias("file_path"), F.col("_file_sha256").alias("file_sha256")))
    for df in sources:
        for row in df.distinct().collect():
            pairs.add((row["file_path"], row["file_sha256"]))
            first.setdefault(row["file_sha256"], row["file_path"])
    return pairs, first


class _Writer:
    """Buffers Arrow batches and appends them to the lake in large commits."""

    def __init__(self, ctx: JobContext, table: str):
        self.ctx, self.table, self.parts, self.rows, self.written = ctx, table, [], 0, 0

    def add(self, part: pa.Table) -> None:
        if part.num_rows:
            self.parts.append(part)
            self.rows += part.num_rows
            if self.rows >= BATCH_ROWS:
                self.flush()

    def flush(self) -> None:
        if not self.parts:
            return
        batch = pa.concat_tables(self.parts, promote_options="none")
        # The rows were parsed here, in Python: append them straight through delta-rs
        # rather than upload them to the engine to be written back. Contract columns
        # are the schema, so a column added to the contract is an explicit evolution.
        self.ctx.lake.append_arrow(self.table, batch, evolve=True)
        self.written += batch.num_rows
        self.parts, self.rows = [], 0


def land_source(ctx: JobContext, contract: SourceContract) -> JobResult:
    name = f"bronze_{contract.name}"
    root = ctx.settings.deliveries
    files = delivered_files(root, contract, ctx.since)
    known_pairs, first_path = _known_files(ctx, contract.name)
    bronze = _Writer(ctx, f"bronze.{contract.name}")
    quarantine = _Writer(ctx, f"quarantine.{contract.name}")
    loads: list[dict] = []
    read = quarantined = 0
    notes: list[str] = []
    for index, (path, rel) in enumerate(files):
        ctx.progress(index / max(len(files), 1), rel)
        sha = file_sha256(path)
        if (rel, sha) in known_pairs:
            continue  # this very file was processed by an earlier run
        lineage = Lineage(contract.name, rel, sha, contract.period_of(Path(path).name), ctx.started_at, ctx.run_id)
        if sha in first_path:
            loads.append(_loads_row(lineage, "skipped_duplicate",
                                    f"{rel}: same bytes as {first_path[sha]}, already loaded", 0, 0, 0))
            continue
        first_path[sha] = rel
        try:
            parsed = read_delivery(path, contract, rel)
        except RejectedFile as exc:
            rows = quarantine_rows(rejected_file_rows(path, contract, f"file rejected: {exc}"), lineage, "bronze")
            quarantine.add(rows)
            read += rows.num_rows
            quarantined += rows.num_rows
            loads.append(_loads_row(lineage, "rejected", str(exc), rows.num_rows, 0, rows.num_rows))
            continue
        rows, rejects = to_bronze(parsed, lineage)
        bronze.add(rows)
        quarantine.add(rejects)
        read += parsed.rows_read
        quarantined += rejects.num_rows
        notes.extend(parsed.notes)
        loads.append(_loads_row(lineage, "loaded", "; ".join(parsed.notes), parsed.rows_read, rows.num_rows,
                                rejects.num_rows))
    bronze.flush()
    quarantine.flush()
    if loads:
        ctx.lake.append_arrow(LOADS, pa.Table.from_pylist(loads, schema=LOADS_SCHEMA))
    if bronze.written + quarantine.written != read:
        raise AssertionError(f"{name}: read {read} rows but wrote {bronze.written} + quarantined {quarantine.written}")
    new_files = sum(1 for l in loads if l["status"] != "skipped_duplicate")
    return JobResult(name=name, status="ok" if loads else "skipped", rows_read=read, rows_written=bronze.written,
                     rows_quarantined=quarantined,
                     message=f"{new_files} new file(s), {len(loads) - new_files} duplicate(s)"
                             + (f"; {len(notes)} note(s): {notes[0]}" if notes else ""))


def _job(contract: SourceContract) -> Job:
    spec = JobSpec(
        name=f"bronze_{contract.name}",
        layer="bronze",
        description=f"Land {contract.title_en} ({contract.format}) as delivered, with lineage",
        inputs=(f"deliveries/{contract.folder}/{contract.pattern}",),
        outputs=(f"bronze.{contract.name}", f"quarantine.{contract.name}", LOADS),
    )
    return Job(spec=spec, main=lambda ctx: land_source(ctx, contract))


JOBS = [_job(c) for c in load_contracts().values()]
