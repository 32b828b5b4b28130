"""Run registry, four-eyes review, releases with vintages and embargo, VACUUM protection."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from pyspark.sql import functions as F

from workbench.auth import User
from workbench.lake import AppendOnlyError
from workbench.runs import registry, review
from workbench.runs.release import list_releases, read_release, release_run, safe_vacuum, withdraw
from workbench.runs.review import ReviewError

STAT = User("stat", "Statistician", ("statistician",))
RESEARCH = User("research", "Researcher", ("researcher",))
SUPER = User("super", "Supervisor", ("supervisor",))
SUPER2 = User("super2", "Second supervisor", ("supervisor",))


@registry.method("test_group_totals")
def group_totals(inputs, params):
    df = inputs[params["table"]]
    out = df.groupBy("area").agg(F.sum("value").alias("total")).withColumn("total", F.col("total") * params["scale"])
    return {"estimates": out, "_metrics": {"areas": out.count()}}


@pytest.fixture()
def lake_with_input(spark, lake):
    lake.write("gold.sample", spark.createDataFrame(pd.DataFrame({"area": ["a", "a", "b"], "value": [1.0, 2.0, 5.0]})))
    return lake


def totals(df):
    return {r["area"]: r["total"] for r in df.collect()}


def test_run_records_versions_code_and_outputs(lake_with_input):
    lake = lake_with_input
    run_id = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 2.0}, ["gold.sample"],
                                 user=STAT, title="totals", series="sample_totals")
    run = registry.get_run(lake, run_id)
    assert run.inputs == {"gold.sample": lake.version("gold.sample")} and run.user == "stat" and run.params["scale"] == 2.0
    assert run.metrics == {"areas": 2} and len(run.code_commit) in (0, 40)
    assert run.ended_at >= run.started_at
    assert totals(registry.read_output(lake, run_id, "estimates")) == {"a": 6.0, "b": 10.0}
    assert review.state(lake, run_id) == "draft"


def test_reproduce_matches_on_pinned_versions_after_inputs_change(spark, lake_with_input):
    lake = lake_with_input
    run_id = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 1.0}, ["gold.sample"],
                                 user=STAT)
    lake.write("gold.sample", spark.createDataFrame(pd.DataFrame({"area": ["b"], "value": [100.0]})))
    result = registry.reproduce(lake, run_id)
    assert result.matches, result.details
    # the same method on the latest version gives other numbers: the pin is what made it match
    latest = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 1.0}, ["gold.sample"],
                                 user=STAT)
    assert totals(registry.read_output(lake, latest, "estimates"))["b"] == 105.0


def test_four_eyes_and_roles_are_enforced_in_the_library(lake_with_input):
    lake = lake_with_input
    own = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 1.0}, ["gold.sample"],
                              user=SUPER)
    review.submit(lake, own, SUPER)
    with pytest.raises(ReviewError, match="four-eyes"):
        review.approve(lake, own, SUPER)
    run_id = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 1.0}, ["gold.sample"],
                                 user=STAT)
    with pytest.raises(ReviewError, match="needs submitted"):
        review.approve(lake, run_id, SUPER)
    review.submit(lake, run_id, STAT)
    for not_supervisor in (STAT, RESEARCH):
        with pytest.raises(ReviewError, match="only a supervisor"):
            review.approve(lake, run_id, not_supervisor)
    with pytest.raises(ReviewError, match="needs a reason"):
        review.reject(lake, run_id, SUPER, "  ")
    review.reject(lake, run_id, SUPER, "CV too high in district b")
    review.submit(lake, run_id, STAT, "re-weighted")
    assert review.approve(lake, run_id, SUPER2) == "approved"
    trail = review.audit_trail(lake, run_id)
    assert [(e.action, e.before, e.after, e.user) for e in trail] == [
        ("record", None, "draft", "stat"), ("submit", "draft", "submitted", "stat"),
        ("reject", "submitted", "rejected", "super"), ("submit", "rejected", "submitted", "stat"),
        ("approve", "submitted", "approved", "super2")]
    assert trail[2].comment == "CV too high in district b"


def test_audit_trail_cannot_be_rewritten(spark, lake_with_input):
    lake = lake_with_input
    run_id = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 1.0}, ["gold.sample"],
                                 user=STAT)
    forged = lake.read("workbench.audit").withColumn("user", F.lit("someone-else"))
    with pytest.raises(AppendOnlyError):
        lake.write("workbench.audit", forged, mode="overwrite")
    with pytest.raises(AppendOnlyError):
        lake.merge("workbench.audit", forged, keys=["audit_id"])
    assert [e.user for e in review.audit_trail(lake, run_id)] == ["stat"]


def approved_run(lake, scale=1.0):
    run_id = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": scale}, ["gold.sample"],
                                 user=STAT)
    review.submit(lake, run_id, STAT)
    review.approve(lake, run_id, SUPER)
    return run_id


def test_releases_keep_every_vintage_and_honour_embargo(lake_with_input):
    lake = lake_with_input
    first = approved_run(lake, 1.0)
    release_run(lake, first, SUPER, "sample_totals", output="estimates")
    second = approved_run(lake, 2.0)
    embargo = datetime.now(timezone.utc) + timedelta(days=1)
    rel = release_run(lake, second, SUPER2, "sample_totals", output="estimates", embargo_until=embargo)
    assert rel.vintage == 2 and rel.inputs == registry.get_run(lake, second).inputs
    assert review.state(lake, second) == "released"
    # a researcher sees vintage 1 only until the embargo passes; a supervisor sees both
    assert {r["vintage"] for r in read_release(lake, "sample_totals", RESEARCH).collect()} == {1}
    assert {r["vintage"] for r in read_release(lake, "sample_totals", SUPER).collect()} == {1, 2}
    later = embargo + timedelta(minutes=1)
    assert {r["vintage"] for r in read_release(lake, "sample_totals", RESEARCH, now=later).collect()} == {1, 2}
    with pytest.raises(ReviewError, match="embargo"):
        read_release(lake, "sample_totals", RESEARCH, vintage=2)
    v1 = {r["area"]: r["total"] for r in read_release(lake, "sample_totals", RESEARCH, vintage=1).collect()}
    assert v1 == {"a": 3.0, "b": 5.0}
    with pytest.raises(ReviewError, match="only a supervisor"):
        withdraw(lake, first, STAT, "error found")
    withdraw(lake, first, SUPER, "error found in district b")
    assert [r.withdrawn for r in list_releases(lake, "sample_totals")] == [True, False]
    assert {r["vintage"] for r in read_release(lake, "sample_totals", SUPER, include_withdrawn=True).collect()} == {1, 2}


def test_released_inputs_survive_vacuum(spark, lake_with_input):
    lake = lake_with_input
    run_id = approved_run(lake)
    release_run(lake, run_id, SUPER, "sample_totals", output="estimates")
    lake.write("gold.sample", spark.createDataFrame(pd.DataFrame({"area": ["z"], "value": [0.0]})), mode="overwrite")
    deleted = safe_vacuum(lake, "gold.sample", retention_hours=0, dry_run=False)
    assert deleted == []
    assert registry.reproduce(lake, run_id).matches
    # the same vacuum on an unprotected table removes the old version's files
    lake.write("gold.other", spark.createDataFrame(pd.DataFrame({"v": [1]})))
    lake.write("gold.other", spark.createDataFrame(pd.DataFrame({"v": [2]})), mode="overwrite")
    assert len(safe_vacuum(lake, "gold.other", retention_hours=0, dry_run=False)) == 1


# ---- issue 20: releases and the lake's own records ------------------------------------

def test_a_release_refused_midway_leaves_the_run_approved_and_a_retry_succeeds(spark, lake_with_input):
    """A schema mismatch on the vintage used to leave the run 'released' with no vintage and every retry refused.

    The columns are the series' own (another set of columns is refused before anything is
    written, by the series rule); their type is not, which only the write finds out."""
    from workbench.lake import SchemaMismatchError

    lake = lake_with_input
    release_run(lake, approved_run(lake), SUPER, "sample_totals", output="estimates")
    other = spark.createDataFrame(pd.DataFrame({"area": ["a"], "total": ["revised"]}))
    run_id = registry.record_run(lake, "test_group_totals", {"table": "gold.sample"}, {"gold.sample": 0},
                                 {"estimates": other}, user=STAT)
    review.submit(lake, run_id, STAT)
    review.approve(lake, run_id, SUPER)
    with pytest.raises(SchemaMismatchError, match="total"):
        release_run(lake, run_id, SUPER, "sample_totals", output="estimates")
    assert review.state(lake, run_id) == "approved"
    assert [r.run_id for r in list_releases(lake, "sample_totals")] != [run_id]
    rel = release_run(lake, run_id, SUPER, "sample_notes", output="estimates")
    assert (rel.series, rel.vintage, review.state(lake, run_id)) == ("sample_notes", 1, "released")
    assert [r["total"] for r in read_release(lake, "sample_notes", RESEARCH).collect()] == ["revised"]


RELEASE_CHILD = """
import sys
from workbench.auth import User
from workbench.config import load_settings
from workbench.lake import Lake
from workbench.runs.release import release_run
lake = Lake.from_settings(load_settings())
release_run(lake, sys.argv[1], User("super", "Supervisor", ("supervisor",)), "sample_totals", output="estimates")
"""


def release_killed_at(lake, run_id: str, point: str) -> int:
    """Release *run_id* in a child process that SIGKILLs itself at *point*; its exit code."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from workbench.faults import KILL_AT_ENV, RELEASE_POINTS

    assert point in RELEASE_POINTS
    repo = Path(__file__).resolve().parents[1]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_LAKE", "SPARK_"))},
           KILL_AT_ENV: point, "PYTHONPATH": str(repo), "RUST_LOG": "error", "WORKBENCH_LAKE_ROOT": lake.root}
    script = Path(lake.root).parent / "release_child.py"
    script.write_text(RELEASE_CHILD)
    done = subprocess.run([sys.executable, str(script), run_id], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]  # died at the point, not of another error
    return done.returncode


def test_a_release_killed_after_its_vintage_leaves_nothing_published_and_the_next_attempt_releases(
        lake_with_input):
    """SIGKILL after the vintage rows, before the record: the rows are orphans nobody vouches for."""
    lake = lake_with_input
    run_id = approved_run(lake)
    assert release_killed_at(lake, run_id, "release.vintage_written") == -9
    assert lake.row_count("release.sample_totals") == 3 - 1  # the two areas' rows were written ...
    assert list_releases(lake, "sample_totals") == [] and review.state(lake, run_id) == "approved"
    assert read_release(lake, "sample_totals", SUPER).count() == 0  # ... and are not published
    done = release_run(lake, run_id, SUPER2, "sample_totals", output="estimates")
    assert done.vintage == 1 and review.state(lake, run_id) == "released"
    assert totals(read_release(lake, "sample_totals", RESEARCH)) == {"a": 3.0, "b": 5.0}  # once, not twice


def test_a_release_killed_before_its_audit_entry_is_finished_by_the_next_attempt(lake_with_input):
    """SIGKILL after the vintage and its record, before the audit entry (a real kill, in a child)."""
    lake = lake_with_input
    run_id = approved_run(lake)
    assert release_killed_at(lake, run_id, "release.record_written") == -9
    # written but not vouched for: not published, and the run is still approved
    [pending] = list_releases(lake, "sample_totals")
    assert "no audit entry" in pending.problem and review.state(lake, run_id) == "approved"
    assert read_release(lake, "sample_totals", SUPER).count() == 0
    with pytest.raises(ReviewError, match="unfinished release"):
        release_run(lake, run_id, SUPER, "another_series", output="estimates")
    done = release_run(lake, run_id, SUPER2, "sample_totals", output="estimates")
    assert (done.release_id, done.vintage) == (pending.release_id, 1)
    assert review.state(lake, run_id) == "released"
    [final] = list_releases(lake, "sample_totals")
    assert final.problem is None and final.release_id == pending.release_id
    assert totals(read_release(lake, "sample_totals", RESEARCH)) == {"a": 3.0, "b": 5.0}


def test_two_releases_into_one_series_at_once_get_vintages_1_and_2(lake_with_input):
    import threading

    lake = lake_with_input
    runs = [approved_run(lake, 1.0), approved_run(lake, 2.0)]
    start = threading.Barrier(len(runs))
    results, errors = {}, []

    def release(run_id, user):
        try:
            start.wait(30)
            results[run_id] = release_run(lake, run_id, user, "sample_totals", output="estimates").vintage
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=release, args=(r, u)) for r, u in zip(runs, (SUPER, SUPER2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sorted(results.values()) == [1, 2]
    recorded = list_releases(lake, "sample_totals")
    assert [(r.vintage, r.problem) for r in recorded] == [(1, None), (2, None)]
    assert {r.run_id: r.vintage for r in recorded} == results
    by_vintage = {}
    for row in read_release(lake, "sample_totals", RESEARCH).collect():
        by_vintage.setdefault(row["vintage"], set()).add(row["run_id"])
    assert by_vintage == {v: {r} for r, v in results.items()}  # each vintage holds one run's rows only


def test_get_run_takes_the_id_as_a_value_not_as_sql(lake_with_input):
    """``"nope' OR '1'='1"`` used to return another run."""
    lake = lake_with_input
    real = approved_run(lake)
    for hostile in ("nope' OR '1'='1", "x' OR run_id LIKE '%", "' OR true --", "\\'"):
        with pytest.raises(registry.RunError, match="no run"):
            registry.get_run(lake, hostile)
    assert registry.get_run(lake, real).run_id == real


def test_the_audit_trail_has_no_public_writer_and_release_goes_through_release_run(lake_with_input):
    """``review.record_transition`` was public and wrote an approval nobody gave."""
    lake = lake_with_input
    run_id = approved_run(lake)
    assert not hasattr(review, "record_transition")
    with pytest.raises(ReviewError, match="release_run"):
        review.transition(lake, run_id, SUPER2, "release")
    with pytest.raises(ReviewError, match="already has an audit trail"):
        review.register_draft(lake, run_id)
    with pytest.raises(registry.RunError, match="no run"):
        review.register_draft(lake, "r_never_recorded")
    assert review.state(lake, run_id) == "approved"


def _forged_entry(run_id, action, before, after, seq, user="super"):
    import pyarrow as pa

    from workbench.runs.audit_chain import AUDIT_SCHEMA

    row = {"audit_id": "forged", "run_id": run_id, "at": datetime.now(timezone.utc), "user": user,
           "action": action, "before": before, "after": after, "comment": "", "seq": seq, "evidence": None,
           "prev_hash": "0" * 64, "entry_hash": "f" * 64}
    return pa.Table.from_pylist([row], schema=AUDIT_SCHEMA)


def test_an_entry_appended_outside_the_review_functions_is_detected(lake_with_input):
    from workbench.runs.audit_chain import AuditChainError, read_chain

    lake = lake_with_input
    run_id = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 1.0}, ["gold.sample"],
                                 user=STAT)
    review.submit(lake, run_id, STAT)
    n = len(read_chain(lake))
    lake.append_arrow("workbench.audit", _forged_entry(run_id, "approve", "submitted", "approved", n))
    with pytest.raises(AuditChainError, match=rf"entry {n} \(approve of run {run_id} by super.*does not follow"):
        review.state(lake, run_id)
    with pytest.raises(AuditChainError):
        review.approve(lake, run_id, SUPER)  # nothing is appended to a broken trail


def _rewrite_audit_file(lake, action, change, fix_log=True):
    """Rewrite, by hand, the audit's Parquet file holding the entry with *action* (each append writes one);
    with *fix_log* also the file size the Delta log recorded, as a careful forger with file access would."""
    import glob
    import json
    import os

    import pyarrow.parquet as pq

    folder = lake.path("workbench.audit")
    for path in glob.glob(f"{folder}/*.parquet"):
        table = pq.read_table(path)
        if action in table.column("action").to_pylist():
            pq.write_table(change(table), path)
            break
    else:
        raise AssertionError(f"no audit file holds {action}")
    if fix_log:
        name, size = os.path.basename(path), os.path.getsize(path)
        for log in glob.glob(f"{folder}/_delta_log/*.json"):
            lines = open(log).read().splitlines()
            actions = [json.loads(line) for line in lines]
            for a in actions:
                if "add" in a and a["add"]["path"] == name:
                    a["add"]["size"] = size
            open(log, "w").write("\n".join(json.dumps(a) for a in actions) + "\n")


def test_the_audit_chain_names_an_edited_or_deleted_entry(lake_with_input, tmp_path):
    """Wiping or editing the audit made withdrawn releases public again; now every reader refuses, naming it."""
    import shutil

    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    from workbench.disclosure.reader import ReleaseReader
    from workbench.lake import Lake
    from workbench.runs.audit_chain import AuditChainError

    lake = lake_with_input
    first, second = approved_run(lake, 1.0), approved_run(lake, 2.0)
    release_run(lake, first, SUPER, "sample_totals", output="estimates")
    release_run(lake, second, SUPER, "sample_totals", output="estimates")
    withdraw(lake, first, SUPER, "error in district b")
    later = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 3.0}, ["gold.sample"],
                                user=STAT)
    review.submit(lake, later, STAT)  # entries after the withdrawal
    assert [r.published for r in list_releases(lake)] == [False, True]

    def copy(name):
        root = str(tmp_path / name)
        shutil.copytree(lake.root, root)
        return Lake(root, spark=lake.spark)

    # edited in place: the withdrawal turned back into an approval
    def as_approval(table):
        return table.set_column(table.schema.get_field_index("action"), "action",
                                pa.array(["approve"] * table.num_rows))

    edited = copy("edited")
    _rewrite_audit_file(edited, "withdraw", as_approval)
    with pytest.raises(AuditChainError, match=r"entry \d+ \(approve of run .* was edited"):
        list_releases(edited)
    with pytest.raises(AuditChainError, match="was edited"):
        ReleaseReader(edited).releases()
    clumsy = copy("clumsy")  # the same edit, the log left as it was
    _rewrite_audit_file(clumsy, "withdraw", as_approval, fix_log=False)
    with pytest.raises(AuditChainError, match=r"bytes where the Delta log recorded \d+: it was changed by hand"):
        review.states(clumsy)
    # deleted: the withdrawal's file emptied, then removed through Delta (refused by the table itself)
    emptied = copy("emptied")
    _rewrite_audit_file(emptied, "withdraw", lambda t: t.filter(pc.equal(t.column("action"), "nothing")))
    with pytest.raises(AuditChainError, match="changed by hand"):
        review.states(emptied)
    with pytest.raises(Exception, match="append-only"):
        DeltaTable(copy("deleted").path("workbench.audit")).delete("action = 'withdraw'")
    # cut off the end (the last commit and its file gone): a reader that saw the longer chain refuses
    cut = copy("cut")
    reader = ReleaseReader(cut)
    assert [r.published for r in reader.releases()] == [False, True]
    dt = DeltaTable(cut.path("workbench.audit"))
    last = dt.version()
    added = pa.table(dt.get_add_actions(flatten=True)).column("path").to_pylist()
    before = set(pa.table(DeltaTable(cut.path("workbench.audit"), version=last - 1)
                          .get_add_actions(flatten=True)).column("path").to_pylist())
    (tmp_path / "cut" / "workbench" / "audit" / "_delta_log" / f"{last:020d}.json").unlink()
    for name in set(added) - before:
        (tmp_path / "cut" / "workbench" / "audit" / name).unlink()
    with pytest.raises(AuditChainError, match="lost entries"):
        reader.releases()


def test_an_output_without_rows_or_with_an_empty_text_column_is_recorded_with_its_columns(lake):
    """A seasonal run that fell back to STL has no coefficients: its empty output used to stop
    the submission with Spark's CANNOT_INFER_EMPTY_SCHEMA traceback on the page."""
    empty = pd.DataFrame({"variable": pd.Series([], dtype=object), "estimate": pd.Series([], dtype=float)})
    no_text = pd.DataFrame({"note": [None, None], "value": [1.0, 2.0]})
    run_id = registry.record_run(lake, "test_group_totals", {}, {}, {"coefficients": empty, "notes": no_text},
                                 user=STAT)
    coefficients = registry.read_output(lake, run_id, "coefficients")
    assert coefficients.count() == 0 and coefficients.columns == ["variable", "estimate"]
    assert dict(coefficients.dtypes) == {"variable": "string", "estimate": "double"}
    notes = registry.read_output(lake, run_id, "notes").toPandas()
    assert notes["note"].isna().all() and notes["value"].tolist() == [1.0, 2.0]


# ---- issue 28: run, review, release and audit integrity ---------------------------------

def _lake_copy(lake, tmp_path, name):
    import shutil

    from workbench.lake import Lake

    root = str(tmp_path / name)
    shutil.copytree(lake.root, root)
    return Lake(root, spark=lake.spark)


def test_a_naive_embargo_time_is_the_city_s_wall_time(lake_with_input):
    """A wall time without a zone was read as UTC and lifted the embargo eight hours early."""
    lake = lake_with_input
    rel = release_run(lake, approved_run(lake), SUPER, "sample_totals", output="estimates",
                      embargo_until=datetime(2030, 1, 1, 9, 0))  # 09:00 in the city (Asia/Shanghai, UTC+8)
    assert rel.embargo_until == datetime(2030, 1, 1, 1, 0, tzinfo=timezone.utc)
    [recorded] = list_releases(lake, "sample_totals")
    assert recorded.embargo_until == rel.embargo_until
    at_0830_city = datetime(2030, 1, 1, 0, 30, tzinfo=timezone.utc)
    assert read_release(lake, "sample_totals", RESEARCH, now=at_0830_city).count() == 0
    assert read_release(lake, "sample_totals", RESEARCH, now=at_0830_city + timedelta(hours=1)).count() == 2
    # an instant with a zone keeps it; a value the lake stored without one is UTC
    from workbench.clock import city_instant, stored_instant

    assert city_instant(datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc), "Asia/Shanghai").hour == 9
    assert stored_instant(datetime(2030, 1, 1, 9, 0)) == datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)
    # a wall time the city's clock skips or shows twice names no single instant: refused
    with pytest.raises(ValueError, match="Europe/Berlin"):
        city_instant(datetime(2030, 3, 31, 2, 30), "Europe/Berlin")
    with pytest.raises(ValueError, match="twice"):
        city_instant(datetime(2030, 10, 27, 2, 30), "Europe/Berlin")


def _swap_output(lake, run_id, change):
    """Rewrite a run's output table behind the registry, as someone with write access to the lake can."""
    from deltalake import DeltaTable, write_deltalake

    table, version = registry.get_run(lake, run_id).outputs["estimates"]
    dt = DeltaTable(lake.path(table))
    if dt.metadata().configuration.get("delta.appendOnly") == "true":
        dt.alter.set_table_properties({"delta.appendOnly": "false"})  # the flag is the lake's own word
    write_deltalake(lake.path(table), change(dt.to_pyarrow_table()), mode="overwrite")
    return table, DeltaTable(lake.path(table)).version()


def test_an_output_swapped_after_approval_is_not_released(lake_with_input, tmp_path):
    """Overwriting runs.<id>.estimates and pointing run_outputs at it published numbers nobody approved."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from workbench.lake import AppendOnlyError

    lake = lake_with_input
    run_id = approved_run(lake)
    approval = [e for e in review.audit_trail(lake, run_id) if e.action == "approve"][-1]
    table, version = registry.get_run(lake, run_id).outputs["estimates"]
    assert approval.evidence["outputs"]["estimates"]["version"] == version  # approval names what it approved
    with pytest.raises(AppendOnlyError):  # a run's outputs are written once
        lake.write(table, registry.read_output(lake, run_id, "estimates"), mode="overwrite")

    def doubled(t):
        return t.set_column(t.schema.get_field_index("total"), "total", pc.multiply(t.column("total"), 100.0))

    swapped = _lake_copy(lake, tmp_path, "swapped")
    _, new_version = _swap_output(swapped, run_id, doubled)
    swapped.append_arrow("workbench.run_outputs", pa.Table.from_pylist([{
        "run_id": run_id, "output": "estimates", "table_name": table, "version": new_version, "rows": 2}],
        schema=registry.OUTPUTS_SCHEMA))
    with pytest.raises(registry.RunError, match="estimates.*recorded 2 times"):
        registry.get_run(swapped, run_id)  # not whichever row came last
    with pytest.raises(registry.RunError, match="recorded 2 times"):
        release_run(swapped, run_id, SUPER2, "sample_totals", output="estimates")
    assert list_releases(swapped) == []
    # the approved version's own file replaced in place: the digest no longer matches
    import glob
    import json
    import os

    import pyarrow.parquet as pq

    in_place = _lake_copy(lake, tmp_path, "in_place")
    for data_file in glob.glob(f"{in_place.path(table)}/*.parquet"):
        pq.write_table(doubled(pq.read_table(data_file)), data_file)
    for log in glob.glob(f"{in_place.path(table)}/_delta_log/*.json"):  # and the sizes the log recorded, with care
        actions = [json.loads(line) for line in open(log).read().splitlines()]
        for a in actions:
            if "add" in a:
                a["add"]["size"] = os.path.getsize(os.path.join(in_place.path(table), a["add"]["path"]))
        open(log, "w").write("\n".join(json.dumps(a) for a in actions) + "\n")
    with pytest.raises(ReviewError, match="not the rows .* approved"):
        release_run(in_place, run_id, SUPER2, "sample_totals", output="estimates")
    assert review.state(in_place, run_id) == "approved" and list_releases(in_place) == []
    # untouched, it releases what was approved
    assert totals(read_release(lake, release_run(lake, run_id, SUPER2, "sample_totals",
                                                  output="estimates").series, RESEARCH)) == {"a": 3.0, "b": 5.0}


def _cut_last_commit(lake, table):
    """Delete a table's newest commit and the files it added, as if it had never been made."""
    import os

    import pyarrow as pa
    from deltalake import DeltaTable

    path = lake.path(table)
    last = DeltaTable(path).version()
    def files(version):
        return set(pa.table(DeltaTable(path, version=version).get_add_actions(flatten=True)).column("path").to_pylist())

    added = files(last) - files(last - 1)
    for log in (f"{last:020d}.json", f"{last:020d}.crc"):  # the commit and its checksum, if written
        if os.path.exists(os.path.join(path, "_delta_log", log)):
            os.unlink(os.path.join(path, "_delta_log", log))
    for name in added:
        os.unlink(os.path.join(path, name))


def test_restoring_an_append_only_record_to_an_earlier_version_is_detected(lake_with_input, tmp_path):
    """delta-rs restore erased release records, a published vintage or a released run, and all still verified."""
    from deltalake import DeltaTable

    from workbench.disclosure.reader import ReleaseReader
    from workbench.runs.audit_chain import AuditChainError

    lake = lake_with_input
    for scale in (1.0, 2.0, 3.0):
        release_run(lake, approved_run(lake, scale), SUPER, "sample_totals", output="estimates")
    assert [r.published for r in list_releases(lake)] == [True, True, True]
    for table, lost in (("workbench.releases", "lost the record"), ("release.sample_totals", "vintage 3"),
                        ("workbench.runs", "lost run")):
        restored = _lake_copy(lake, tmp_path, table.replace(".", "_"))
        DeltaTable(restored.path(table)).restore(1)
        with pytest.raises(AuditChainError, match=f"{table} was rewritten"):
            list_releases(restored)
        with pytest.raises(AuditChainError, match=f"{table} was rewritten"):
            ReleaseReader(restored).releases()
        # the newest commit and its files cut off instead, leaving no rewrite in the log: still named
        cut = _lake_copy(lake, tmp_path, "cut_" + table.replace(".", "_"))
        _cut_last_commit(cut, table)
        with pytest.raises(AuditChainError, match=lost):
            list_releases(cut)


def test_vacuum_keeps_the_inputs_of_approved_unreleased_runs(spark, lake_with_input):
    """pinned_versions read only releases, so VACUUM deleted what an approved run had read."""
    lake = lake_with_input
    approved = approved_run(lake)
    lake.write("gold.sample", spark.createDataFrame(pd.DataFrame({"area": ["z"], "value": [0.0]})), mode="overwrite")
    rejected = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 1.0},
                                   ["gold.sample"], user=STAT)
    review.submit(lake, rejected, STAT)
    review.reject(lake, rejected, SUPER, "wrong input")
    draft = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 5.0},
                                ["gold.sample"], user=STAT)
    lake.write("gold.sample", spark.createDataFrame(pd.DataFrame({"area": ["y"], "value": [1.0]})), mode="overwrite")
    pins = {registry.get_run(lake, r).inputs["gold.sample"] for r in (approved, draft)}
    assert lake.pinned_versions("gold.sample") == sorted(pins)  # the rejected run pins nothing
    lake.vacuum("gold.sample", retention_hours=0, dry_run=False)
    assert registry.reproduce(lake, approved).matches
    assert registry.reproduce(lake, draft).matches


def test_review_roles_come_from_the_user_registry_not_from_the_caller(lake_with_input):
    """A User made up in code, with the supervisor role, approved and released a run."""
    lake = lake_with_input
    run_id = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 1.0}, ["gold.sample"],
                                 user=STAT)
    self_made = User("mallory", "Mallory", ("supervisor",))  # no such account in conf/users.toml
    promoted = User("research", "Researcher", ("researcher", "supervisor"))  # an account, with a role it lacks
    with pytest.raises(ReviewError, match="cannot submit") as refused:
        review.submit(lake, run_id, promoted)
    assert refused.value.rule == "not_own"
    review.submit(lake, run_id, STAT)
    for fake in (self_made, promoted):
        with pytest.raises(ReviewError) as refused:
            review.approve(lake, run_id, fake)
        assert refused.value.rule in ("no_account", "not_supervisor"), refused.value
    assert review.state(lake, run_id) == "submitted"
    review.approve(lake, run_id, SUPER)
    with pytest.raises(ReviewError, match="mallory") as refused:
        release_run(lake, run_id, self_made, "sample_totals", output="estimates")
    assert refused.value.rule == "no_account"
    assert review.state(lake, run_id) == "approved" and list_releases(lake) == []


# ---- issue 29: what a release publishes, and what one series is --------------------------------

def _recorded(lake, kind, params, outputs, user=STAT):
    """A run of a shipped *kind* recorded from *outputs* as a page records what it computed (the
    method's return value on pinned input versions), submitted by stat and approved by super."""
    run_id = registry.record_result(lake, kind, params, {"gold.sample": lake.version("gold.sample")}, outputs,
                                    user=user)
    review.submit(lake, run_id, user)
    review.approve(lake, run_id, SUPER)
    return run_id


def _seasonal(lake, indicator="vat_sales_total", last="2026-08", columns=("original", "trend", "seasadj")):
    months = pd.date_range(end=pd.Timestamp(f"{last}-01"), periods=36, freq="MS").date
    series = pd.DataFrame({"month": months, **{c: [float(100 + i) for i in range(36)] for c in columns}})
    outputs = {"series": series,
               "coefficients": pd.DataFrame({"variable": ["MA-Nonseasonal-01"], "estimate": [-1.0]}),
               "diagnostics": pd.DataFrame({"statistic": ["M8"], "value": [1.107]}),
               "spec": pd.DataFrame({"spc": ["series{ }"]})}
    return _recorded(lake, "seasonal_adjustment", {"indicator": indicator, "spec": {"transform": "log"}}, outputs)


def _survey(lake, period="2026-08", domain="county_code", variable="employment"):
    """A survey estimate as the method writes it: one row per domain value and the total."""
    domains = ([f"6601{i:02d}" for i in range(1, 9)] if domain != "none" else []) + ["total"]
    estimates = pd.DataFrame({"domain": domains, "estimate": [1000.0 + i for i in range(len(domains))],
                              "se": 10.0, "cv": 0.01, "ci_low": 980.0, "ci_high": 1020.0, "deff": 1.2,
                              "imputed_share": 0.0, "n": 20})
    return _recorded(lake, "survey_estimate", {"period": period, "variable": variable, "domain": domain},
                     {"estimates": estimates, "weights": pd.DataFrame({"method": ["raking"], "iterations": [4]})})


def _said(exc) -> dict[str, str]:
    from workbench.app.run_views import Refusal

    refusal = Refusal.of(exc)
    assert refusal.said_by_rule, exc
    return {lang: refusal.text(lang) for lang in ("zh", "en")}


def test_a_shipped_kind_publishes_its_declared_output_never_a_diagnostic(lake_with_input):
    """Issue 29 item 1: sa_retail_sales v1 held the ARIMA coefficients (the alphabetically first output)."""
    lake = lake_with_input
    run_id = _seasonal(lake)
    for diagnostic in ("coefficients", "diagnostics", "spec"):
        with pytest.raises(ReviewError) as refused:
            release_run(lake, run_id, SUPER2, "sa_vat_sales_total", output=diagnostic)
        assert refused.value.rule == "not_publishable" and refused.value.facts["published"] == "series"
        said = _said(refused.value)
        assert "诊断" in said["zh"] and "diagnostic" in said["en"]
    assert review.state(lake, run_id) == "approved" and not list_releases(lake, "sa_vat_sales_total")
    release_run(lake, run_id, SUPER2, "sa_vat_sales_total", output="series")
    published = read_release(lake, "sa_vat_sales_total", SUPER).toPandas()
    assert {"month", "seasadj"} <= set(published.columns) and len(published) == 36
    # a kind defined outside the package declares no output: each of its outputs may be published
    release_run(lake, approved_run(lake, 1.0), SUPER, "sample_totals", output="estimates")


def test_a_vintage_that_breaks_its_series_is_refused_with_the_reason(lake_with_input):
    """Issue 29 item 4: survey_employment v1 a 9-row county table, v2 a 1-row city total, and any
    approved run could become the next vintage of any series."""
    lake = lake_with_input
    release_run(lake, _survey(lake), SUPER2, "survey_employment", output="estimates")
    refusals = {
        "series_breakdown": _survey(lake, domain="none"),  # the city total under the county table's name
        "series_kind": _seasonal(lake),  # a seasonal adjustment as the next vintage of a survey
        "series_period": _survey(lake, period="2026-07"),  # a later vintage of an earlier month
    }
    for rule, run_id in refusals.items():
        with pytest.raises(ReviewError) as refused:
            release_run(lake, run_id, SUPER2, "survey_employment", output="estimates" if rule != "series_kind"
                        else "series")
        assert refused.value.rule == rule, refused.value
        said = _said(refused.value)
        assert "survey_employment" in said["zh"] and "survey_employment" in said["en"]
        assert review.state(lake, run_id) == "approved"
    assert [r.vintage for r in list_releases(lake, "survey_employment")] == [1]
    # the same breakdown for the same or a later month is the series' next vintage
    assert release_run(lake, _survey(lake), SUPER2, "survey_employment", output="estimates").vintage == 2
    later = release_run(lake, _survey(lake, period="2026-09"), SUPER2, "survey_employment", output="estimates")
    assert later.vintage == 3
    # a withdrawn vintage (a wrong month) does not hold the series back
    withdraw(lake, later.run_id, SUPER, "wrong month")
    assert release_run(lake, _survey(lake, period="2026-08"), SUPER2, "survey_employment",
                       output="estimates").vintage == 4
    # a seasonal series keeps its indicator, its columns and its order of months
    release_run(lake, _seasonal(lake), SUPER2, "sa_vat", output="series")
    for rule, run_id in {"series_breakdown": _seasonal(lake, indicator="electricity_kwh_total"),
                         "series_columns": _seasonal(lake, columns=("original", "seasadj")),
                         "series_period": _seasonal(lake, last="2026-06")}.items():
        with pytest.raises(ReviewError) as refused:
            release_run(lake, run_id, SUPER2, "sa_vat", output="series")
        assert refused.value.rule == rule, refused.value
        _said(refused.value)


def test_a_vintage_public_before_an_earlier_vintage_under_embargo_is_refused(lake_with_input):
    """Issue 29: v1 under embargo until the day after tomorrow, v2 released with no embargo (or
    one lifting tomorrow) put the newer figures out first. Refused, naming both embargo times in
    the city's clock; an embargo at or after v1's, or a v1 whose embargo has lifted, is fine."""
    lake = lake_with_input
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    first = release_run(lake, _survey(lake), SUPER2, "survey_employment", output="estimates",
                        embargo_until=now + timedelta(days=2))
    revision = _survey(lake)
    for embargo in (None, now + timedelta(days=1)):
        with pytest.raises(ReviewError) as refused:
            release_run(lake, revision, SUPER2, "survey_employment", output="estimates", embargo_until=embargo)
        assert refused.value.rule == "series_embargo" and refused.value.facts["vintage"] == 1, refused.value
        said = _said(refused.value)
        earlier = (first.embargo_until.astimezone(ZoneInfo("Asia/Shanghai"))).strftime("%Y-%m-%d %H:%M")
        for lang, text in said.items():
            assert earlier in text and "survey_employment" in text, text
            if embargo is not None:
                assert embargo.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M") in text, text
            else:
                assert ("立即" if lang == "zh" else "at once") in text, text
        assert review.state(lake, revision) == "approved"
    assert [r.vintage for r in list_releases(lake, "survey_employment")] == [1]
    # public at the same moment as v1, or later: the order holds
    assert release_run(lake, revision, SUPER2, "survey_employment", output="estimates",
                       embargo_until=first.embargo_until).vintage == 2
    # a vintage whose embargo has lifted holds nothing back
    release_run(lake, _survey(lake, variable="survey_revenue"), SUPER2, "survey_revenue", output="estimates",
                embargo_until=now - timedelta(hours=1))
    assert release_run(lake, _survey(lake, variable="survey_revenue"), SUPER2, "survey_revenue",
                       output="estimates").vintage == 2


def test_a_series_keeps_one_unit(lake_with_input):
    """A kind without declared series parameters (a test's own) still keeps its unit: the variable
    its values measure (persons, then 万元) is not changed under one series name."""
    lake = lake_with_input
    first = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 1.0,
                                                            "variable": "employment"}, ["gold.sample"], user=STAT)
    other = registry.run_method(lake, "test_group_totals", {"table": "gold.sample", "scale": 1.0,
                                                            "variable": "survey_revenue"}, ["gold.sample"], user=STAT)
    for run_id in (first, other):
        review.submit(lake, run_id, STAT)
        review.approve(lake, run_id, SUPER)
    release_run(lake, first, SUPER2, "totals", output="estimates")
    with pytest.raises(ReviewError) as refused:
        release_run(lake, other, SUPER2, "totals", output="estimates")
    assert refused.value.rule == "series_unit"
    said = _said(refused.value)
    assert "人" in said["zh"] and "万元" in said["zh"] and "persons" in said["en"] and "10k yuan" in said["en"]


def test_an_unreleasable_kind_is_refused_in_words_for_a_supervisor(lake_with_input):
    """Issue 29 item 4: an approved nowcast was refused with "list it under [tables.*] in
    conf/disclosure.toml", which tells a supervisor nothing they can do."""
    from workbench.disclosure.gate import DisclosureError

    lake = lake_with_input
    nowcast = _recorded(lake, "nowcast", {"series": "gdp", "asof": "2026-09-11"},
                        {"nowcasts": pd.DataFrame({"model": ["bridge"], "point": [1.0]})})
    with pytest.raises(DisclosureError) as refused:
        release_run(lake, nowcast, SUPER2, "gdp", output="nowcasts")
    said = _said(refused.value)
    for text in said.values():
        assert "conf/" not in text and "[tables" not in text
    assert "方法组" in said["zh"] and "即时预测" in said["zh"] and "methodology team" in said["en"]
    assert review.state(lake, nowcast) == "approved"


def test_an_identical_run_already_standing_is_found(lake_with_input):
    """Issue 29 item 7: four identical nowcasts reached the queue with no warning."""
    lake = lake_with_input
    params = {"table": "gold.sample", "scale": 3.0}
    first = registry.run_method(lake, "test_group_totals", params, ["gold.sample"], user=STAT)
    again = registry.run_method(lake, "test_group_totals", params, ["gold.sample"], user=STAT)
    inputs = registry.get_run(lake, again).inputs
    assert review.identical_runs(lake, "test_group_totals", params, inputs, besides=again) == []  # a draft is no copy
    review.submit(lake, first, STAT)
    assert review.identical_runs(lake, "test_group_totals", params, inputs, besides=again) == [(first, "submitted")]
    review.approve(lake, first, SUPER)
    assert review.identical_runs(lake, "test_group_totals", params, inputs, besides=again) == [(first, "approved")]
    # other parameters or another input version are another computation
    assert review.identical_runs(lake, "test_group_totals", {**params, "scale": 4.0}, inputs) == []
    assert review.identical_runs(lake, "test_group_totals", params, {"gold.sample": inputs["gold.sample"] + 1}) == []
