"""Run registry, four-eyes review, releases with vintages and embargo, VACUUM protection."""

from datetime import datetime, timedelta, timezone

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
    assert run.inputs == {"gold.sample": 0} and run.user == "stat" and run.params["scale"] == 2.0
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
