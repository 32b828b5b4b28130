"""Shared fixtures.

One engine for the whole session, not one per test: starting Sail costs about a second
and every test would otherwise pay it; tests isolate themselves with their own
temporary lake root instead of their own engine.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Tests never touch the developer's lake or settings: every setting comes from
# the committed conf/ plus these overrides.
os.environ.pop("WORKBENCH_CONF", None)
os.environ.setdefault("RUST_LOG", "error")
# The run kinds the tests register for themselves sum a synthetic table: declared releasable
# the way a deployment declares its own kinds (conf/disclosure.toml refuses undeclared ones).
os.environ["WORKBENCH_RELEASE_EXEMPT_KINDS"] = "test_group_totals,api_test_totals,app_test_totals"
# The audit chain's key, fresh per session and only in memory (subprocesses inherit it):
# tests never create secrets inside the repository.
os.environ.setdefault("WORKBENCH_AUDIT_KEY", secrets.token_hex(32))


@pytest.fixture(scope="session")
def spark():
    """The embedded Sail engine, started once; UTC session time zone set by the factory."""
    from workbench.config import load_settings
    from workbench.engine import get_spark

    settings = load_settings(environ={})
    assert settings.engine.embedded, "the test suite runs on the embedded engine"
    return get_spark(settings)


@pytest.fixture()
def lake(spark, tmp_path):
    """An empty lake in a temporary folder, on the shared engine."""
    from workbench.lake import Lake

    return Lake(str(tmp_path / "lake"), spark=spark)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Scheduling for pytest-xdist (``make test`` runs two workers, ``--dist loadgroup``).

    A file's tests stay together on one worker, so the fixtures a file shares (a served app,
    a lake copied for its pages) are made once; every test on the Spark cluster goes to one
    worker, which starts the one cluster. Without xdist the marks change nothing.

    ``tryfirst``: xdist's worker names each test's group from these marks in its own
    collection hook, and a conftest hook otherwise runs after it, so the marks came too late
    and every test was scheduled on its own: both workers built the demo lake, served the
    same pages and started a cluster each.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_cluster = bool({"cluster", "cluster_spark"} & set(getattr(item, "fixturenames", ()))) or (
            callspec is not None and callspec.params.get("spark") == "spark")  # test_lake's engine parameter
        item.add_marker(pytest.mark.xdist_group("cluster" if on_cluster else item.nodeid.split("::")[0]))


DEMO_SEED = 7


@pytest.fixture(scope="session")
def demo_small(tmp_path_factory):
    """The `small` demo, generated once per session (about 15 s); returns its manifest."""
    from workbench.demo.generate import generate

    return generate("small", DEMO_SEED, str(tmp_path_factory.mktemp("demo_small")))


class DemoLake:
    """A lake built from the small demo by every job, once per session.

    ``built_versions``: every table's Delta version right after the build, so a test can read
    the lake as built even after other tests on the same worker wrote to it."""

    def __init__(self, settings, lake, results, manifest):
        self.settings, self.lake, self.results, self.manifest = settings, lake, results, manifest
        self.built_versions = {name: lake.version(name) for name in lake.table_names()}

    @property
    def environ(self) -> dict[str, str]:
        """Environment variables that point the app and the CLI at this lake."""
        return {"WORKBENCH_DEMO_OUT": self.settings.demo_out, "WORKBENCH_LAKE_ROOT": self.settings.lake_root,
                "WORKBENCH_PRIVACY_KEY_FILE": self.settings.privacy.key_file}


@pytest.fixture(scope="session")
def demo_lake(spark, demo_small, tmp_path_factory):
    from workbench.config import load_settings
    from workbench.lake import Lake
    from workbench.pipeline import run_jobs

    def environ(base: Path) -> dict[str, str]:
        return {
            "WORKBENCH_DEMO_OUT": demo_small["out"],
            "WORKBENCH_LAKE_ROOT": str(base / "lake"),
            # a per-session key file: tests never create secrets inside the repository
            "WORKBENCH_PRIVACY_KEY_FILE": str(base / "pseudonym.key"),
        }

    def build(base: Path) -> list:
        settings = load_settings(environ=environ(base))
        results = run_jobs("all", lake=Lake(settings.lake_root, spark=spark, settings=settings), settings=settings)
        failed = [r for r in results if r.status == "failed"]
        assert not failed, failed[0].message
        return results

    base = tmp_path_factory.mktemp("demo_lake")
    results = shared_build(tmp_path_factory, "demo_lake", build, base)
    settings = load_settings(environ=environ(base))
    lake = Lake(settings.lake_root, spark=spark, settings=settings)
    return DemoLake(settings, lake, {r.name: r for r in results}, demo_small)


def shared_build(tmp_path_factory, name: str, build, into: Path):
    """*build* (a function of a folder, returning picklable results) done once for all the
    xdist workers of this test session, and copied into each worker's *into*; returns its
    results. Both workers used to build the demo lake, three minutes of a core each.

    The build is the same on every worker: the same generated demo (same seed) whose
    deliveries the lake names by their path inside the delivery folder, and a pseudonym key
    file made in the build folder and copied with the lake (its fingerprint is in the lake).
    Without xdist, or in another session, nothing is shared: the build goes into *into*.
    """
    import fcntl
    import pickle
    import shutil

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build(into)
    shared = tmp_path_factory.getbasetemp().parent / f"shared-{name}"  # this session's, every worker's
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first worker builds; the others wait for it here
        done = shared / "results.pickle"
        if not done.exists():
            results = build(shared / "build")
            done.write_bytes(pickle.dumps(results))
    shutil.copytree(shared / "build", into, dirs_exist_ok=True, symlinks=True)
    return pickle.loads(done.read_bytes())


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """A real Apache Spark cluster (master, two 1-core workers, Spark Connect with Delta), once
    per session and stopped after it; skipped, with the reason shown, where it cannot run."""
    from workbench.cluster import Cluster, ClusterError, java_missing, spark_home

    reason = java_missing()
    if reason:
        pytest.skip(f"Spark cluster tests: {reason}")
    try:
        spark_home()
    except ClusterError as exc:
        if os.environ.get("CI"):
            raise  # CI provisions the cluster (make cluster-deps): its absence is a failure there
        pytest.skip(f"Spark cluster tests: {exc}")
    reuse = os.environ.get("WORKBENCH_TEST_CLUSTER_DIR")  # a developer's running `workbench cluster up`
    if reuse:
        running = Cluster(reuse)
        if running.state() is None or not all(running.running().values()):
            pytest.fail(f"WORKBENCH_TEST_CLUSTER_DIR={reuse}: no running cluster recorded there")
        yield running
        return
    running = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        running.up()
    except ClusterError:
        running.down()
        raise
    yield running
    running.down()


@pytest.fixture(scope="session")
def cluster_spark(cluster):
    """A Spark Connect session on the cluster (its own, beside the embedded engine's)."""
    from workbench.engine import _connect

    session = _connect(cluster.state().url, remote=True)
    yield session
    session.stop()


# R survey's apiclus1 (one-stage cluster sample of California schools), as the published
# results the estimation tests check against were computed on it (tests/fixtures/survey/).
@pytest.fixture(scope="session")
def apiclus1():
    import pandas as pd

    return pd.read_csv(REPO / "tests" / "fixtures" / "survey" / "apiclus1.csv")


@pytest.fixture(scope="session")
def dclus1(apiclus1):
    """svydesign(id=~dnum, weights=~pw, fpc=~fpc, data=apiclus1)."""
    from workbench.methods.estimate import SurveyDesign

    return SurveyDesign(apiclus1["pw"].to_numpy(), clusters=apiclus1["dnum"].to_numpy(),
                        fpc=apiclus1["fpc"].to_numpy())
