"""The same jobs and run kinds on the embedded Sail engine and on a real Apache Spark cluster.

Every job of ``workbench jobs run all`` runs on the small demo cut to 2023-07..2026-09 (39 of
its 105 months, every source, the renamed-column deliveries and the duplicated file included:
``workbench demo subset``; the whole period on the cluster takes longer than CI's budget), twice,
into two lakes: once on Sail and once on the cluster (master, two 1-core workers, Spark Connect
with delta-spark; ``workbench cluster up``). Every silver and gold table is then compared row
for row (less the lineage columns that name the job run or its time): rows sorted by every
column, floats to a relative tolerance of 1e-9 (sums over the same rows in another order differ
in the last bits only), strings, integers, dates and timestamps exactly; schemas with their
nullability. Splink's trained model, stored as JSON text, is compared as a document with its
numbers to the same tolerance: DuckDB sums in two threads inside Splink, so a model's m and u
probabilities vary in their last bits from one training to the next on either engine. The run
kinds then run on both lakes and give the same outputs.

Every difference this suite found was fixed in the code, each with a test of its own: doubles
in quality-rule details (Spark spelled 2.400099924E7), the order survey runs and the linkage
read their rows in (bootstrap replicates, the EM training sample), Splink's random session id
in the stored model, an online-price item's name taken from whichever quote came first, and
the record a review-queue row shows.

Tables are read back with delta-rs, so the comparison itself depends on neither engine.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from compare import first_difference, is_run_lineage
from test_runs_kinds import _declared_charts_fit
from workbench.auth import User
from workbench.config import load_settings
from workbench.lake import Lake
from workbench.pipeline import run_jobs
from workbench.runs import registry

# the first test here may start the cluster (and build the demo lakes): minutes, not seconds
pytestmark = [pytest.mark.timeout(2400), pytest.mark.cluster_parity]

FLOAT_RTOL = 1e-9   # relative, for float columns; everything else exact
FLOAT_ATOL = 1e-9   # absolute, for values that should be 0 and come out as 1e-13 on one engine
STAT = User("stat", "S", ("statistician",))


def _layer(name: str) -> str:
    return name.split(".", 1)[0]


PARITY_PERIOD = ("2023-07", "2026-09")


@pytest.fixture(scope="module")
def parity_demo(demo_small, tmp_path_factory):
    from workbench.demo.subset import Period, subset

    return subset(demo_small["out"], tmp_path_factory.mktemp("parity_demo") / "demo", Period(*PARITY_PERIOD))


def _jobs_into_new_lake(parity_demo, spark, base) -> Lake:
    settings = load_settings(environ={"WORKBENCH_DEMO_OUT": parity_demo["out"],
                                      "WORKBENCH_LAKE_ROOT": str(base / "lake"),
                                      "WORKBENCH_PRIVACY_KEY_FILE": str(base.parent / "parity.key")})
    lake = Lake(settings.lake_root, spark=spark, settings=settings)
    results = run_jobs("all", lake=lake, settings=settings)
    failed = [r for r in results if r.status == "failed"]
    assert not failed, f"{failed[0].name} failed: {failed[0].message}"
    return lake


@pytest.fixture(scope="module")
def sail_lake(parity_demo, spark, tmp_path_factory):
    """Every job on the cut demo, on the embedded engine."""
    return _jobs_into_new_lake(parity_demo, spark, tmp_path_factory.mktemp("parity_sail"))


@pytest.fixture(scope="module")
def cluster_lake(parity_demo, sail_lake, cluster_spark, tmp_path_factory):
    """Every job on the cut demo, on the cluster, into its own lake (same deliveries, same key)."""
    return _jobs_into_new_lake(parity_demo, cluster_spark, tmp_path_factory.mktemp("parity_cluster"))


def frame_of(lake: Lake, name: str) -> pd.DataFrame:
    """A table as pandas through delta-rs without its run lineage, rows in a canonical order
    (every column, floats last)."""
    table = DeltaTable(lake.path(name)).to_pyarrow_table()
    df = table.to_pandas()
    df = df.drop(columns=[c for c in df.columns if is_run_lineage(c)])
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
    others = [c for c in df.columns if c not in floats]
    order = others + floats
    if order and len(df):
        key = df[order].astype(str) if any(df[c].dtype == object for c in order) else df[order]
        df = df.iloc[np.lexsort([key[c].to_numpy() for c in reversed(order)])].reset_index(drop=True)
    return df


# string columns that hold a JSON document with floats (silver.linkage_models: Splink's trained
# model, whose m and u probabilities DuckDB sums in two threads, so they vary in the last bits
# from one training to the next on either engine): compared as documents, numbers to FLOAT_RTOL
JSON_DOCUMENTS = ("model_json",)


def _documents_differ(u, v) -> bool:
    if u is None or v is None:
        return (u is None) != (v is None)
    return first_difference(json.loads(u), json.loads(v), FLOAT_RTOL, FLOAT_ATOL) is not None


def differences(name: str, a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    if list(a.columns) != list(b.columns):
        return [f"{name}: columns {list(a.columns)} vs {list(b.columns)}"]
    if len(a) != len(b):
        return [f"{name}: {len(a)} rows on Sail vs {len(b)} on Spark"]
    found = []
    for col in a.columns:
        x, y = a[col], b[col]
        if col in JSON_DOCUMENTS:
            bad = np.array([_documents_differ(u, v) for u, v in zip(x, y)], dtype=bool)
        elif pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            bad = ~(np.isclose(xv, yv, rtol=FLOAT_RTOL, atol=FLOAT_ATOL, equal_nan=True))
        else:
            bad = ~((x == y) | (x.isna() & y.isna())).to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            found.append(f"{name}.{col}: {int(bad.sum())} of {len(x)} rows differ, e.g. row {i}: "
                         f"Sail {x.iloc[i]!r} vs Spark {y.iloc[i]!r}")
    return found


def test_every_silver_and_gold_table_is_the_same_on_both_engines(sail_lake, cluster_lake):
    sail, spark = sail_lake, cluster_lake
    names = sorted(n for n in sail.table_names() if _layer(n) in ("silver", "gold"))
    assert names, "the Sail lake has silver and gold tables"
    assert names == sorted(n for n in spark.table_names() if _layer(n) in ("silver", "gold"))
    problems = []
    for name in names:
        sail_types, spark_types = _types(sail.arrow_schema(name)), _types(spark.arrow_schema(name))
        if sail_types != spark_types:
            problems.append(f"{name}: columns and types {sail_types} vs {spark_types}")
            continue
        problems += differences(name, frame_of(sail, name), frame_of(spark, name))
    assert not problems, "\n".join(problems)
    print(f"\n{len(names)} silver and gold tables identical on Sail and on the Spark cluster "
          f"(floats to rel {FLOAT_RTOL})")


def _types(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(f.name, str(f.type)) for f in schema]


def test_column_nullability_is_the_same_on_both_engines(sail_lake, cluster_lake):
    """The lake creates every table through delta-rs with all columns nullable; left to
    themselves, Sail would keep NOT NULL where it can prove it and delta-spark would not."""
    sail, spark = sail_lake, cluster_lake
    names = sorted(n for n in sail.table_names() if _layer(n) in ("silver", "gold"))
    differ = [n for n in names if sail.arrow_schema(n) != spark.arrow_schema(n)]
    assert not differ, f"nullability differs in {differ}"


def test_bronze_and_quarantine_hold_the_same_rows(sail_lake, cluster_lake):
    """Bronze keeps load times and file lineage, which differ by run; the delivered rows do not."""
    sail, spark = sail_lake, cluster_lake
    names = sorted(n for n in sail.table_names() if _layer(n) in ("bronze", "quarantine"))
    assert names == sorted(n for n in spark.table_names() if _layer(n) in ("bronze", "quarantine"))
    for name in names:
        assert sail.row_count(name) == spark.row_count(name), name


# ---- run kinds on the cluster-built lake ------------------------------------------------------

# columns that name a run or the moment it ran: different by construction on two runs
RUN_COLUMNS = ("run_id", "release_id", "batch_id", "evaluated_at", "started_at", "ended_at", "edited_at", "created_at", "decided_at")


def canonical(lake: Lake, name: str) -> pd.DataFrame:
    df = frame_of(lake, name)
    df = df.drop(columns=[c for c in df.columns if c in RUN_COLUMNS])
    return frame_sorted(df)


def frame_sorted(df: pd.DataFrame) -> pd.DataFrame:
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
    order = [c for c in df.columns if c not in floats] + floats
    if not order or not len(df):
        return df.reset_index(drop=True)
    key = df[order].astype(str)
    return df.iloc[np.lexsort([key[c].to_numpy() for c in reversed(order)])].reset_index(drop=True)


@pytest.fixture(scope="module")
def kind_lakes(sail_lake, cluster_lake):
    """Each lake after the quality layer ran on its own engine: rules, screening, the imputed panel."""
    from workbench.quality import store

    for lake in (sail_lake, cluster_lake):
        store.run_all(lake, "stat")
        store.build_panel(lake, "stat")
    return sail_lake, cluster_lake


def test_quality_rules_screening_and_imputed_panel_agree(kind_lakes):
    from workbench.quality import store

    sail, spark = kind_lakes
    problems = []
    for name in (store.RESULTS, store.SUMMARY, store.SCREENING, store.FRAUD_QUEUE, store.PANEL):
        if sail.exists(name) or spark.exists(name):
            problems += differences(name, canonical(sail, name), canonical(spark, name))
    assert not problems, "\n".join(problems)


def _run_both(kind_lakes, kind, params, inputs):
    """One run of *kind* on each lake (each on its own engine); their outputs compared."""
    made = {}
    for label, lake in zip(("sail", "spark"), kind_lakes):
        run_id = registry.run_method(lake, kind, params, inputs, user=STAT)
        run = registry.get_run(lake, run_id)
        made[label] = (lake, run_id, run)
    (sail, sail_id, sail_run), (spark, _, spark_run) = made["sail"], made["spark"]
    assert set(sail_run.outputs) == set(spark_run.outputs)
    problems = []
    for output, (table, _) in sail_run.outputs.items():
        problems += differences(f"{kind}:{output}", canonical(sail, table), canonical(spark, spark_run.outputs[output][0]))
    for key, value in sail_run.metrics.items():
        other = spark_run.metrics.get(key)
        if isinstance(value, float) and isinstance(other, float):
            if not math.isclose(value, other, rel_tol=FLOAT_RTOL, abs_tol=FLOAT_ATOL):
                problems.append(f"{kind}: metric {key} {value} vs {other}")
        elif value != other:
            problems.append(f"{kind}: metric {key} {value!r} vs {other!r}")
    problems += _declared_charts_fit(sail, sail_id)  # every kind's outputs, for the Runs page's default chart
    assert not problems, "\n".join(problems)
    return made


def test_survey_estimate_small_area_and_seasonal_runs_agree(kind_lakes):
    from workbench.methods.estimate import runs as estimate_runs
    from workbench.methods.seasonal.adjust import X13Spec

    inputs = estimate_runs.inputs_for(True)
    period = "2025-12"
    _run_both(kind_lakes, "survey_estimate",
              {"period": period, "variable": "employment", "domain": "county_code", "calibration": "raking",
               "replicates": "bootstrap", "n_boot": 20, "seed": 3, "cv_threshold": 0.1}, inputs)
    _run_both(kind_lakes, "small_area_estimate", {"period": period}, inputs)
    spec = X13Spec(transform="log", spring_festival=True, outlier=False).as_dict()
    made = _run_both(kind_lakes, "seasonal_adjustment", {"indicator": "vat_sales_total", "spec": spec},
                     ["gold.indicators_monthly"])
    spark, run_id, _ = made["spark"]
    assert registry.reproduce(spark, run_id).matches, "a run on the cluster reproduces on the cluster"


def test_nowcast_runs_agree(kind_lakes):
    from workbench.methods import nowcast as nc
    from workbench.methods.nowcast import runs as nowcast_runs
    from workbench.methods.nowcast.run import NowcastSpec

    spec = NowcastSpec("retail_sales", ("ar", "bridge", "dfm"), ("card_spending_pace", "vat_sales_total"),
                       "2026-09-20", combinations=("equal",), track_periods=6)
    assert set(spec.models) <= set(nc.MODELS)
    _run_both(kind_lakes, "nowcast", spec.as_dict(), list(nowcast_runs.INPUTS))


def test_online_price_index_runs_agree(kind_lakes):
    from workbench.methods.prices import runs as price_runs

    _run_both(kind_lakes, "online_price_index", {"frequency": "month"},
              [price_runs.PRICES, price_runs.TARGETS])


def test_disclosure_controlled_release_agrees(kind_lakes):
    from workbench.disclosure.tables import KIND
    from workbench.runs import review
    from workbench.runs.release import release_run

    month = "2026-08"
    made = _run_both(kind_lakes, KIND,
                     {"measures": ["vat_sales", "si_headcount"], "first": month, "last": month},
                     ["gold.enterprise_month"])
    sup, sup2 = User("super", "A", ("supervisor",)), User("super2", "B", ("supervisor",))
    released = {}
    for label, (lake, run_id, _) in made.items():
        review.submit(lake, run_id, STAT)
        review.approve(lake, run_id, sup)
        rel = release_run(lake, run_id, sup2, "area_industry_parity", output="table")
        df = frame_of(lake, f"release.{rel.series}")
        released[label] = frame_sorted(df.drop(columns=[c for c in df.columns if c in RUN_COLUMNS + ("released_at",)]))
    problems = differences("release", released["sail"], released["spark"])
    assert not problems, "\n".join(problems)
