"""Lake round trips on real Delta tables, and one test per engine hazard guard.

Every test runs on both engines: the embedded Sail engine and a real Apache Spark cluster
with delta-spark (``workbench cluster up``). Where the engines themselves differ, a
``test_raw_*`` test shows what each does without the lake, and the guard test beside it
shows the lake's behaviour is the same on both.
"""

import threading

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

from workbench.lake import Lake, LakeError, SchemaMismatchError, TableNotFoundError

ENGINES = ["sail", "spark"]


@pytest.fixture(scope="module", params=ENGINES)
def spark(request, spark):
    """This module's engine: the suite's embedded Sail session, or one on the Spark cluster."""
    return spark if request.param == "sail" else request.getfixturevalue("cluster_spark")


@pytest.fixture()
def engine(request):
    return request.node.callspec.params["spark"]


def test_raw_append_with_extra_column(spark, engine, tmp_path):
    """Both refuse it now (Sail 0.7.2: "Field 'extra' not found in table schema"; delta-spark:
    a schema mismatch), each naming mergeSchema; the lake's own guard names the columns on both."""
    path = str(tmp_path / "raw_append")
    frame(spark, k=[1], v=[1.0]).write.format("delta").save(path)
    extra = frame(spark, k=[2], v=[2.0], extra=["x"]).write.format("delta").mode("append")
    with pytest.raises(Exception, match="(?i)mergeSchema"):
        extra.save(path)
    assert spark.read.format("delta").load(path).count() == 1


def test_raw_replace_where_with_rows_outside(spark, engine, tmp_path):
    """Sail writes the stray row and still deletes the partition; delta-spark refuses the write."""
    path = str(tmp_path / "raw_rw")
    frame(spark, k=[1, 2], m=["2024-01", "2024-02"]).write.format("delta").partitionBy("m").save(path)
    stray = (frame(spark, k=[7, 8], m=["2024-01", "2024-03"]).write.format("delta").mode("overwrite")
             .option("replaceWhere", "m = '2024-01'"))
    if engine == "sail":
        stray.save(path)
        assert sorted(r.k for r in spark.read.format("delta").load(path).collect()) == [2, 7, 8]
    else:
        with pytest.raises(Exception, match="(?i)replaceWhere|does not conform|REPLACE_WHERE"):
            stray.save(path)
        assert sorted(r.k for r in spark.read.format("delta").load(path).collect()) == [1, 2]


def test_raw_dynamic_partition_overwrite(spark, engine, tmp_path):
    """Sail replaces the whole table; delta-spark replaces only the partitions written."""
    path = str(tmp_path / "raw_dyn")
    frame(spark, k=[1, 2], m=["2024-01", "2024-02"]).write.format("delta").partitionBy("m").save(path)
    (frame(spark, k=[3], m=["2024-01"]).write.format("delta").mode("overwrite")
     .option("partitionOverwriteMode", "dynamic").save(path))
    kept = sorted(r.k for r in spark.read.format("delta").load(path).collect())
    assert kept == ([3] if engine == "sail" else [2, 3])


def test_raw_first_write_nullability(spark, engine, tmp_path):
    """Sail keeps NOT NULL on a new table's columns it can prove never null (a literal);
    delta-spark makes every column of a new table nullable."""
    path = str(tmp_path / "raw_null")
    frame(spark, k=[1]).withColumn("tag", F.lit("x")).write.format("delta").save(path)
    tag = DeltaTable(path).schema().to_arrow().field("tag")
    assert tag.nullable == (engine == "spark")


def test_a_new_table_has_every_column_nullable_on_both_engines(spark, lake):
    """The lake creates a table empty through delta-rs, all nullable (nested fields too), so a
    lake written by either engine has the same schema; the rows then go in as one append."""
    df = (frame(spark, k=[1, 2], v=[1.0, None]).withColumn("tag", F.lit("x"))
          .withColumn("at", F.lit("2026-08-01 00:00:00").cast("timestamp"))
          .withColumn("pair", F.struct(F.lit(1).alias("one"), F.col("v").alias("v"))))
    assert lake.write("gold.n", df, partition_by=["tag"]) == 1
    schema = lake.arrow_schema("gold.n")
    assert all(f.nullable for f in schema), schema
    assert all(schema.field("pair").type.field(i).nullable for i in range(2))
    assert schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert [h["operation"] for h in lake.history("gold.n")][-1] == "CREATE TABLE"
    assert lake.row_count("gold.n", version=0) == 0 and lake.row_count("gold.n") == 2
    assert DeltaTable(lake.path("gold.n")).metadata().partition_columns == ["tag"]
    # and a merge that creates its table does the same
    lake.merge("gold.m", frame(spark, k=[1]).withColumn("tag", F.lit("x")), keys=["k"])
    assert all(f.nullable for f in lake.arrow_schema("gold.m"))


def test_concurrent_first_writes_of_one_table_keep_both(spark, lake):
    """Two writers that both find the table missing: one creates it, the other's creation
    fails and it appends to the table the first made; neither's rows are lost."""
    errors = []

    def first(k):
        try:
            lake.write("gold.race", frame(spark, k=[k], v=[float(k)]))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=first, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert rows(lake.read("gold.race")) == [(1, 1.0), (2, 2.0)]


def frame(spark, **columns):
    return spark.createDataFrame(pd.DataFrame(columns))


def rows(df, order="k"):
    return [tuple(r) for r in df.orderBy(order).collect()]


def test_write_returns_versions_and_pinned_read_survives_later_writes(spark, lake):
    # version 0 is the table's creation (empty, through delta-rs); the first rows are version 1
    assert lake.write("gold.t", frame(spark, k=[1, 2], v=[1.0, 2.0])) == 1
    assert lake.write("gold.t", frame(spark, k=[3], v=[3.0])) == 2
    assert lake.write("gold.t", frame(spark, k=[9], v=[9.0]), mode="overwrite") == 3
    assert rows(lake.read("gold.t")) == [(9, 9.0)]
    assert rows(lake.read("gold.t", version=0)) == []
    assert rows(lake.read("gold.t", version=1)) == [(1, 1.0), (2, 2.0)]
    assert rows(lake.read("gold.t", version=2)) == [(1, 1.0), (2, 2.0), (3, 3.0)]
    assert lake.version("gold.t") == 3
    with pytest.raises(LakeError, match="versions 0..3"):
        lake.read("gold.t", version=7)


def test_rows_added_counts_what_a_write_wrote_from_the_log(spark, lake):
    lake.write("gold.r", frame(spark, k=[1, 2, 3], v=[1.0, 2.0, 3.0]))
    assert lake.rows_added("gold.r", None) == 3
    before = lake.write("gold.r", frame(spark, k=[4, 5], v=[4.0, 5.0]))
    assert lake.rows_added("gold.r", before - 1) == 2
    assert lake.rows_added("gold.r", before) == 0
    lake.write("gold.r", frame(spark, k=[6], v=[6.0]), mode="overwrite")
    assert lake.rows_added("gold.r", before) == 1 and lake.row_count("gold.r") == 1


def test_names_map_to_paths_and_bad_names_are_refused(lake):
    assert lake.path("bronze.vat_invoices").endswith("/lake/bronze/vat_invoices")
    assert lake.path("runs.r_20240101.estimates").endswith("/lake/runs/r_20240101/estimates")
    for bad in ("vat", "Bronze.x", "bronze/../x", "bronze.x y"):
        with pytest.raises(LakeError, match="bad table name"):
            lake.path(bad)
    with pytest.raises(TableNotFoundError):
        lake.read("silver.nothing")


def test_appended_extra_column_is_refused_not_dropped(spark, lake):
    """Sail silently drops an appended column: the guard must refuse it."""
    lake.write("silver.t", frame(spark, k=[1], v=[1.0]))
    with pytest.raises(SchemaMismatchError, match=r"new column\(s\) \['extra'\]"):
        lake.write("silver.t", frame(spark, k=[2], v=[2.0], extra=["x"]))
    assert lake.version("silver.t") == 1  # nothing was written after the first rows


def test_evolve_adds_nullable_column_and_keeps_its_values(spark, lake):
    lake.write("silver.t", frame(spark, k=[1], v=[1.0]))
    lake.write("silver.t", frame(spark, k=[2], v=[2.0], extra=["x"]), evolve=True)
    assert rows(lake.read("silver.t")) == [(1, 1.0, None), (2, 2.0, "x")]
    assert lake.arrow_schema("silver.t").field("extra").nullable
    # the old version still reads with its old schema
    assert lake.read("silver.t", version=0).columns == ["k", "v"]


def test_type_change_and_missing_column_are_refused(spark, lake):
    lake.write("silver.t", frame(spark, k=[1], v=[1.0]))
    with pytest.raises(SchemaMismatchError, match="v: table has double, data has string"):
        lake.write("silver.t", frame(spark, k=[2], v=["2"]))
    with pytest.raises(SchemaMismatchError, match=r"lacks column\(s\) \['v'\]"):
        lake.write("silver.t", frame(spark, k=[2]))


def test_partition_overwrite_replaces_only_that_partition(spark, lake):
    lake.write("gold.p", frame(spark, k=[1, 2, 3], m=["2024-01", "2024-01", "2024-02"]), partition_by=["m"])
    lake.write("gold.p", frame(spark, k=[7], m=["2024-01"]), mode="overwrite", replace_where="m = '2024-01'")
    assert rows(lake.read("gold.p")) == [(3, "2024-02"), (7, "2024-01")]


def test_replace_where_refuses_rows_outside_the_predicate(spark, lake):
    """Sail would append the stray row and still delete the partition."""
    lake.write("gold.p", frame(spark, k=[1, 2], m=["2024-01", "2024-02"]), partition_by=["m"])
    with pytest.raises(LakeError, match="does not match"):
        lake.write("gold.p", frame(spark, k=[7, 8], m=["2024-01", "2024-03"]), mode="overwrite",
                   replace_where="m = '2024-01'")
    assert rows(lake.read("gold.p")) == [(1, "2024-01"), (2, "2024-02")]


def test_dynamic_partition_overwrite_is_refused(spark, lake):
    """Dynamic partition overwrite replaces the whole table on Sail."""
    lake.write("gold.p", frame(spark, k=[1, 2], m=["2024-01", "2024-02"]))
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    try:
        with pytest.raises(LakeError, match="dynamic"):
            lake.write("gold.p", frame(spark, k=[3], m=["2024-01"]), mode="overwrite")
    finally:
        spark.conf.set("spark.sql.sources.partitionOverwriteMode", "static")
    assert lake.row_count("gold.p") == 2


def test_timestamp_replace_where_in_utc(spark, lake):
    df = frame(spark, k=[1, 2], d=["2024-01-01 00:30:00", "2024-01-02 00:30:00"]).withColumn(
        "ts", F.to_timestamp("d")).drop("d")
    lake.write("gold.ts", df)
    new = frame(spark, k=[5], d=["2024-01-01 12:00:00"]).withColumn("ts", F.to_timestamp("d")).drop("d")
    lake.write("gold.ts", new, mode="overwrite",
               replace_where="ts >= TIMESTAMP '2024-01-01 00:00:00' AND ts < TIMESTAMP '2024-01-02 00:00:00'")
    assert [r.k for r in lake.read("gold.ts").orderBy("k").collect()] == [2, 5]


def test_merge_updates_inserts_and_creates(spark, lake):
    assert lake.merge("silver.m", frame(spark, k=[1, 2], v=[1.0, 2.0]), keys=["k"]) == 1
    version = lake.merge("silver.m", frame(spark, k=[2, 3], v=[20.0, 3.0]), keys=["k"])
    assert version == 2
    assert rows(lake.read("silver.m")) == [(1, 1.0), (2, 20.0), (3, 3.0)]
    assert lake.history("silver.m")[0]["operation"] == "MERGE"
    with pytest.raises(LakeError, match="more than once"):
        lake.merge("silver.m", frame(spark, k=[4, 4], v=[1.0, 2.0]), keys=["k"])
    with pytest.raises(SchemaMismatchError):
        lake.merge("silver.m", frame(spark, k=[5], v=[5.0], extra=["e"]), keys=["k"])


def test_merge_keys_are_quoted_identifiers_never_sql(spark, lake, request):
    """Issue 20: key names went into the MERGE's SQL as they were; a backtick in one ended the
    identifier. Now a backtick is part of the name: Sail merges on that column; delta-spark's MERGE
    cannot expand a column whose name holds a backtick and refuses with its own error, the table
    unchanged. On neither engine does the name become SQL."""
    odd = "key`s"  # Delta refuses spaces and "=" in column names on Spark, so the attack is a bare backtick
    lake.merge("silver.odd", spark.createDataFrame(pd.DataFrame({odd: [1, 2], "v": [1.0, 2.0]})), keys=[odd])
    second = spark.createDataFrame(pd.DataFrame({odd: [2, 3], "v": [20.0, 3.0]}))
    if request.node.callspec.params["spark"] == "spark":
        with pytest.raises(Exception, match="INVALID_ATTRIBUTE_NAME_SYNTAX"):
            lake.merge("silver.odd", second, keys=[odd])
        assert sorted(tuple(r) for r in lake.read("silver.odd").collect()) == [(1, 1.0), (2, 2.0)]
    else:
        lake.merge("silver.odd", second, keys=[odd])
        assert sorted(tuple(r) for r in lake.read("silver.odd").collect()) == [(1, 1.0), (2, 20.0), (3, 3.0)]


def test_concurrent_merges_all_land(spark, lake):
    """The loser of a commit conflict is retried by the lake, so no update is lost."""
    lake.write("silver.c", frame(spark, k=list(range(4)), v=[0.0] * 4))
    errors = []

    def bump(key):
        try:
            lake.merge("silver.c", frame(spark, k=[key], v=[float(key + 100)]), keys=["k"])
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert rows(lake.read("silver.c")) == [(k, float(k + 100)) for k in range(4)]


def test_list_tables_history_and_row_counts(spark, lake):
    lake.write("bronze.a", frame(spark, k=[1, 2, 3]))
    lake.write("gold.b", frame(spark, k=[1], m=["x"]), partition_by=["m"])
    lake.write("gold.b", frame(spark, k=[2], m=["y"]))
    infos = {i.name: i for i in lake.tables()}
    assert set(infos) == {"bronze.a", "gold.b"}
    assert infos["bronze.a"].rows == 3 and infos["bronze.a"].layer == "bronze"
    assert infos["gold.b"].version == 2 and infos["gold.b"].rows == 2
    assert [c for c, _ in infos["gold.b"].columns] == ["k", "m"]
    assert [h["version"] for h in lake.history("gold.b")] == [2, 1, 0]
    assert lake.row_count("gold.b", version=1) == 1 and lake.row_count("gold.b", version=0) == 0
    assert DeltaTable(lake.path("gold.b")).metadata().partition_columns == ["m"]


def test_lake_from_settings_uses_configured_root(tmp_path):
    from workbench.config import load_settings

    lake = Lake.from_settings(load_settings(environ={"WORKBENCH_LAKE_ROOT": str(tmp_path)}))
    assert lake.root == str(tmp_path)
    assert lake.table_names() == []


def test_append_only_tables_refuse_rewrites(spark, lake):
    from workbench.lake import AppendOnlyError

    for name in ("workbench.audit", "workbench.runs", "workbench.run_outputs", "workbench.releases",
                 "quality.fraud_decisions", "silver.link_reviews", "release.retail_sales"):
        lake.write(name, frame(spark, k=[1], v=[1.0]))
        lake.write(name, frame(spark, k=[2], v=[2.0]))
        with pytest.raises(AppendOnlyError):
            lake.write(name, frame(spark, k=[3], v=[3.0]), mode="overwrite")
        with pytest.raises(AppendOnlyError):
            lake.write(name, frame(spark, k=[1], v=[9.0]), mode="overwrite", replace_where="k = 1")
        with pytest.raises(AppendOnlyError):
            lake.merge(name, frame(spark, k=[1], v=[9.0]), keys=["k"])
        assert rows(lake.read(name)) == [(1, 1.0), (2, 2.0)]


def test_append_arrow_has_the_same_guard_and_the_engine_reads_it(spark, lake):
    import pyarrow as pa

    lake.append_arrow("bronze.x", pa.table({"k": pa.array([1, 2], pa.int64()), "s": ["a", "b"]}))
    lake.write("bronze.x", frame(spark, k=[3], s=["c"]))  # engine and delta-rs writes mix
    with pytest.raises(SchemaMismatchError, match=r"new column\(s\) \['extra'\]"):
        lake.append_arrow("bronze.x", pa.table({"k": pa.array([4], pa.int64()), "s": ["d"], "extra": ["e"]}))
    with pytest.raises(SchemaMismatchError, match="type change"):
        lake.append_arrow("bronze.x", pa.table({"k": ["4"], "s": ["d"]}))
    with pytest.raises(SchemaMismatchError, match="lacks"):
        lake.append_arrow("bronze.x", pa.table({"k": pa.array([4], pa.int64())}))
    version = lake.append_arrow("bronze.x", pa.table({"s": ["d"], "k": pa.array([4], pa.int64()), "extra": ["e"]}),
                                evolve=True)
    assert version == lake.version("bronze.x")
    assert rows(lake.read("bronze.x")) == [(1, "a", None), (2, "b", None), (3, "c", None), (4, "d", "e")]


def test_append_only_guard_follows_the_resolved_path_not_the_name(spark, lake, tmp_path):
    """Issue 20: Lake('<parent>').write('<lake folder>.workbench.audit', mode='overwrite') wiped the audit."""
    import os

    from workbench.lake import AppendOnlyError

    lake.write("workbench.audit", frame(spark, k=[1], v=[1.0]))
    lake.write("release.retail_sales", frame(spark, k=[1], v=[1.0]))
    parent = Lake(str(tmp_path), spark=spark)  # the lake's folder is "lake" under tmp_path
    os.symlink(lake.root, tmp_path / "alias")
    alias = Lake(str(tmp_path / "alias"), spark=spark)
    for other, name in ((parent, "lake.workbench.audit"), (parent, "lake.release.retail_sales"),
                        (alias, "workbench.audit"), (alias, "release.retail_sales")):
        with pytest.raises(AppendOnlyError, match="append-only"):
            other.write(name, frame(spark, k=[3], v=[3.0]), mode="overwrite")
        with pytest.raises(AppendOnlyError, match="append-only"):
            other.merge(name, frame(spark, k=[1], v=[9.0]), keys=["k"])
    assert rows(lake.read("workbench.audit")) == [(1, 1.0)]


def test_append_only_tables_carry_deltas_flag_so_the_engine_itself_refuses(spark, lake, tmp_path):
    """Renamed or copied under any name, the table still refuses a rewrite: Delta's appendOnly flag."""
    import shutil

    from workbench.lake import AppendOnlyError

    lake.write("workbench.releases", frame(spark, k=[1], v=[1.0]))
    # The engine itself, bypassing Lake: Sail says "append-only", delta-spark
    # DELTA_CANNOT_MODIFY_APPEND_ONLY ("configured to only allow appends").
    with pytest.raises(Exception, match="append-only|APPEND_ONLY"):
        frame(spark, k=[2], v=[2.0]).write.format("delta").mode("overwrite").save(lake.path("workbench.releases"))
    shutil.copytree(lake.path("workbench.releases"), lake.path("gold.copied"))
    with pytest.raises(AppendOnlyError, match="append-only"):
        lake.write("gold.copied", frame(spark, k=[2], v=[2.0]), mode="overwrite")
    assert rows(lake.read("workbench.releases")) == [(1, 1.0)]


def test_vacuum_itself_keeps_versions_a_release_pinned(spark, lake):
    """Issue 20: Lake.vacuum(retention_hours=0) deleted the files a released run pinned."""
    import json

    import pyarrow as pa

    lake.write("gold.sample", frame(spark, k=[1, 2], v=[1.0, 2.0]))
    lake.write("gold.sample", frame(spark, k=[3], v=[3.0]), mode="overwrite")
    lake.write("gold.sample", frame(spark, k=[4], v=[4.0]), mode="overwrite")
    lake.write("gold.loose", frame(spark, k=[1], v=[1.0]))
    lake.write("gold.loose", frame(spark, k=[2], v=[2.0]), mode="overwrite")
    # a release pinned version 1 of gold.sample, its first rows (the record's inputs, as
    # release_run writes them)
    lake.append_arrow("workbench.releases", pa.table({"release_id": ["r1"],
                                                      "inputs_json": [json.dumps({"gold.sample": 1})]}))
    assert lake.vacuum("gold.sample", retention_hours=0, dry_run=False) == []
    assert lake.pinned_versions("gold.sample") == [1]
    assert rows(lake.read("gold.sample", version=1)) == [(1, 1.0), (2, 2.0)]
    assert rows(lake.read("gold.sample", version=2)) == [(3, 3.0)]
    # nothing pins gold.loose: the same call removes its replaced file
    assert len(lake.vacuum("gold.loose", retention_hours=0, dry_run=False)) == 1


def test_replace_where_values_cannot_end_their_literal(spark, lake):
    from workbench.lake import sql_literal

    assert sql_literal("bronze.vat_invoices") == "'bronze.vat_invoices'"
    for hostile in ("x' OR '1'='1", "a\\\\", "a\nb", 'x" OR 1=1'):
        with pytest.raises(LakeError, match="cannot go into a replace_where"):
            sql_literal(hostile)
    lake.write("quality.x", frame(spark, table_name=["a", "b"], v=[1.0, 2.0]), partition_by=["table_name"])
    lake.write("quality.x", frame(spark, table_name=["a"], v=[9.0]), mode="overwrite",
               replace_where=f"table_name = {sql_literal('a')}")
    assert rows(lake.read("quality.x").select("table_name", "v"), "table_name") == [("a", 9.0), ("b", 2.0)]
