"""One lake, both writers: Sail and Apache Spark with delta-spark on the same Delta tables.

A table written by one engine is read, appended and merged by the other, through the lake;
delta-rs (the lake's history, row counts and vacuum) works on what delta-spark wrote.
"""

from __future__ import annotations

import pandas as pd
import pytest
from deltalake import DeltaTable

from workbench.lake import Lake, LakeError

# the first test here may start the cluster (and build the demo lakes): minutes, not seconds
pytestmark = pytest.mark.timeout(2400)


def frame(spark, **columns):
    return spark.createDataFrame(pd.DataFrame(columns))


def rows(df):
    return sorted(tuple(r) for r in df.collect())


@pytest.mark.parametrize("first,second", [("sail", "spark"), ("spark", "sail")])
def test_a_table_written_by_one_engine_is_read_appended_and_merged_by_the_other(
        spark, cluster_spark, tmp_path, first, second):
    engines = {"sail": spark, "spark": cluster_spark}
    one, other = (Lake(str(tmp_path / "lake"), spark=engines[name]) for name in (first, second))
    one.write("silver.shared", frame(engines[first], k=[1, 2], v=[1.0, 2.0], s=["a", "b"]))
    assert rows(other.read("silver.shared")) == [(1, 1.0, "a"), (2, 2.0, "b")]
    other.write("silver.shared", frame(engines[second], k=[3], v=[3.0], s=["c"]))
    other.merge("silver.shared", frame(engines[second], k=[2, 4], v=[20.0, 4.0], s=["B", "d"]), keys=["k"])
    one.merge("silver.shared", frame(engines[first], k=[1], v=[10.0], s=["A"]), keys=["k"])
    expected = [(1, 10.0, "A"), (2, 20.0, "B"), (3, 3.0, "c"), (4, 4.0, "d")]
    assert rows(one.read("silver.shared")) == expected == rows(other.read("silver.shared"))
    # delta-rs sees every commit, whoever made it; the lake creates every table (empty, through
    # delta-rs) the same way whichever engine writes its first rows
    assert [h["operation"] for h in one.history("silver.shared")] == ["MERGE", "MERGE", "WRITE", "WRITE",
                                                                       "CREATE TABLE"]
    assert one.row_count("silver.shared") == 4
    assert rows(other.read("silver.shared", version=2)) == [(1, 1.0, "a"), (2, 2.0, "b"), (3, 3.0, "c")]


def test_tables_delta_spark_writes_are_readable_by_delta_rs_history_and_vacuum(cluster_spark, tmp_path):
    """spark-defaults.conf turns deletion vectors off, so delta-spark writes protocol 1/2 tables."""
    lake = Lake(str(tmp_path / "lake"), spark=cluster_spark)
    lake.write("gold.by_spark", frame(cluster_spark, k=[1, 2, 3], v=[1.0, 2.0, 3.0]))
    lake.merge("gold.by_spark", frame(cluster_spark, k=[3], v=[30.0]), keys=["k"])
    cluster_spark.sql(f"DELETE FROM delta.`{lake.path('gold.by_spark')}` WHERE k = 1").collect()
    table = DeltaTable(lake.path("gold.by_spark"))
    protocol = table.protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) == (1, 2), protocol
    # created by the lake through delta-rs: no table features, so delta-spark's DELETE cannot
    # write deletion vectors into it
    assert protocol.writer_features is None and protocol.reader_features is None
    assert table.metadata().configuration.get("delta.enableDeletionVectors", "false") == "false"
    assert sorted(table.to_pyarrow_table().to_pydict()["k"]) == [2, 3]
    assert [h["operation"] for h in lake.history("gold.by_spark")] == ["DELETE", "MERGE", "WRITE", "CREATE TABLE"]
    assert lake.row_count("gold.by_spark") == 2
    removed = lake.vacuum("gold.by_spark", retention_hours=0, dry_run=False)
    assert removed, "the files the merge and delete replaced are vacuumed by delta-rs"
    assert rows(lake.read("gold.by_spark")) == [(2, 2.0), (3, 30.0)]


def test_a_table_with_a_feature_delta_rs_cannot_handle_is_refused_naming_it(cluster_spark, tmp_path):
    """A table someone created on the cluster with deletion vectors on: delta-rs cannot read it
    (and its row count from file statistics would include deleted rows), so the lake refuses it
    by name instead of answering wrongly."""
    lake = Lake(str(tmp_path / "lake"), spark=cluster_spark)
    path = lake.path("gold.with_dv")
    cluster_spark.sql(f"CREATE TABLE delta.`{path}` (k BIGINT, v DOUBLE) USING delta "
                      "TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')").collect()
    frame(cluster_spark, k=[1, 2, 3], v=[1.0, 2.0, 3.0]).write.format("delta").mode("append").save(path)
    cluster_spark.sql(f"DELETE FROM delta.`{path}` WHERE k = 2").collect()
    assert "deletionVectors" in (DeltaTable(path).protocol().reader_features or [])
    for use in (lambda: lake.row_count("gold.with_dv"), lambda: lake.vacuum("gold.with_dv"),
                lambda: lake.write("gold.with_dv", frame(cluster_spark, k=[4], v=[4.0]))):
        with pytest.raises(LakeError, match=r"gold.with_dv .*\['deletionVectors'\].*DROP FEATURE"):
            use()
