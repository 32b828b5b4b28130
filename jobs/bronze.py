"""Bronze: land every delivered file as delivered, with lineage; nothing is lost.

One job per source in ``conf/sources.toml`` (``bronze_<source>``). For each new
file: hash it, skip it if the same bytes were loaded before, parse it through the
source contract, append its rows to ``bronze.<source>`` (raw values as text plus
lineage), its unparseable rows to ``quarantine.<source>`` with the reason, and one
line to ``workbench.loads``. Rows read = rows loaded + rows quarantined, checked
for every file. A file rejected whole (unmappable headers, unreadable) goes to the
quarantine line by line, so its rows are not lost either; a path that leads out of
the delivery folder is refused unread.

A landing holds the source's lease (``workbench.sources.lease``) and is atomic per
file: a file is done only once its load line is committed, and rows left by a
landing that died before that are removed and landed again by the next one.
"""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import pyarrow as pa
import pyarrow.compute  # registers pa.compute

from workbench.lake import Lake
from workbench.pipeline import Job, JobContext, JobMessage, JobResult, JobSpec
from workbench.sources.contract import RejectedFile, SourceContract, load_contracts
from workbench.sources.lease import exclusive
from workbench.sources.parallel import ordered_map
from workbench.sources.readers import (
    ROW_NUMBER,
    Delivery,
    ParsedFile,
    bounded_workbook,
    file_sha256,
    is_panic,
    opened,
    read_delivery,
)

LOADS = "workbench.loads"
BATCH_ROWS = 1_000_000  # rows per commit: bounds memory, keeps commits few

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


def rejected_file_rows(delivery: Delivery, contract: SourceContract, reason: str,
                       first_line_is_data: bool = False) -> list[dict]:
    """Every data row of a file rejected whole, as raw text, so none is lost; the first line
    too when it is *first_line_is_data* (a file without its header line has its first row there)."""
    first = 1 if first_line_is_data else 2
    try:
        if contract.format in ("csv", "jsonl"):
            with opened(delivery) as fh:
                raw = fh.read()
            try:
                text = raw.decode(contract.encoding)
            except UnicodeDecodeError:
                text = raw.decode("gbk" if contract.encoding == "utf-8" else "utf-8", "replace")
            lines = text.lstrip("\ufeff").splitlines()
            if contract.format == "jsonl":
                first = 1  # JSON lines have no header line
            return [{"row_number": i, "raw_text": line, "reason": reason}
                    for i, line in enumerate(lines[first - 1:], start=first) if line.strip()]
        if contract.format == "xlsx":
            from python_calamine import CalamineWorkbook

            # the same bounds as the reader: a workbook rejected for breaking one is not
            # opened unbounded here
            workbook = bounded_workbook(delivery, "")
            rows = CalamineWorkbook.from_filelike(workbook).get_sheet_by_index(0).to_python()
            return [{"row_number": i, "raw_text": "\t".join("" if v is None else str(v) for v in row), "reason": reason}
                    for i, row in enumerate(rows[first - 1:], start=first) if any(v not in (None, "") for v in row)]
        import pyarrow.parquet as pq

        with opened(delivery) as fh:
            table = pq.read_table(fh)
        return [{"row_number": i, "raw_text": json.dumps(r, ensure_ascii=False, default=str), "reason": reason}
                for i, r in enumerate(table.to_pylist(), start=1)]
    except BaseException as exc:  # an unreadable file is kept as one line
        if not isinstance(exc, Exception) and not is_panic(exc):
            raise
        with opened(delivery) as fh:
            size = fh.seek(0, os.SEEK_END)
        return [{"row_number": 0, "raw_text": f"<unreadable file, {size} bytes>",
                 "reason": f"{reason}; the file itself could not be read in full"}]


def _loads_row(lineage: Lineage, status: str, reason: str, read: int, loaded: int, quarantined: int) -> dict:
    return {
        "source": lineage.source, "file_path": lineage.file_path, "file_sha256": lineage.file_sha256,
        "delivery_period": lineage.delivery_period, "status": status, "reason": reason,
        "rows_read": read, "rows_loaded": loaded, "rows_quarantined": quarantined,
        "loaded_at": lineage.loaded_at, "job_run_id": lineage.run_id,
    }


@dataclass(frozen=True)
class Delivered:
    """One entry of a source's delivery folder. *refused* says why it is not landed: a
    path that leads out of the folder (a symbolic link, a name that resolves elsewhere)
    or is not a regular file would let a delivery read anything the job can read."""

    path: str  # absolute
    rel: str  # relative to the delivery root, as logged
    refused: str | None = None


def _printable(name: str) -> str:
    """A file name as text that can be stored: bytes that are not UTF-8 are escaped."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _refusal(entry: Path, folder: Path, real_folder: Path) -> str | None:
    """Why *entry* must not be read, or None. Only the path is looked at, never the contents."""
    if entry.is_symlink():
        return (f"is a symbolic link (to {_printable(os.readlink(entry))}); deliveries must be regular "
                f"files inside {folder.name}/, links are not followed")
    try:
        real = entry.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        return f"cannot be resolved ({exc.__class__.__name__})"
    if not real.is_relative_to(real_folder):
        return f"resolves outside {folder.name}/ (to {_printable(str(real))})"
    if not stat.S_ISREG(real.stat().st_mode):
        return "is not a regular file (a folder, device or pipe)"
    if _printable(entry.name) != entry.name:
        return "has a name that is not valid UTF-8"
    return None


def delivered_files(root: str, contract: SourceContract, since: str | None) -> list[Delivered]:
    """The source's delivery folder entries that match its pattern, in name order, each
    either to be landed or refused with the reason."""
    folder = Path(root) / contract.folder
    if not folder.is_dir():
        return []
    real_folder = folder.resolve()
    files = []
    for entry in sorted(folder.iterdir()):
        if not contract.matches(entry.name):
            continue
        period = contract.period_of(entry.name)
        if since and period and period < since[: len(period)]:
            continue
        rel = _printable(f"{contract.folder}/{entry.name}")
        files.append(Delivered(str(entry), rel, _refusal(entry, folder, real_folder)))
    return files


class Refused(Exception):
    """A delivered entry that must not be read; the message says why."""


@contextmanager
def open_delivered(file: Delivered) -> Iterator[BinaryIO]:
    """The delivered file, opened once and checked as opened: the landing hashes and reads
    this very descriptor. Checking a path and opening it again by name later let a symbolic
    link swapped in meanwhile land an outside file.

    Opened without following a link, by its bare name inside the delivery folder, so what
    opens is an entry of that folder. A file with more than one name (a hard link) is
    refused: its other name may be outside the folder, a file the deliverer could not read
    but the landing can; deliver a copy instead.
    """
    folder, name = os.path.split(file.path)
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # O_NONBLOCK: a pipe swapped in would otherwise block the open for ever
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused("is a symbolic link; deliveries must be regular files inside the delivery folder, "
                          "links are not followed") from None
        raise Refused(f"could not be read ({exc.__class__.__name__}: {exc.strerror})") from None
    finally:
        os.close(folder_fd)
    handle = os.fdopen(fd, "rb")
    with handle:
        opened_as = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened_as.st_mode):
            raise Refused("is not a regular file (a folder, device or pipe)")
        if opened_as.st_nlink != 1:
            raise Refused(f"has {opened_as.st_nlink} names (hard links); another may lie outside the delivery "
                          "folder, so it is not read: deliver a copy")
        os.set_blocking(handle.fileno(), True)
        yield handle


@contextmanager
def _open_or_refuse(file: Delivered) -> Iterator[tuple[BinaryIO | None, str | None]]:
    """(the opened file, None), or (None, why it is refused) when the listing or the open refuses it."""
    if file.refused is not None:
        yield None, file.refused
        return
    try:
        with open_delivered(file) as handle:
            yield handle, None
    except Refused as refusal:
        yield None, str(refusal)


# ---- crash safety: what a landing commits, and what the next one repairs ----------
#
# A landing commits, per batch of files: their bronze rows, then their quarantine rows,
# then their load lines. A file is done when, and only when, its load line exists. A
# landing killed at any point leaves at most rows whose (run, file hash) has no load
# line; the next landing of the source deletes those rows first (holding the lease, so
# no landing still in progress can be mistaken for a dead one) and lands the files again.

FAULT_ENV = "WORKBENCH_FAULT_KILL_AFTER_COMMIT"  # fault suite: SIGKILL this process after commit N
BATCH_ENV = "WORKBENCH_BRONZE_BATCH_ROWS"  # fault suite: small batches, so a landing has many commits
LINEAGE_KEY = ("_job_run_id", "_file_sha256", "_file_path")


class _Commits:
    """Counts a landing's commits; the fault-injection hook kills the process after the
    commit named in ``WORKBENCH_FAULT_KILL_AFTER_COMMIT``, as a power cut would."""

    def __init__(self) -> None:
        self.count = 0
        self.kill_after = int(os.environ.get(FAULT_ENV) or 0)

    def done(self) -> None:
        self.count += 1
        if self.count == self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)


def _logged(lake: Lake, source: str) -> pa.Table:
    """The source's load lines (file_path, file_sha256, job_run_id, status)."""
    columns = ["source", "file_path", "file_sha256", "job_run_id", "status"]
    if not lake.exists(LOADS):
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    loads = lake.read_arrow(LOADS, columns)
    return loads.filter(pa.compute.equal(loads.column("source"), source))


def unlogged_landings(lake: Lake, source: str) -> dict[str, dict[str, set[str]]]:
    """table -> run id -> hashes of files whose rows are in the table without a load line
    from that run: what a killed landing left behind."""
    loads = _logged(lake, source)
    logged = set(zip(loads.column("job_run_id").to_pylist(), loads.column("file_sha256").to_pylist(),
                     loads.column("file_path").to_pylist()))
    found: dict[str, dict[str, set[str]]] = {}
    for table in (f"bronze.{source}", f"quarantine.{source}"):
        if not lake.exists(table):
            continue
        for run, sha, path in lake.distinct_values(table, LINEAGE_KEY):
            if (run, sha, path) not in logged:
                found.setdefault(table, {}).setdefault(run, set()).add(sha)
    return found


def _quoted(values) -> str:
    # Run ids and hashes are ours (letters, digits, '_' and '-'); refuse anything else
    # rather than quote it into a predicate.
    for v in values:
        if not str(v).replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"unexpected lineage value {v!r}")
    return ", ".join(f"'{v}'" for v in sorted(values))


def repair_unlogged(lake: Lake, source: str, commits: _Commits) -> tuple[int, list[str]]:
    """Delete the rows of interrupted landings (see above): (rows removed, their run ids).
    Silver-stage quarantine rows made from them go too: they describe rows now gone."""
    removed, runs = 0, set()
    for table, by_run in unlogged_landings(lake, source).items():
        predicate = " OR ".join(f"(_job_run_id IN ({_quoted([run])}) AND _file_sha256 IN ({_quoted(shas)}))"
                                for run, shas in sorted(by_run.items()))
        removed += lake.delete_where(table, predicate)
        runs |= set(by_run)
        commits.done()
    return removed, sorted(runs)


def _known_files(lake: Lake, source: str) -> tuple[set[tuple[str, str]], dict[str, str]]:
    """(path, hash) pairs with a load line, and hash -> the path its bytes were landed from."""
    loads = _logged(lake, source)
    pairs: set[tuple[str, str]] = set()
    first: dict[str, str] = {}
    for path, sha, status in zip(loads.column("file_path").to_pylist(), loads.column("file_sha256").to_pylist(),
                                 loads.column("status").to_pylist()):
        pairs.add((path, sha))
        if status in ("loaded", "rejected"):
            first.setdefault(sha, path)
    return pairs, first


class _Batch:
    """Files parsed but not yet committed. Commits whole files only: bronze rows, then
    quarantine rows, then the load lines that make the files done."""

    def __init__(self, lake: Lake, source: str, commits: _Commits):
        self.lake, self.source, self.commits = lake, source, commits
        self.limit = int(os.environ.get(BATCH_ENV) or BATCH_ROWS)
        self.bronze: list[pa.Table] = []
        self.quarantine: list[pa.Table] = []
        self.loads: list[dict] = []
        self.rows = 0
        self.written = {"bronze": 0, "quarantine": 0, "loads": 0}

    def add(self, load: dict, bronze: pa.Table | None = None, quarantine: pa.Table | None = None) -> None:
        for parts, part in ((self.bronze, bronze), (self.quarantine, quarantine)):
            if part is not None and part.num_rows:
                parts.append(part)
                self.rows += part.num_rows
        self.loads.append(load)
        if self.rows >= self.limit:
            self.commit()

    def commit(self) -> None:
        # The rows were parsed here, in Python: append them straight through delta-rs
        # rather than upload them to the engine to be written back. Contract columns
        # are the schema, so a column added to the contract is an explicit evolution.
        for kind, parts in (("bronze", self.bronze), ("quarantine", self.quarantine)):
            if parts:
                batch = pa.concat_tables(parts, promote_options="none")
                self.lake.append_arrow(f"{kind}.{self.source}", batch, evolve=True)
                self.written[kind] += batch.num_rows
                self.commits.done()
        if self.loads:
            self.lake.append_arrow(LOADS, pa.Table.from_pylist(self.loads, schema=LOADS_SCHEMA))
            self.written["loads"] += len(self.loads)
            self.commits.done()
        self.bronze, self.quarantine, self.loads, self.rows = [], [], [], 0


def land_source(ctx: JobContext, contract: SourceContract) -> JobResult:
    """Land the source's new files, holding its lease: a second landing of the same
    source waits for this one (or gives up naming it) instead of loading files twice."""
    with exclusive(ctx.lake.root, f"bronze.{contract.name}", ctx.run_id):
        return _land(ctx, contract)


def parse_delivered(data: bytes, contract: SourceContract, rel: str) -> tuple[str, Any]:
    """What a worker process makes of one delivered file's bytes: ("parsed", the parsed file),
    or ("rejected", (the reason, every row as raw text)) for a file rejected whole."""
    try:
        return "parsed", read_delivery(io.BytesIO(data), contract, rel)
    except RejectedFile as exc:
        return "rejected", (str(exc), rejected_file_rows(io.BytesIO(data), contract, f"file rejected: {exc}",
                                                         exc.first_line_is_data))


@dataclass(frozen=True)
class _Decided:
    """One delivered file as the landing decided on it, in file order: its lineage and status,
    or its load line when there is nothing to parse."""

    lineage: Lineage
    status: str
    load: dict | None = None


def _land(ctx: JobContext, contract: SourceContract) -> JobResult:
    name = f"bronze_{contract.name}"
    commits = _Commits()
    removed, dead_runs = repair_unlogged(ctx.lake, contract.name, commits)
    files = delivered_files(ctx.settings.deliveries, contract, ctx.since)
    known_pairs, first_path = _known_files(ctx.lake, contract.name)
    batch = _Batch(ctx.lake, contract.name, commits)
    read = quarantined = 0
    statuses: dict[str, int] = {}
    notes: list[str] = []

    def decided() -> Iterator[tuple[_Decided, tuple | None]]:
        """Each new file in order, with the bytes to parse when it is to be parsed. Opened,
        checked and hashed here, in this process: a worker gets bytes, never a path."""
        for index, file in enumerate(files):
            ctx.progress(index / max(len(files), 1), file.rel)
            with _open_or_refuse(file) as (handle, refused):
                sha = ""
                if refused is None:
                    try:
                        sha = file_sha256(handle)
                    except OSError as exc:
                        refused = f"could not be read ({exc.__class__.__name__}: {exc.strerror})"
                if (file.rel, sha) in known_pairs:
                    continue  # this very file (or this very refusal) has its load line already
                # Stamped now, in file order, not at the run's start: silver reads rows newer than
                # its watermark, so rows must never land older than rows already landed (a landing
                # that waited for the lease, or the next batch of this one while silver reads the first).
                lineage = Lineage(contract.name, file.rel, sha, contract.period_of(Path(file.path).name),
                                  datetime.now(timezone.utc), ctx.run_id)
                if refused is not None:
                    yield _Decided(lineage, "refused", _loads_row(lineage, "refused", f"{file.rel} {refused}",
                                                                  0, 0, 0)), None
                elif sha in first_path:
                    yield _Decided(lineage, "skipped_duplicate", _loads_row(
                        lineage, "skipped_duplicate", f"{file.rel}: same bytes as {first_path[sha]}, already loaded",
                        0, 0, 0)), None
                else:
                    first_path[sha] = file.rel
                    handle.seek(0)
                    yield _Decided(lineage, "parse"), (handle.read(), contract, file.rel)

    for decision, outcome in ordered_map(parse_delivered, decided()):
        lineage, status = decision.lineage, decision.status
        if outcome is None:
            batch.add(decision.load)
        elif outcome[0] == "rejected":
            reason, raw_rows = outcome[1]
            rows = quarantine_rows(raw_rows, lineage, "bronze")
            status = "rejected"
            batch.add(_loads_row(lineage, status, reason, rows.num_rows, 0, rows.num_rows), quarantine=rows)
            read += rows.num_rows
            quarantined += rows.num_rows
        else:
            parsed = outcome[1]
            rows, rejects = to_bronze(parsed, lineage)
            status = "loaded"
            batch.add(_loads_row(lineage, status, "; ".join(parsed.notes), parsed.rows_read, rows.num_rows,
                                 rejects.num_rows), bronze=rows, quarantine=rejects)
            read += parsed.rows_read
            quarantined += rejects.num_rows
            notes.extend(parsed.notes)
        statuses[status] = statuses.get(status, 0) + 1
    batch.commit()
    written = batch.written
    if written["bronze"] + written["quarantine"] != read:
        raise AssertionError(f"{name}: read {read} rows but wrote {written['bronze']} + quarantined "
                             f"{written['quarantine']}")
    new_files = statuses.get("loaded", 0) + statuses.get("rejected", 0)
    messages = [JobMessage.of("jobmsg.files", new=new_files, duplicates=statuses.get("skipped_duplicate", 0))]
    if statuses.get("refused"):
        messages.append(JobMessage.of("jobmsg.refused", n=statuses["refused"]))
    if removed or dead_runs:
        messages.append(JobMessage.of("jobmsg.repaired", rows=removed, runs=", ".join(dead_runs)))
    if notes:  # the readers' notes are in workbench.loads, file by file
        messages.append(JobMessage.of("jobmsg.reader_notes", n=len(notes)))
    return JobResult(name=name, status="ok" if written["loads"] or removed else "skipped", rows_read=read,
                     rows_written=written["bronze"], rows_quarantined=quarantined, messages=tuple(messages))


def _job(contract: SourceContract) -> Job:
    spec = JobSpec(
        name=f"bronze_{contract.name}",
        layer="bronze",
        description=f"Land {contract.title_en} ({contract.format}) as delivered, with lineage",
        inputs=(f"deliveries/{contract.folder}/{contract.pattern}",),
        outputs=(f"bronze.{contract.name}",),
        appends=(f"quarantine.{contract.name}", LOADS),
    )
    return Job(spec=spec, main=lambda ctx: land_source(ctx, contract))


JOBS = [_job(c) for c in load_contracts().values()]
