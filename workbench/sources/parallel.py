"""Parse delivered files on every core, and hand the results back in delivery order.

A landing spends most of its time turning file bytes into Arrow tables in Python (the
workbook reader's bounds checks and cell conversion, the CSV and JSON readers), work that
holds the interpreter's lock: threads would take turns, so the files are parsed in worker
processes. The landing itself stays in one process and in file order (hashing, duplicate
checks, commits, load lines), so what it commits, and what a killed landing leaves, is the
same as when it parsed every file itself.

At most ``workers + 1`` files are in flight: the memory a landing holds is bounded by a few
files, never by the delivery's size.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import threading
import time
import types
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS_ENV = "WORKBENCH_PARSE_WORKERS"  # 1: parse in the landing's own process (no workers)

_pool: ProcessPoolExecutor | None = None
_pool_workers = 0
_lock = threading.Lock()


def parse_workers() -> int:
    """Worker processes for parsing: the cores this process may use (``WORKBENCH_PARSE_WORKERS``
    overrides), at most 8."""
    configured = os.environ.get(WORKERS_ENV)
    if configured:
        return max(1, int(configured))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def _executor(workers: int) -> ProcessPoolExecutor:
    """One pool per process, started on first use and reused by every landing after it
    (starting workers costs about a second). A forkserver, not fork: this process runs the
    engine client's threads, and a forked copy of them can deadlock."""
    global _pool, _pool_workers
    with _lock:
        if _pool is None or _pool_workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
                atexit.unregister(_discard_pool)
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["workbench.sources.readers"])
            initializer, initargs = orphan_guard()
            _pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer,
                                        initargs=initargs)
            _pool_workers = workers
            # Registered now, after multiprocessing's own exit handler (which waits for every
            # child to end), so that it runs first (last in, first out) and tells the workers to
            # end: the other way round, a finished landing waited for its idle workers for ever.
            atexit.register(_discard_pool)
        return _pool


def _start_ticks(pid: int) -> tuple[str, bytes] | None:
    """(state, start time in clock ticks since boot) of *pid* from /proc, or None when it is gone.
    Ticks since boot, not a wall-clock time: a clock stepped by NTP must not look like another
    process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()  # after "pid (name) ": state is field 3, start 22
    return fields[0].decode(), fields[19]


@contextmanager
def without_main_module() -> Iterator[None]:
    """Start worker processes inside this block: a forkserver or spawned child runs the parent's
    ``__main__`` file again before its work, and a process whose ``__main__`` is whatever ran it
    last (a page script a test ran with runpy) would crash its workers. The workers' functions
    live in importable modules and need nothing from ``__main__``."""
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def orphan_guard() -> tuple[Callable[..., None], tuple[Any, ...]]:
    """A pool initializer and its arguments that make each worker exit when this process is
    gone, even killed with SIGKILL (:func:`_stop_with`)."""
    me = os.getpid()
    return _stop_with, (me, _start_ticks(me))


def _stop_with(landing_pid: int, started: tuple[str, bytes] | None) -> None:
    """In each worker: exit when the landing's process is gone (even killed with SIGKILL). A
    worker is the forkserver's child, not the landing's, and every worker holds the pipe that
    would tell the forkserver its parent died: without this, workers and forkserver would wait
    for each other for ever, holding the landing's output pipes open."""

    def watch() -> None:
        while True:
            now = _start_ticks(landing_pid)
            if now is None or now[0] == "Z" or (started is not None and now[1] != started[1]):
                os._exit(0)
            time.sleep(0.5)

    if started is not None:  # not Linux: the pool's own shutdown is all there is
        threading.Thread(target=watch, name="landing-watch", daemon=True).start()


def _discard_pool(broken: ProcessPoolExecutor | None = None) -> None:
    """Shut the pool down (at exit), or only *broken* if it is still the pool: another landing of
    this process may have started a fresh one since."""
    global _pool
    with _lock:
        if broken is not None and _pool is not broken:
            return
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            atexit.unregister(_discard_pool)
        _pool = None


def ordered_map(function: Callable[..., R], items: Iterable[tuple[T, tuple[Any, ...] | None]]) -> Iterator[
        tuple[T, R | None]]:
    """For each ``(tag, args)`` of *items*, in order: ``(tag, function(*args))``, computed in a
    worker process, or ``(tag, None)`` when *args* is None (nothing to compute for that item).

    *items* is consumed lazily, a bounded number ahead of what has been handed back, so the
    caller may do its in-order work (hashing, checks) inside the iterator. An exception raised
    by *function* is raised here, at its item. A worker that died (killed for memory) fails the
    landing at that item; the pool is started afresh for the next."""
    workers = parse_workers()
    if workers == 1:
        for tag, args in items:
            yield tag, None if args is None else function(*args)
        return
    executor = _executor(workers)
    pending: deque[tuple[T, Future | None]] = deque()
    try:
        for tag, args in items:
            pending.append((tag, None if args is None else executor.submit(function, *args)))
            while len(pending) > workers:
                yield _next(pending)
        while pending:
            yield _next(pending)
    except BrokenProcessPool:
        _discard_pool(executor)
        raise
    finally:
        for _, future in pending:
            if future is not None:
                future.cancel()


def _next(pending: deque) -> tuple[Any, Any]:
    tag, future = pending.popleft()
    return tag, None if future is None else future.result()
