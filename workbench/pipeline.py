"""Job registry, graph and runner: ``workbench jobs list`` / ``workbench jobs run``.

A job is a :class:`Job`: a spec (name, layer, what it reads, what it writes) and a
``main`` taking a :class:`JobContext`. Job modules in ``jobs/`` declare ``JOBS``;
:class:`PipelineGraph` orders them by what they read and write (a job runs after every
job that writes a table it reads), and refuses a table with two writers and a cycle.

The runner gives every run an id, times each job, reports progress, and returns one
:class:`JobResult` per job. A job sees the lake through :class:`DeclaredLake`: reading
or writing a table its spec does not name fails, so the graph is the truth about the
pipeline. A job runs again only when something it reads changed: the Delta versions of
its input tables (or the delivered files of a bronze job) are recorded after each
successful run, and a run that finds the same versions, and its own tables as it left
them, skips the job without starting it.
"""

from __future__ import annotations

import hashlib
import heapq
import importlib
import json
import os
import time
import traceback
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pyarrow as pa

from workbench.config import Settings, load_settings
from workbench.engine import (
    engine_memory_limit,
    linkage_memory_limit,
    out_of_engine_memory,
    out_of_engine_spill,
    out_of_linkage_memory,
    running_spill_limit,
)
from workbench.i18n import translate
from workbench.lake import Lake
from workbench.sources.lease import exclusive

ProgressFn = Callable[[str, float, str], None]

# The registry: every module that declares jobs, in name order. The run order is the graph's
# (a job after the jobs whose tables it reads); between jobs that do not depend on each other,
# the layer and then this order decide, so runs list their jobs the same way every time.
JOB_MODULES = ("jobs.bronze", "jobs.gold_panels", "jobs.quality_panel", "jobs.silver_enterprises",
               "jobs.silver_linkage", "jobs.silver_monthly", "jobs.silver_other")
LAYER_ORDER = ("bronze", "silver", "gold", "quality")

DELIVERIES = "deliveries/"  # an input that starts so is a file pattern under the deliveries folder
# The runner's own bookkeeping, which every job may read and write: not part of the graph.
WATERMARKS = "workbench.watermarks"
BUILD_INPUTS = "workbench.build_inputs"
RUNNER_STATE = frozenset({WATERMARKS, BUILD_INPUTS})


@dataclass(frozen=True)
class JobSpec:
    """What a job is: its *inputs* (tables, or delivery file patterns under ``deliveries/``),
    the tables it owns (*outputs*: no other job writes them) and the ledgers it adds rows to
    (*appends*: the load log, a source's quarantine). Several jobs may append to one ledger;
    a job that reads a ledger runs after all of them."""

    name: str
    layer: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    appends: tuple[str, ...] = ()

    @property
    def writes(self) -> tuple[str, ...]:
        return self.outputs + self.appends

    @property
    def input_tables(self) -> tuple[str, ...]:
        return tuple(i for i in self.inputs if not i.startswith(DELIVERIES))

    @property
    def delivery_patterns(self) -> tuple[str, ...]:
        return tuple(i[len(DELIVERIES):] for i in self.inputs if i.startswith(DELIVERIES))


@dataclass(frozen=True)
class JobMessage:
    """One catalogued sentence of a job's result: a ``workbench.i18n`` key (``jobmsg.*``) and its
    arguments, so the page can say it in the reader's language at any later time. Arguments
    are plain values (numbers, identifiers, ``YYYY-MM`` months) kept as sorted pairs: the spec
    is hashable and can be stored as it is."""

    key: str
    args: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, key: str, **args: object) -> "JobMessage":
        return cls(key, tuple(sorted(args.items())))

    def text(self, lang: str = "en") -> str:
        """The sentence with its arguments as they are (identifiers stay identifiers); the
        page's rendering (``workbench.app.job_views``) also names sources and months."""
        return translate(self.key, lang, **dict(self.args))


MESSAGE_SEPARATOR = {"en": "; ", "zh": "；"}


def say(messages: Sequence[JobMessage], lang: str = "en") -> str:
    return MESSAGE_SEPARATOR.get(lang, "; ").join(m.text(lang) for m in messages)


@dataclass
class JobResult:
    """What one job did. ``messages`` is the result in catalogued sentences (shown by the page
    in the UI language); ``message`` is the same in English for logs and the command line,
    filled from ``messages`` when not given (a failure also keeps its traceback there)."""

    name: str
    status: str  # "ok" | "skipped" | "failed"
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    seconds: float = 0.0
    message: str = ""
    messages: tuple[JobMessage, ...] = ()

    def __post_init__(self) -> None:
        if not self.message and self.messages:
            self.message = say(self.messages)


@dataclass
class JobContext:
    lake: Lake
    settings: Settings
    run_id: str
    since: str | None = None  # "YYYY-MM": only deliveries for this period or later
    progress: Callable[[float, str], None] = lambda fraction, message: None
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


@dataclass(frozen=True)
class Job:
    spec: JobSpec
    main: Callable[[JobContext], JobResult]


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def failure_message(exc: BaseException, settings: Settings) -> JobMessage:
    """What the page says of a job that raised *exc*: the setting to change when it ran out of
    memory (the linkage's DuckDB or the embedded engine) or temporary disk, else the error itself."""
    # DuckDB's words first: its "failed to allocate" also reads as the engine's
    if out_of_linkage_memory(exc):
        return JobMessage.of("jobmsg.linkage_memory", limit=f"{linkage_memory_limit(settings) / 2**30:.1f} GiB")
    # before memory: DataFusion words a full spill as "resources exhausted" too
    if settings.engine.embedded and out_of_engine_spill(exc):
        directory, limit = running_spill_limit(settings)
        return JobMessage.of("jobmsg.engine_spill", directory=directory, limit=_size(limit))
    if settings.engine.embedded and out_of_engine_memory(exc):
        return JobMessage.of("jobmsg.engine_memory", limit=f"{engine_memory_limit(settings) / 2**30:.1f} GiB")
    return JobMessage.of("jobmsg.failed", error=f"{exc.__class__.__name__}: {exc}")


class PipelineError(ValueError):
    """A pipeline that cannot run as declared: two jobs own one table, jobs wait for each other
    in a circle, or a job touched a table it did not declare. Carries a catalogued sentence
    (``message``) so pages say it in their language; ``str()`` is the English."""

    def __init__(self, key: str, **args: object) -> None:
        self.message = JobMessage.of(key, **args)
        super().__init__(self.message.text("en"))


@dataclass(frozen=True)
class PipelineGraph:
    """The jobs ordered by what they read and write.

    ``order`` runs every job after the jobs that write the tables it reads (ties keep the
    registry's order); ``owner`` names the one job that writes each owned table;
    ``upstream`` names, for each job, the jobs it runs after."""

    order: tuple[Job, ...]
    owner: dict[str, str]
    appenders: dict[str, tuple[str, ...]]
    upstream: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, jobs: Sequence[Job]) -> "PipelineGraph":
        owner: dict[str, str] = {}
        appenders: dict[str, list[str]] = {}
        for job in jobs:
            for table in job.spec.outputs:
                if table in owner:
                    raise PipelineError("pipeline.two_writers", table=table, first=owner[table], second=job.spec.name)
                owner[table] = job.spec.name
            for table in job.spec.appends:
                appenders.setdefault(table, []).append(job.spec.name)
        for table, names in appenders.items():
            if table in owner:
                raise PipelineError("pipeline.two_writers", table=table, first=owner[table], second=names[0])
        upstream: dict[str, tuple[str, ...]] = {}
        for job in jobs:
            writers = []
            for table in job.spec.input_tables:
                writers += [owner[table]] if table in owner else appenders.get(table, [])
            upstream[job.spec.name] = tuple(dict.fromkeys(w for w in writers if w != job.spec.name))
        return cls(_topological(jobs, upstream), owner, {t: tuple(n) for t, n in appenders.items()}, upstream)

    @property
    def names(self) -> list[str]:
        return [j.spec.name for j in self.order]

    def external_inputs(self) -> list[str]:
        """Tables jobs read that no job writes: written by people through the app (clerical
        decisions) or delivered from outside; the graph's sources besides the delivery files."""
        written = set(self.owner) | set(self.appenders)
        return sorted({t for j in self.order for t in j.spec.input_tables} - written)


def _topological(jobs: Sequence[Job], upstream: dict[str, tuple[str, ...]]) -> tuple[Job, ...]:
    """Kahn's algorithm; where the graph leaves a choice, the earlier layer and then the registry
    position go first: deterministic, and bronze before silver before gold where nothing says
    otherwise."""
    position = {j.spec.name: i for i, j in enumerate(jobs)}
    rank = {j.spec.name: (LAYER_ORDER.index(j.spec.layer), i) for i, j in enumerate(jobs)}
    waiting = {name: set(ups) for name, ups in upstream.items()}
    downstream: dict[str, list[str]] = {}
    for name, ups in upstream.items():
        for up in ups:
            downstream.setdefault(up, []).append(name)
    ready = [(rank[n], n) for n, ups in waiting.items() if not ups]
    heapq.heapify(ready)
    order: list[Job] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(jobs[position[name]])
        for down in downstream.get(name, []):
            waiting[down].discard(name)
            if not waiting[down]:
                heapq.heappush(ready, (rank[down], down))
    if len(order) < len(jobs):
        stuck = sorted(n for n, ups in waiting.items() if ups)
        raise PipelineError("pipeline.cycle", jobs=", ".join(stuck))
    return tuple(order)


def all_jobs() -> list[Job]:
    """Every registered job, in run order."""
    return list(pipeline_graph().order)


def registered_jobs() -> list[Job]:
    jobs: list[Job] = []
    for module in JOB_MODULES:
        jobs.extend(importlib.import_module(module).JOBS)
    return jobs


def pipeline_graph() -> PipelineGraph:
    return PipelineGraph.of(registered_jobs())


def list_jobs() -> list[JobSpec]:
    return [j.spec for j in all_jobs()]


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "_" + uuid.uuid4().hex[:8]


# ---- the lake as one job sees it ----------------------------------------------------------

_READS = frozenset({"exists", "version", "history", "arrow_schema", "row_count", "rows_added", "describe", "read",
                    "read_arrow", "distinct_values", "pinned_versions", "path"})
_WRITES = frozenset({"write", "merge", "append_arrow", "create_empty", "delete_where", "vacuum", "exclusive"})


class DeclaredLake:
    """A :class:`~workbench.lake.Lake` that lets one job read only the tables its spec reads
    or writes, and write only the tables it writes (plus the runner's bookkeeping). Anything
    else raises :class:`PipelineError` naming the job and the table: an undeclared read is an
    edge missing from the graph, and the job would run in the wrong order or not rerun when
    that table changes. Everything that names no table passes through."""

    def __init__(self, lake: Lake, spec: JobSpec) -> None:
        self._lake = lake
        self._job = spec.name
        self._writable = frozenset(spec.writes) | RUNNER_STATE
        self._readable = frozenset(spec.input_tables) | self._writable

    def __getattr__(self, attr: str) -> Any:
        found = getattr(self._lake, attr)
        if attr in _READS:
            return self._guarded(found, self._readable, "pipeline.undeclared_read")
        if attr in _WRITES:
            return self._guarded(found, self._writable, "pipeline.undeclared_write")
        return found

    def _guarded(self, method: Callable, allowed: frozenset[str], refusal: str) -> Callable:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            table = args[0] if args else kwargs.get("name")
            if table not in allowed:
                raise PipelineError(refusal, job=self._job, table=table)
            return method(*args, **kwargs)
        return guarded


# ---- what a job last read ------------------------------------------------------------------

BUILD_INPUTS_SCHEMA = pa.schema([("job", pa.string()), ("inputs", pa.string()), ("run_id", pa.string()),
                                 ("built_at", pa.timestamp("us", tz="UTC"))])


def delivered_files_signature(deliveries: str | Path, pattern: str) -> str:
    """A digest of the files matching *pattern* (under the deliveries folder): path, size,
    modification time and type of each, as ``make`` would look at them. Reading no file, it
    costs a folder listing; a new, grown, touched or replaced file changes it."""
    root = Path(deliveries)
    entries = []
    for path in sorted(root.glob(pattern)):
        st = os.lstat(path)
        entries.append(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def input_state(spec: JobSpec, lake: Lake, settings: Settings, since: str | None) -> dict[str, Any]:
    """What *spec*'s job reads, as it is now: each input table's Delta version (None when it
    does not exist yet), each delivery pattern's file digest, and the ``--since`` month, which
    changes what a bronze job lands."""
    state: dict[str, Any] = {t: lake.version(t) if lake.exists(t) else None for t in spec.input_tables}
    for pattern in spec.delivery_patterns:
        state[DELIVERIES + pattern] = delivered_files_signature(settings.deliveries, pattern)
    if spec.delivery_patterns:
        state["since"] = since
    return state


def output_state(spec: JobSpec, lake: Lake) -> dict[str, int | None]:
    """The Delta version of each table *spec*'s job owns. Ledgers are left out: other jobs
    append to them, and that says nothing about this job's work."""
    return {t: lake.version(t) if lake.exists(t) else None for t in spec.outputs}


def last_build(lake: Lake, job: str) -> dict[str, Any] | None:
    """What *job* read (``in``) and left (``out``) at its last successful run, or None."""
    if not lake.exists(BUILD_INPUTS):
        return None
    import pyarrow.compute as pc

    # this job's records only: the table holds every job's, one per successful run
    rows = lake.read_arrow(BUILD_INPUTS, ["inputs", "built_at"], where=pc.field("job") == job).to_pylist()
    if not rows:
        return None
    stored = json.loads(max(rows, key=lambda r: r["built_at"])["inputs"])
    # rows from before the graph recorded only the input versions: never taken as current
    return stored if isinstance(stored, dict) and set(stored) == {"in", "out"} else None


def record_build(lake: Lake, spec: JobSpec, read: dict[str, Any], run_id: str) -> None:
    state = {"in": read, "out": output_state(spec, lake)}
    lake.append_arrow(BUILD_INPUTS, pa.Table.from_pylist(
        [{"job": spec.name, "inputs": json.dumps(state, sort_keys=True), "run_id": run_id,
          "built_at": datetime.now(timezone.utc)}], schema=BUILD_INPUTS_SCHEMA))


def up_to_date(spec: JobSpec, lake: Lake, read: dict[str, Any]) -> bool:
    """True when the job's last successful run read exactly *read* and nothing has written its
    tables since: running it again would write what is there."""
    last = last_build(lake, spec.name)
    return last is not None and last["in"] == read and last["out"] == output_state(spec, lake)


@contextmanager
def holding_outputs(job: Job, lake: Lake, run_id: str) -> Iterator[None]:
    """Hold the lease of every table *job* writes while it runs. A silver job reads its
    watermark, writes its table, then writes the watermark: two at once both read the old
    watermark and both wrote the same rows (every row twice). Taken in name order, so two
    jobs that share tables never wait for each other in a circle. Bronze jobs are left
    out: each holds its own source's lease (``jobs.bronze``), and their shared
    ``workbench.loads`` is only appended to."""
    with ExitStack() as stack:
        if job.spec.layer != "bronze":
            for table in sorted(set(job.spec.writes)):
                stack.enter_context(exclusive(lake.root, table, run_id, activity="written"))
        yield


def run_jobs(
    names: Sequence[str] | str = "all",
    *,
    lake: Lake | None = None,
    settings: Settings | None = None,
    since: str | None = None,
    progress: ProgressFn | None = None,
    force: bool = False,
) -> list[JobResult]:
    """Run the named jobs (or "all") in the graph's order; a failed job does not stop later
    independent jobs, and its error is in the result's message. A job whose inputs and
    tables are as its last successful run left them is skipped unless *force* (after a change
    of code or configuration, which the recorded versions cannot see)."""
    settings = settings or load_settings()
    lake = lake or Lake.from_settings(settings)
    jobs = all_jobs()
    known = {j.spec.name: j for j in jobs}
    if names == "all" or names == ["all"]:
        selected = jobs
    else:
        wanted = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise ValueError(f"unknown job(s) {unknown}; known jobs: {', '.join(known)}")
        selected = [j for j in jobs if j.spec.name in wanted]
    run_id = new_run_id()
    results = []
    for job in selected:
        name = job.spec.name

        def report(fraction: float, message: str, _name: str = name) -> None:
            if progress:
                progress(_name, max(0.0, min(1.0, fraction)), message)

        ctx = JobContext(lake=DeclaredLake(lake, job.spec), settings=settings, run_id=run_id, since=since,
                         progress=report)
        started = time.perf_counter()
        report(0.0, "started")
        try:
            with holding_outputs(job, lake, run_id):
                # read under the leases: a run that waited for another finds what that one left
                read = input_state(job.spec, lake, settings, since)
                if not force and up_to_date(job.spec, lake, read):
                    result = JobResult(name=name, status="skipped", messages=(JobMessage.of("jobmsg.unchanged"),))
                else:
                    result = job.main(ctx)
                    if result.status == "ok":
                        record_build(lake, job.spec, read, run_id)
        except Exception as exc:  # reported per job, the run goes on
            # the page shows the error line; logs and the command line also get the traceback
            error = f"{exc.__class__.__name__}: {exc}"
            said = failure_message(exc, settings)
            result = JobResult(name=name, status="failed", message=f"{error}\n{traceback.format_exc(limit=3)}",
                               messages=(said,))
        result.seconds = time.perf_counter() - started
        report(1.0, result.status)
        results.append(result)
    return results
