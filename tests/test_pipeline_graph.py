"""The pipeline is a graph of declared reads and writes (issue 30, How 1).

The runner orders jobs by what they read and write, refuses a table with two writers, a
circle of jobs and any read or write a job did not declare, and runs a job again only when
something it reads changed. Real Delta tables on disk and the real engine; the registry's
own jobs, not stand-ins, wherever the point is the pipeline we ship.
"""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

from workbench.config import load_settings
from workbench.i18n import translate
from workbench.lake import Lake
from workbench.pipeline import (
    DeclaredLake,
    Job,
    JobResult,
    JobSpec,
    PipelineError,
    PipelineGraph,
    pipeline_graph,
    registered_jobs,
    run_jobs,
)


def job(name: str, reads: tuple[str, ...], writes: tuple[str, ...], appends: tuple[str, ...] = (),
        layer: str = "silver") -> Job:
    return Job(JobSpec(name, layer, name, reads, writes, appends), lambda ctx: JobResult(name, "ok"))


# ---- the graph --------------------------------------------------------------------------

def test_the_shipped_pipeline_runs_every_job_after_the_jobs_whose_tables_it_reads():
    graph = pipeline_graph()
    position = {name: i for i, name in enumerate(graph.names)}
    assert len(position) == len(registered_jobs())
    for name, upstream in graph.upstream.items():
        assert all(position[up] < position[name] for up in upstream), (name, upstream)
    # the edges the pipeline depends on, spelled out
    assert position["silver_linkage"] < position["gold_enterprise_month"] < position["gold_indicators_monthly"]
    assert {"bronze_register"} == set(graph.upstream["silver_enterprises"])
    assert "silver_social_insurance_monthly" in graph.upstream["silver_linkage"]
    # one owner per table: silver.links had two (the deterministic and the probabilistic job)
    assert graph.owner["silver.links"] == "silver_linkage"
    assert graph.external_inputs() == ["silver.link_reviews"]  # decided by reviewers in the app


def test_the_order_comes_from_the_graph_not_from_the_registry():
    jobs = registered_jobs()
    shuffled = PipelineGraph.of(list(reversed(jobs)))
    position = {name: i for i, name in enumerate(shuffled.names)}
    for name, upstream in shuffled.upstream.items():
        assert all(position[up] < position[name] for up in upstream), (name, upstream)
    assert sorted(shuffled.names) == sorted(pipeline_graph().names)


def test_a_table_with_two_writers_is_refused_naming_both():
    with pytest.raises(PipelineError) as refused:
        PipelineGraph.of([job("a", (), ("silver.t",)), job("b", (), ("silver.t",))])
    assert refused.value.message.key == "pipeline.two_writers"
    assert str(refused.value) == "silver.t is written by two jobs (a and b): one job owns each table"
    zh = refused.value.message.text("zh")
    assert "silver.t" in zh and "a" in zh and "b" in zh and "两个作业" in zh
    # a ledger may have several appenders, but not an owner besides them
    PipelineGraph.of([job("a", (), ("silver.a",), ("quarantine.x",)), job("b", (), ("silver.b",), ("quarantine.x",))])
    with pytest.raises(PipelineError):
        PipelineGraph.of([job("a", (), ("quarantine.x",)), job("b", (), ("silver.b",), ("quarantine.x",))])


def test_jobs_waiting_for_each_other_in_a_circle_are_refused():
    with pytest.raises(PipelineError) as refused:
        PipelineGraph.of([job("a", ("silver.b",), ("silver.a",)), job("b", ("silver.a",), ("silver.b",)),
                          job("c", (), ("silver.c",))])
    assert refused.value.message.key == "pipeline.cycle" and "a, b" in str(refused.value)


def test_a_reader_of_a_ledger_runs_after_every_job_that_appends_to_it():
    graph = PipelineGraph.of([job("audit", ("quarantine.x",), ("gold.audit",), layer="bronze"),
                              job("a", (), ("bronze.a",), ("quarantine.x",), layer="bronze"),
                              job("b", (), ("silver.b",), ("quarantine.x",))])
    assert graph.names == ["a", "b", "audit"]


# ---- declared reads and writes ------------------------------------------------------------

def test_a_job_may_touch_only_the_tables_it_declares(lake):
    table = pa.table({"x": [1, 2]})
    for name in ("silver.declared", "silver.other"):
        lake.append_arrow(name, table)
    seen = DeclaredLake(lake, JobSpec("j", "gold", "", ("silver.declared",), ("gold.mine",)))
    assert seen.read("silver.declared").count() == 2
    assert seen.version(name="silver.declared") == 0  # by keyword too
    with pytest.raises(PipelineError) as read:
        seen.read("silver.other")
    assert str(read.value) == "job j read silver.other, which its spec does not list"
    with pytest.raises(PipelineError):
        seen.exists("silver.other")
    with pytest.raises(PipelineError) as wrote:
        seen.append_arrow("silver.declared", table)  # an input is not an output
    assert wrote.value.message.key == "pipeline.undeclared_write"
    assert lake.version("silver.declared") == 0
    assert translate("pipeline.undeclared_write", "zh", job="j", table="silver.declared").startswith("作业 j 写入")
    seen.append_arrow("gold.mine", table)
    assert lake.row_count("gold.mine") == 2 and seen.root == lake.root  # what names no table passes


# ---- a job runs again only when what it reads changed -------------------------------------

HEADER = "户号,户名,用电地址,用电类别,抄表年月,用电量"


def electricity(month: str, accounts: int = 50) -> str:
    return HEADER + "\n" + "\n".join(f"E{i:05d},户{i},路{i}号,工业,{month},{100 + i}" for i in range(accounts)) + "\n"


def test_a_job_reruns_only_when_an_input_or_its_own_table_changed(tmp_path, spark):
    out, root = tmp_path / "demo", tmp_path / "lake"
    folder = out / "deliveries" / "electricity"
    folder.mkdir(parents=True)
    (folder / "elec_2024-01.csv").write_text(electricity("2024-01"), encoding="utf-8")
    settings = load_settings(environ={**os.environ, "WORKBENCH_DEMO_OUT": str(out), "WORKBENCH_LAKE_ROOT": str(root),
                                      "WORKBENCH_PSEUDONYM_KEY": "test-key-0123456789abcdef"})
    lake = Lake.from_settings(settings, spark=spark)
    names = ["silver_electricity_monthly", "bronze_electricity"]  # listed out of order: the graph orders them

    def run(**kwargs) -> dict[str, JobResult]:
        results = run_jobs(names, lake=lake, settings=settings, **kwargs)
        assert [r.name for r in results] == ["bronze_electricity", "silver_electricity_monthly"]
        return {r.name: r for r in results}

    first = run()
    assert {r.status for r in first.values()} == {"ok"}
    versions = {t: lake.version(t) for t in lake.table_names()}

    again = run()  # nothing new: neither job is started, nothing is written
    assert {r.status for r in again.values()} == {"skipped"}
    assert all(r.messages[0].key == "jobmsg.unchanged" for r in again.values())
    assert {t: lake.version(t) for t in lake.table_names()} == versions

    (folder / "elec_2024-02.csv").write_text(electricity("2024-02"), encoding="utf-8")
    new_month = run()  # a new file: bronze lands it, and silver takes the new bronze rows
    assert {r.status for r in new_month.values()} == {"ok"}
    assert lake.row_count("silver.electricity_monthly") == 100

    # someone wrote to the job's own table: the runner starts the job again rather than trust a
    # record of a table that is no longer as the job left it (what the job then does is its own)
    lake.delete_where("silver.electricity_monthly", "period = DATE '2024-02-01'")
    repaired = run()
    assert repaired["bronze_electricity"].status == "skipped"
    assert repaired["silver_electricity_monthly"].status in ("ok", "skipped")
    assert repaired["silver_electricity_monthly"].messages[0].key != "jobmsg.unchanged"

    forced = run(force=True)  # after a code change: every job is started, and finds its own work done
    assert all(r.messages[0].key != "jobmsg.unchanged" for r in forced.values())
