"""Job registry and runner: ``workbench jobs list`` / ``workbench jobs run``.

A job is a :class:`Job`: a spec (name, layer, inputs, outputs) and a ``main``
taking a :class:`JobContext`. Job modules in ``jobs/`` declare ``JOBS``; this
module collects them in pipeline order. The runner gives every run an id, times
each job, reports progress, and returns one :class:`JobResult` per job.
"""

from __future__ import annotations

import importlib
import time
import traceback
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator, Sequence

from workbench.config import Settings, load_settings
from workbench.i18n import translate
from workbench.lake import Lake
from workbench.sources.lease import exclusive

ProgressFn = Callable[[str, float, str], None]

# Pipeline order: bronze before silver before gold; the edited survey panel (quality layer) last.
JOB_MODULES = ("jobs.bronze", "jobs.silver_enterprises", "jobs.silver_monthly", "jobs.silver_other",
               "jobs.silver_linkage", "jobs.gold_panels", "jobs.quality_panel")


@dataclass(frozen=True)
class JobSpec:
    name: str
    layer: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


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


def all_jobs() -> list[Job]:
    jobs: list[Job] = []
    for module in JOB_MODULES:
        jobs.extend(importlib.import_module(module).JOBS)
    return jobs


def list_jobs() -> list[JobSpec]:
    return [j.spec for j in all_jobs()]


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "_" + uuid.uuid4().hex[:8]


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
            for table in sorted(set(job.spec.outputs)):
                stack.enter_context(exclusive(lake.root, table, run_id, activity="written"))
        yield


def run_jobs(
    names: Sequence[str] | str = "all",
    *,
    lake: Lake | None = None,
    settings: Settings | None = None,
    since: str | None = None,
    progress: ProgressFn | None = None,
) -> list[JobResult]:
    """Run the named jobs (or "all") in pipeline order; a failed job does not stop later
    independent jobs, and its error is in the result's message."""
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

        ctx = JobContext(lake=lake, settings=settings, run_id=run_id, since=since, progress=report)
        started = time.perf_counter()
        report(0.0, "started")
        try:
            with holding_outputs(job, lake, run_id):
                result = job.main(ctx)
        except Exception as exc:  # noqa: BLE001 - reported per job, the run goes on
            # the page shows the error line; logs and the command line also get the traceback
            error = f"{exc.__class__.__name__}: {exc}"
            result = JobResult(name=name, status="failed", message=f"{error}\n{traceback.format_exc(limit=3)}",
                               messages=(JobMessage.of("jobmsg.failed", error=error),))
        result.seconds = time.perf_counter() - started
        report(1.0, result.status)
        results.append(result)
    return results
