"""The ``workbench`` command.

Each command group lives in a function ``_add_<group>`` that registers its
subcommands; a new group (jobs, quality, api...) slots in by adding one function
to ``GROUPS``. Handlers import their modules lazily so ``workbench --help``
stays fast.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Sequence

from workbench.config import DEMO_SCALES, SettingsError, load_settings


def _print_table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


# ---- cluster ------------------------------------------------------------------

def _cluster_cluster(args: argparse.Namespace):
    from workbench.cluster import Cluster

    return Cluster(args.state_dir, connect_port=getattr(args, "port", None))


def _cluster_up(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    state = _cluster_cluster(args).up()
    print(f"master:   {state.master_url}  (status page http://127.0.0.1:{state.master_ui_port})")
    print(f"workers:  {', '.join(n for n in state.pids if n.startswith('worker'))}")
    print(f"connect:  {state.url}  ({time.perf_counter() - started:.0f} s)")
    print(f"use it:   export WORKBENCH_ENGINE_REMOTE={state.url}")
    return 0


def _cluster_down(args: argparse.Namespace) -> int:
    stopped = _cluster_cluster(args).down()
    print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    return 0


def _cluster_status(args: argparse.Namespace) -> int:
    cluster = _cluster_cluster(args)
    state = cluster.state()
    if state is None:
        print("no cluster recorded in", cluster.state_dir)
        return 1
    running = cluster.running()
    _print_table([(name, pid, "running" if running[name] else "stopped") for name, pid in state.pids.items()],
                 ["process", "pid", "state"])
    print(f"workers alive at the master: {cluster.workers_alive()}; connect: {state.url}")
    return 0 if all(running.values()) else 1


def _add_cluster(sub: argparse._SubParsersAction) -> None:
    cluster = sub.add_parser("cluster", help="a local Apache Spark cluster (master, 2 workers, Spark Connect)")
    csub = cluster.add_subparsers(dest="action", required=True)
    for name, func, text in (("up", _cluster_up, "start master, two workers and the Spark Connect server"),
                             ("down", _cluster_down, "stop every process `up` started"),
                             ("status", _cluster_status, "the recorded processes and whether they run")):
        cmd = csub.add_parser(name, help=text)
        cmd.add_argument("--state-dir", default=None, help="default: $WORKBENCH_CLUSTER_DIR or var/cluster")
        if name == "up":
            cmd.add_argument("--port", type=int, default=15002, help="Spark Connect port (default 15002)")
        cmd.set_defaults(func=func)


# ---- engine -------------------------------------------------------------------

def _engine_check(args: argparse.Namespace) -> int:
    from workbench.engine import engine_kind, get_spark

    settings = load_settings()
    started = time.perf_counter()
    spark = get_spark(settings)
    ready = time.perf_counter() - started
    t0 = time.perf_counter()
    total = spark.range(1_000_000).selectExpr("sum(id) AS s").collect()[0]["s"]
    query = time.perf_counter() - t0
    assert total == 499_999_500_000, total
    print(f"engine:   {engine_kind(settings)}")
    print(f"version:  {spark.version}")
    print(f"started:  {ready:.2f} s")
    print(f"query:    sum over 1,000,000 rows = {total} in {query:.2f} s")
    return 0


def _add_engine(sub: argparse._SubParsersAction) -> None:
    engine = sub.add_parser("engine", help="the Spark Connect engine")
    esub = engine.add_subparsers(dest="action", required=True)
    check = esub.add_parser("check", help="start the engine, run a query, print kind, version and time")
    check.set_defaults(func=_engine_check)


# ---- lake ---------------------------------------------------------------------

def _lake_list(args: argparse.Namespace) -> int:
    from workbench.lake import Lake

    lake = Lake.from_settings()
    infos = lake.tables()
    if not infos:
        print(f"no tables under {lake.root}")
        return 0
    rows = [
        (i.name, i.version, f"{i.rows:,}", len(i.columns),
         time.strftime("%Y-%m-%d %H:%M", time.gmtime(i.last_modified)) if i.last_modified else "")
        for i in infos
    ]
    _print_table(rows, ["table", "version", "rows", "columns", "last write (UTC)"])
    return 0


def _lake_history(args: argparse.Namespace) -> int:
    from workbench.lake import Lake

    lake = Lake.from_settings()
    rows = []
    for h in lake.history(args.table, args.limit):
        params = h.get("operationParameters") or {}
        rows.append((
            h.get("version"),
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(h["timestamp"] / 1000)),
            h.get("operation"),
            _shorten(", ".join(f"{k}={v}" for k, v in params.items() if v not in (None, "", "[]")), 100),
        ))
    _print_table(rows, ["version", "time (UTC)", "operation", "parameters"])
    return 0


def _lake_vacuum(args: argparse.Namespace) -> int:
    from workbench.lake import Lake

    lake = Lake.from_settings()
    # Lake.vacuum itself keeps the versions released runs pinned; the command only reports them.
    files = lake.vacuum(args.table, retention_hours=args.retention_hours, dry_run=not args.apply)
    pinned = lake.pinned_versions(args.table)
    print(f"{'deleted' if args.apply else 'would delete'} {len(files)} file(s) from {args.table}"
          + (f"; kept versions {pinned} pinned by released runs" if pinned else ""))
    return 0


def _add_lake(sub: argparse._SubParsersAction) -> None:
    lake = sub.add_parser("lake", help="tables in the lake")
    lsub = lake.add_subparsers(dest="action", required=True)
    lsub.add_parser("list", help="every table with version, rows and columns").set_defaults(func=_lake_list)
    hist = lsub.add_parser("history", help="a table's Delta versions")
    hist.add_argument("table", help="logical name, e.g. bronze.vat_invoices")
    hist.add_argument("--limit", type=int, default=None)
    hist.set_defaults(func=_lake_history)
    vac = lsub.add_parser("vacuum", help="remove unreferenced files, keeping versions pinned by released runs")
    vac.add_argument("table")
    vac.add_argument("--retention-hours", type=int, default=168)
    vac.add_argument("--apply", action="store_true", help="delete (default: only list)")
    vac.set_defaults(func=_lake_vacuum)


# ---- demo ---------------------------------------------------------------------

def _demo_generate(args: argparse.Namespace) -> int:
    from workbench.demo.generate import generate

    settings = load_settings()
    manifest = generate(
        scale=args.scale or settings.demo.scale,
        seed=args.seed if args.seed is not None else settings.demo.seed,
        out=args.out or settings.demo_out,
        progress=True,
    )
    print(f"wrote {len(manifest['files'])} files to {manifest['out']} in {manifest['seconds']:.1f} s")
    return 0


def _demo_subset(args: argparse.Namespace) -> int:
    from workbench.demo.subset import Period, subset

    settings = load_settings()
    try:
        manifest = subset(args.source or settings.demo_out, args.out, Period(args.first, args.last))
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"wrote {len(manifest['files'])} files of {args.first}..{args.last} to {manifest['out']}")
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="the G City demo data")
    dsub = demo.add_subparsers(dest="action", required=True)
    gen = dsub.add_parser("generate", help="generate raw deliveries and the hidden truth")
    gen.add_argument("--scale", choices=DEMO_SCALES, default=None, help="default: [demo].scale")
    gen.add_argument("--seed", type=int, default=None, help="default: [demo].seed")
    gen.add_argument("--out", default=None, help="default: [demo].out")
    gen.set_defaults(func=_demo_generate)
    cut = dsub.add_parser("subset", help="the deliveries of fewer months of a generated demo, as a demo of its own")
    cut.add_argument("--from", dest="source", default=None, help="the generated demo (default: [demo].out)")
    cut.add_argument("--out", required=True, help="an empty or new folder")
    cut.add_argument("--first", required=True, help="first month, YYYY-MM")
    cut.add_argument("--last", required=True, help="last month, YYYY-MM")
    cut.set_defaults(func=_demo_subset)


# ---- jobs ---------------------------------------------------------------------

def _jobs_list(args: argparse.Namespace) -> int:
    from workbench.pipeline import pipeline_graph

    graph = pipeline_graph()
    # the graph as a list in run order: each job with the jobs it waits for and what it writes
    # (a ledger it only appends to is marked +)
    _print_table([(j.spec.name, j.spec.layer, ", ".join(graph.upstream[j.spec.name]) or "-",
                   ", ".join([*j.spec.outputs, *(f"+{t}" for t in j.spec.appends)]))
                  for j in graph.order],
                 ["job", "layer", "runs after", "writes (+ appends)"])
    external = graph.external_inputs()
    if external:
        print(f"\nwritten outside the pipeline (by people, through the app): {', '.join(external)}")
    return 0


def _jobs_run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from workbench.pipeline import list_jobs, run_jobs

    names = "all" if args.names == ["all"] else args.names
    if names != "all":
        unknown = [n for n in names if n not in {j.name for j in list_jobs()}]
        if unknown:
            print(f"workbench: no job named {', '.join(unknown)}; `workbench jobs list` names every job",
                  file=sys.stderr)
            return 2
    total = len(list_jobs()) if names == "all" else len(names)
    bar = tqdm(total=total, unit="job", dynamic_ncols=True)
    state = {"done": 0}

    def progress(job: str, fraction: float, message: str) -> None:
        bar.set_description(f"{job}: {message}"[:60])
        if fraction >= 1.0:
            state["done"] += 1
            bar.update(1)

    results = run_jobs(names, since=args.since, progress=progress, force=args.force)
    bar.close()
    _print_table(
        [(r.name, r.status, f"{r.rows_read:,}", f"{r.rows_written:,}", f"{r.rows_quarantined:,}", f"{r.seconds:.1f}",
          _shorten(r.message.splitlines()[0] if r.message else "", 70)) for r in results],
        ["job", "status", "read", "written", "quarantined", "seconds", "note"],
    )
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        print(f"\n{r.name} failed:\n{r.message}", file=sys.stderr)
    return 1 if failed else 0


def _add_jobs(sub: argparse._SubParsersAction) -> None:
    jobs = sub.add_parser("jobs", help="bronze, silver and gold jobs")
    jsub = jobs.add_subparsers(dest="action", required=True)
    jsub.add_parser("list", help="the pipeline's graph: every job in run order, what it waits for and writes"
                    ).set_defaults(func=_jobs_list)
    run = jsub.add_parser("run", help="run jobs by name, or all")
    run.add_argument("names", nargs="+", help="job names, or 'all'")
    run.add_argument("--since", default=None, help="only deliveries for this period (YYYY-MM) or later")
    run.add_argument("--force", action="store_true",
                     help="run jobs whose inputs did not change too (after a change of code or configuration)")
    run.set_defaults(func=_jobs_run)


# ---- quality ------------------------------------------------------------------

def _quality_progress():
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", dynamic_ncols=True, leave=False)

    def progress(message: str, fraction: float) -> None:
        bar.set_description(message[:60])
        bar.n = int(100 * min(max(fraction, 0.0), 1.0))
        bar.refresh()

    return bar, progress


def _quality_run(args: argparse.Namespace) -> int:
    from workbench.lake import Lake
    from workbench.quality import store

    lake = Lake.from_settings()
    bar, progress = _quality_progress()
    started = time.perf_counter()
    runs = store.run_all(lake, args.user, progress=progress) if args.table == "all" else \
        [store.run_rules(lake, args.table, args.user, progress=progress)]
    bar.close()
    _print_table([(r.table, r.counts.get("rules", ""), f"{r.counts.get('evaluated', 0):,}",
                   f"{r.counts.get('passed', 0):,}", f"{r.counts.get('failed', 0):,}",
                   f"{r.counts.get('missing', 0):,}", f"{r.seconds:.1f}") for r in runs],
                 ["table", "rules", "evaluated", "passed", "failed", "missing (na)", "seconds"])
    print(f"wrote {store.RESULTS} and {store.SUMMARY} in {time.perf_counter() - started:.1f} s")
    return 0


def _quality_impute(args: argparse.Namespace) -> int:
    from workbench.lake import Lake
    from workbench.quality import store

    bar, progress = _quality_progress()
    run = store.build_panel(Lake.from_settings(), args.user, progress=progress)
    bar.close()
    print(f"{store.PANEL} version {run.outputs[store.PANEL]}: "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(run.counts.items())) + f" ({run.seconds:.1f} s)")
    return 0


def _quality_rules(args: argparse.Namespace) -> int:
    from workbench.quality.rules import all_rule_sets, rule_set_for

    sets = [rule_set_for(args.table)] if args.table else list(all_rule_sets().values())
    _print_table([(rs.table, r.id, r.type, r.severity, _shorten(r.description_en, 70))
                  for rs in sets for r in rs.rules], ["table", "rule", "type", "severity", "description"])
    return 0


def _quality_queue(args: argparse.Namespace) -> int:
    from workbench.lake import Lake
    from workbench.quality import store

    queue = store.fraud_queue(Lake.from_settings())
    if queue.empty:
        print("no fraud queue yet: run `workbench quality run survey_returns`")
        return 0
    _print_table([(r["rank"], r["credit_code"], f"{r['peak_score']:.1f}", r["peak_period"],
                   r["months_gap_flagged"], f"{r['survey_to_vat']:.2f}", r["decision"] or "")
                  for _, r in queue.head(args.top).iterrows()],
                 ["rank", "credit code", "score", "peak month", "months flagged", "survey/VAT", "decision"])
    return 0


def _add_quality(sub: argparse._SubParsersAction) -> None:
    quality = sub.add_parser("quality", help="validation rules, outliers, fraud screening, imputation")
    qsub = quality.add_subparsers(dest="action", required=True)
    run = qsub.add_parser("run", help="evaluate a table's rules (conf/rules/), write quality.results and summary")
    run.add_argument("table", help="e.g. survey_returns or silver.survey_returns, or 'all'")
    run.add_argument("--user", default="system", help="who runs it (recorded in quality.runs)")
    run.set_defaults(func=_quality_run)
    imp = qsub.add_parser("impute", help="impute failed and missing survey cells into quality.survey_panel")
    imp.add_argument("--user", default="system")
    imp.set_defaults(func=_quality_impute)
    rules = qsub.add_parser("rules", help="list the rules")
    rules.add_argument("table", nargs="?", default=None)
    rules.set_defaults(func=_quality_rules)
    queue = qsub.add_parser("queue", help="the fraud review queue")
    queue.add_argument("--top", type=int, default=20)
    queue.set_defaults(func=_quality_queue)


# ---- serve --------------------------------------------------------------------

def _serve(args: argparse.Namespace) -> int:
    from workbench.app.server import serve

    return serve(port=args.port, headless=args.headless)


def _add_serve(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="start the Streamlit workbench")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--headless", action="store_true", help="do not open a browser")
    serve.set_defaults(func=_serve)


# ---- api ----------------------------------------------------------------------

def _api(args: argparse.Namespace) -> int:
    from workbench.disclosure.api import serve

    return serve(host=args.host, port=args.port)


def _add_api(sub: argparse._SubParsersAction) -> None:
    api = sub.add_parser("api", help="the read-only data API of released tables (conf/disclosure.toml [api])")
    api.add_argument("--host", default=None, help="default [api].host (127.0.0.1)")
    api.add_argument("--port", type=int, default=None, help="default [api].port")
    api.set_defaults(func=_api)


# ---- runs ---------------------------------------------------------------------

def _runs_list(args: argparse.Namespace) -> int:
    from workbench.lake import Lake
    from workbench.runs import registry, review

    lake = Lake.from_settings()
    runs = [r for r in registry.list_runs(lake) if args.kind is None or r.kind == args.kind][: args.limit]
    if not runs:
        print("no runs recorded" + (f" of kind {args.kind}" if args.kind else ""))
        return 0
    state = review.states(lake)
    rows = [(r.run_id, r.kind, state.get(r.run_id, ""), r.user, r.started_at.strftime("%Y-%m-%d %H:%M"),
             _shorten(r.title, 50)) for r in runs]
    _print_table(rows, ["run", "kind", "state", "user", "started (UTC)", "title"])
    return 0


def _runs_reproduce(args: argparse.Namespace) -> int:
    from workbench.lake import Lake
    from workbench.runs import registry

    lake = Lake.from_settings()
    try:
        run = registry.get_run(lake, args.run_id)
        result = registry.reproduce(lake, args.run_id, rtol=args.rtol)
    except registry.RunError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 1
    print(f"run {run.run_id} ({run.kind}) by {run.user}, code {run.code_commit[:10] or '?'}"
          + (" (uncommitted changes)" if run.code_dirty else ""))
    print("inputs: " + ", ".join(f"{t}@{v}" for t, v in sorted(run.inputs.items())))
    _print_table(sorted(result.details.items()), ["output", "comparison"])
    print(f"{'reproduced' if result.matches else 'NOT reproduced'} (floats to relative {args.rtol:g})")
    return 0 if result.matches else 1


def _add_runs(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser("runs", help="recorded runs: list them, rerun one on its pinned inputs")
    rsub = runs.add_subparsers(dest="action", required=True)
    lst = rsub.add_parser("list", help="runs, newest first, with kind, review state and user")
    lst.add_argument("--kind", default=None, help="only runs of this kind")
    lst.add_argument("--limit", type=int, default=50)
    lst.set_defaults(func=_runs_list)
    rep = rsub.add_parser("reproduce", help="rerun a run on the table versions it recorded and compare outputs; "
                                            "exit 1 when any output differs")
    rep.add_argument("run_id")
    rep.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance for floats (default 1e-9)")
    rep.set_defaults(func=_runs_reproduce)


GROUPS: list[Callable[[argparse._SubParsersAction], None]] = [_add_engine, _add_lake, _add_demo, _add_jobs,
                                                                _add_quality, _add_serve]
GROUPS.append(_add_api)
GROUPS.append(_add_cluster)
GROUPS.append(_add_runs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="G City statistics workbench: lake, jobs, methods and the app.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in GROUPS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"workbench: settings error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # one clean line for users, not a traceback
        from workbench.cluster import ClusterError
        from workbench.engine import EngineError
        from workbench.lake import LakeError
        from workbench.quality.rules import RuleError
        from workbench.quality.store import QualityError

        if isinstance(exc, (ClusterError, EngineError, LakeError, RuleError, QualityError)):
            print(f"workbench: {exc}", file=sys.stderr)
            return 1
        raise


def exit_now(code: int) -> None:
    """End the process with *code* once its work is done: Python's exit handlers run (the
    engine stops, logs flush), then the process leaves without the native libraries' own
    teardown. delta-rs's runtime threads can still be winding down at interpreter exit and
    abort it ("terminate called without an active exception", delta-rs issue 2184), which
    turned a finished job into exit status -6 for a scheduler."""
    import atexit
    import os

    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed pipe: nothing left to say
                pass
        os._exit(code)


def run() -> None:
    """The ``workbench`` command: :func:`main`, then :func:`exit_now` with its status."""
    exit_now(main())


if __name__ == "__main__":  # pragma: no cover
    run()
