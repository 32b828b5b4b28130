"""The read-only data API over real HTTP on loopback, and a property-based test against its spec.

The lake holds every kind of table the API must never serve (gold inputs, run outputs, the
run registry, an approved but unreleased run, a withdrawn release, embargoed vintages)
next to two public series, one of them disclosure-controlled by the release gate.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from datetime import date, datetime, timedelta, timezone

import httpx
import pandas as pd
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from pyspark.sql import functions as F

from workbench.auth import User
from workbench.disclosure.api import create_app
from workbench.disclosure.tables import KIND
from workbench.runs import registry, review
from workbench.runs.release import release_run, withdraw

STAT = User("stat", "Statistician", ("statistician",))
SUPER = User("super", "Supervisor", ("supervisor",))
SECRET = 987654.25  # only in a run that is never released


@registry.method("api_test_totals")
def _totals(inputs, params):
    df = inputs["gold.sample"].groupBy("area").agg((F.sum("value") * params["scale"]).alias("total"))
    return {"estimates": df}


def _approved(lake, kind, params, inputs):
    run_id = registry.run_method(lake, kind, params, inputs, user=STAT)
    review.submit(lake, run_id, STAT)
    review.approve(lake, run_id, SUPER)
    return run_id


def build_release_lake(spark, root: str):
    """Public, embargoed, withdrawn, unreleased and disclosure-controlled releases in one lake."""
    from workbench.lake import Lake

    lake = Lake(root, spark=spark)
    areas = [f"a{i:02d}" for i in range(25)]
    lake.write("gold.sample", spark.createDataFrame(pd.DataFrame({"area": areas, "value": range(1, 26)}).astype(
        {"value": float})))
    later = datetime.now(timezone.utc) + timedelta(days=2)
    release_run(lake, _approved(lake, "api_test_totals", {"scale": 1.0}, ["gold.sample"]), SUPER, "sample_totals",
                output="estimates")
    release_run(lake, _approved(lake, "api_test_totals", {"scale": 2.0}, ["gold.sample"]), SUPER, "sample_totals",
                output="estimates", embargo_until=later)
    release_run(lake, _approved(lake, "api_test_totals", {"scale": 3.0}, ["gold.sample"]), SUPER, "next_month",
                output="estimates", embargo_until=later)
    gone = _approved(lake, "api_test_totals", {"scale": 4.0}, ["gold.sample"])
    release_run(lake, gone, SUPER, "withdrawn_series", output="estimates")
    withdraw(lake, gone, SUPER, "error found")
    _approved(lake, "api_test_totals", {"scale": SECRET}, ["gold.sample"])  # approved, never released
    # a small microdata table behind a disclosure-controlled release
    micro = pd.DataFrame({
        "credit_code": [f"e{i}" for i in range(12)], "period": [date(2026, 9, 1)] * 12,
        "county_code": ["c1"] * 8 + ["c2"] * 4, "township_code": ["t1"] * 5 + ["t2"] * 3 + ["t3"] * 4,
        "industry_section": ["A", "A", "A", "B", "B", "A", "A", "A", "A", "A", "A", "B"],
        "vat_sales": [10.0, 12.0, 11.0, 50.0, 3.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 40.0]})
    lake.write("gold.enterprise_month", spark.createDataFrame(micro))
    release_run(lake, _approved(lake, KIND, {"measures": ["vat_sales"], "first": "2026-09", "last": "2026-09"},
                                ["gold.enterprise_month"]), SUPER, "area_industry", output="table")
    return lake


@pytest.fixture(scope="module")
def api_lake(spark, tmp_path_factory):
    return build_release_lake(spark, str(tmp_path_factory.mktemp("api") / "lake"))


@contextlib.contextmanager
def serving(app):
    """*app* served by uvicorn on a free loopback port, in a thread of this process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def base_url(api_lake):
    with serving(create_app(api_lake.root)) as url:
        yield url


def test_api_serves_public_vintages_with_pagination(base_url):
    with httpx.Client(base_url=base_url) as http:
        assert http.get("/health").json() == {"status": "ok"}
        series = {s["series"]: s for s in http.get("/series").json()}
        assert set(series) == {"sample_totals", "area_industry"}
        assert series["sample_totals"]["latest_vintage"] == 1  # vintage 2 is under embargo
        assert [v["vintage"] for v in http.get("/series/sample_totals/vintages").json()] == [1]
        rows, page = [], 1
        while True:
            body = http.get("/series/sample_totals/vintages/1", params={"page": page, "page_size": 10}).json()
            assert body["total_rows"] == 25 and body["total_pages"] == 3
            rows += body["rows"]
            if page == body["total_pages"]:
                break
            page += 1
        assert sorted(r["area"] for r in rows) == [f"a{i:02d}" for i in range(25)]
        assert {r["area"]: r["total"] for r in rows}["a24"] == 25.0
        assert "release_id" not in rows[0] and "run_id" not in rows[0]
        protected = http.get("/series/area_industry/vintages/1", params={"page_size": 1000}).json()
        statuses = {r["conf_status"] for r in protected["rows"]}
        assert {"F", "C"} <= statuses
        assert all(r["value"] is None for r in protected["rows"] if r["conf_status"] != "F")
        vintage = http.get("/series/area_industry/vintages").json()[0]
        assert vintage["disclosure"]["audit"] == "passed"
        csv = http.get("/series/sample_totals/vintages/1/files/csv")
        assert csv.headers["content-disposition"] == 'attachment; filename="sample_totals_v1.csv"'
        assert csv.content.startswith(b"\xef\xbb\xbf")
        assert http.get("/openapi.json").json()["paths"].keys() >= {"/series", "/series/{name}/vintages/{vintage}"}


def test_api_refuses_every_unreleased_table(api_lake, base_url):
    names = set()
    for table in api_lake.table_names():
        parts = table.split(".")
        names |= {table, parts[-1], "_".join(parts), parts[0]}
    public = {"sample_totals", "area_industry"}
    refused = 0
    with httpx.Client(base_url=base_url) as http:
        for name in sorted(names - public):
            for path in (f"/series/{name}/vintages", f"/series/{name}/vintages/1", f"/series/{name}/vintages/1/files/csv"):
                r = http.get(path)
                expected = (403,) if name == "next_month" and not path.endswith("vintages") else (404, 422)
                assert r.status_code in expected, (path, r.status_code)
                assert str(SECRET) not in r.text
                refused += 1
        # embargoed vintages of a public series, and the withdrawn one
        assert http.get("/series/sample_totals/vintages/2").status_code == 403
        assert http.get("/series/sample_totals/vintages/2/files/parquet").status_code == 403
        assert http.get("/series/withdrawn_series/vintages/1").status_code == 404
        assert http.get("/series/sample_totals/vintages/9").status_code == 404
        assert http.get("/series/..%2Fgold/vintages/1").status_code in (404, 422)
        calendar = http.get("/calendar").json()
        assert {(c["series"], c["vintage"]) for c in calendar} == {("sample_totals", 2), ("next_month", 1)}
        assert "rows" not in calendar[0]
    assert refused >= 3 * 10


@pytest.fixture()
def api_schema(base_url):
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_spec(case):
    """Generated requests (paths, series names, vintages, pages) get documented statuses and bodies."""
    case.call_and_validate()


def test_workbench_api_command_serves_the_lake_of_the_settings(api_lake):
    import os
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "WORKBENCH_LAKE_ROOT": api_lake.root}
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "api", "--port", str(port)], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                series = httpx.get(f"http://127.0.0.1:{port}/series", timeout=2).json()
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, "workbench api did not start"
                time.sleep(0.2)
        assert {s["series"] for s in series} == {"sample_totals", "area_industry"}
    finally:
        proc.terminate()
        proc.wait(10)


# ---- issue 20: only what the audit trail vouches for is served -------------------------

def _tamper_lake(spark, root):
    """One honest release, an approved but unreleased run and a small microdata table."""
    from workbench.lake import Lake

    lake = Lake(root, spark=spark)
    lake.write("gold.sample", spark.createDataFrame(pd.DataFrame({"area": ["a", "b"], "value": [1.0, 2.0]})))
    lake.write("gold.enterprise_month", spark.createDataFrame(pd.DataFrame(
        {"credit_code": ["91440000SECRET01"], "vat_sales": [SECRET]})))
    release_run(lake, _approved(lake, "api_test_totals", {"scale": 1.0}, ["gold.sample"]), SUPER, "sample_totals",
                output="estimates")
    unreleased = _approved(lake, "api_test_totals", {"scale": 2.0}, ["gold.sample"])
    return lake, unreleased


def _get_all(http, series):
    return {path: http.get(path) for path in ("/series", "/calendar", f"/series/{series}/vintages",
                                              f"/series/{series}/vintages/1", f"/series/{series}/vintages/1/files/csv")}


def test_api_refuses_a_release_record_or_rows_added_by_hand(spark, tmp_path):
    """A row appended to workbench.releases by hand made the API publish raw gold.enterprise_month microdata."""
    import json

    import pyarrow as pa

    from workbench.disclosure.reader import ReleaseReader
    from workbench.runs.release import RELEASES_SCHEMA

    lake, unreleased = _tamper_lake(spark, str(tmp_path / "lake"))
    micro = lake.read("gold.enterprise_month")
    lake.write("release.leak", micro.select(  # appending to release.* is allowed: it is how vintages land
        F.lit("forged").alias("release_id"), F.lit(1).cast("bigint").alias("vintage"),
        F.lit(date(2026, 9, 1)).alias("release_date"), F.lit(None).cast("timestamp").alias("embargo_until"),
        F.lit(unreleased).alias("run_id"), *micro.columns))
    now = datetime.now(timezone.utc)
    lake.append_arrow("workbench.releases", pa.Table.from_pylist([{
        "release_id": "forged", "series": "leak", "vintage": 1, "run_id": unreleased, "release_date": now.date(),
        "embargo_until": None, "released_at": now, "released_by": "super", "inputs_json": json.dumps({}),
        "quality_report_json": "{}", "output": "estimates", "rows": 1, "rows_sha256": "0" * 64,
        "record_mac": "0" * 64}], schema=RELEASES_SCHEMA))
    # and the microdata's value appended under the honest release's id
    honest = lake.read("release.sample_totals")
    lake.write("release.sample_totals", honest.limit(1).withColumn("area", F.lit("91440000SECRET01"))
               .withColumn("total", F.lit(SECRET)))
    problems = {r.series: r.problem for r in ReleaseReader(lake).releases()}
    assert "no audit entry releases it" in problems["leak"]
    assert "rows added or changed by hand" in problems["sample_totals"]
    with serving(create_app(lake.root)) as url, httpx.Client(base_url=url) as http:
        for series in ("leak", "sample_totals"):
            for path, r in _get_all(http, series).items():
                assert r.status_code in (200, 404), (path, r.status_code)
                assert str(SECRET) not in r.text and "SECRET01" not in r.text, path
        assert http.get("/series").json() == []
        assert http.get("/series/leak/vintages/1").status_code == 404
    # the forged record neither blocks the run's own release nor is finished by it
    rel = release_run(lake, unreleased, SUPER, "sample_doubled", output="estimates")
    assert (rel.vintage, review.state(lake, unreleased)) == (1, "released")
    assert {(r.series, r.problem is None) for r in ReleaseReader(lake).releases() if r.run_id == unreleased} == {
        ("leak", False), ("sample_doubled", True)}


def test_api_refuses_everything_when_the_audit_chain_breaks(spark, tmp_path):
    """The audit overwritten or edited made withdrawn releases public again; now the API names the break."""
    import pyarrow as pa

    from workbench.runs.audit_chain import AUDIT_SCHEMA, read_chain

    lake, unreleased = _tamper_lake(spark, str(tmp_path / "lake"))
    release_run(lake, unreleased, SUPER, "withdrawn_series", output="estimates")
    withdraw(lake, unreleased, SUPER, "error found")
    with serving(create_app(lake.root)) as url, httpx.Client(base_url=url) as http:
        assert {s["series"] for s in http.get("/series").json()} == {"sample_totals"}
    # a forged entry that would undo the withdrawal: "released" again, appended by hand
    chain = read_chain(lake)
    last = chain[-1]
    lake.append_arrow("workbench.audit", pa.Table.from_pylist([{
        **{k: last[k] for k in AUDIT_SCHEMA.names}, "audit_id": "forged", "action": "approve", "before": "withdrawn",
        "after": "released", "seq": len(chain), "prev_hash": last["entry_hash"], "entry_hash": "a" * 64}],
        schema=AUDIT_SCHEMA))
    with serving(create_app(lake.root)) as url, httpx.Client(base_url=url) as http:
        for series in ("withdrawn_series", "sample_totals"):
            for path, r in _get_all(http, series).items():
                assert r.status_code == 503, (path, r.status_code)
                assert f"entry {len(chain)}" in r.json()["detail"] and "not written by the workbench" in r.text
        assert http.get("/health").status_code == 200


# ---- issue 28: the end of the audit chain cut off while the API was down -----------------

@contextlib.contextmanager
def api_process(root: str):
    """`workbench api` over the lake at *root*, a real process on a free loopback port."""
    import os
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "api", "--port", str(port)],
                            env={**os.environ, "WORKBENCH_LAKE_ROOT": root})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, "workbench api did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_withdrawal_cut_off_the_audit_while_the_api_was_down_is_detected_at_start(spark, tmp_path):
    """The audit's last commit deleted, then the API restarted: it served the withdrawn vintage again."""
    import os

    import pyarrow as pa
    from deltalake import DeltaTable

    from workbench.runs.audit_chain import AuditChainError
    from workbench.runs.release import list_releases

    lake, unreleased = _tamper_lake(spark, str(tmp_path / "lake"))
    release_run(lake, unreleased, SUPER, "withdrawn_series", output="estimates")
    withdraw(lake, unreleased, SUPER, "error found")
    withdrawn = "/series/withdrawn_series/vintages/1"
    with api_process(lake.root) as url:
        assert httpx.get(url + withdrawn).status_code == 404
    audit = lake.path("workbench.audit")  # the withdrawal's commit and file deleted, the API stopped
    last = DeltaTable(audit).version()
    before = set(pa.table(DeltaTable(audit, version=last - 1).get_add_actions(flatten=True)).column("path").to_pylist())
    for name in set(pa.table(DeltaTable(audit).get_add_actions(flatten=True)).column("path").to_pylist()) - before:
        os.unlink(os.path.join(audit, name))
    for log in (f"{last:020d}.json", f"{last:020d}.crc"):  # the commit and its checksum, if written
        if os.path.exists(os.path.join(audit, "_delta_log", log)):
            os.unlink(os.path.join(audit, "_delta_log", log))
    with api_process(lake.root) as url:
        for path in (withdrawn, "/series", "/series/sample_totals/vintages/1"):
            r = httpx.get(url + path)
            assert r.status_code == 503, (path, r.status_code, r.text[:200])
            assert "cut off" in r.json()["detail"]
    with pytest.raises(AuditChainError, match="cut off"):
        list_releases(lake)  # and every reader of the library, started afresh


def test_the_page_cache_is_bounded_by_bytes_not_by_pages(api_lake):
    """Issue 28 item 15: the page cache kept 4,096 pages whatever their size, so 4,000
    distinct page/page_size pairs of one 725-row vintage raised the service's memory from
    232 to 367 MB. Many distinct pages of real vintages, served by uvicorn, must keep the
    cache's measured bytes under its bound, evicting the least recently used."""
    import dataclasses
    import sys

    from workbench.disclosure.settings import load_disclosure_settings

    settings = load_disclosure_settings()
    bound_mb = 0.25
    settings = dataclasses.replace(settings, api=dataclasses.replace(settings.api, page_cache_mb=bound_mb))
    app = create_app(api_lake.root, settings=settings)
    cache = app.state.page_cache
    served = 0
    with serving(app) as url, httpx.Client(base_url=url) as http:
        for series, vintage in (("sample_totals", 1), ("area_industry", 1)):
            for page_size in range(1, 301):
                for page in (1, 2):
                    answer = http.get(f"/series/{series}/vintages/{vintage}",
                                      params={"page": page, "page_size": page_size})
                    assert answer.status_code == 200, answer.text
                    served += len(answer.content)
                    assert cache.total_bytes <= bound_mb * 1024 * 1024
        # the bound was reached and held: far more was served than the cache may keep
        assert served > 4 * bound_mb * 1024 * 1024
        entries = list(cache._entries.items())
        measured = sum(sys.getsizeof(v) + sys.getsizeof(k) + sum(sys.getsizeof(p) for p in k) for k, (v, _) in entries)
        assert measured == cache.total_bytes and 0 < measured <= bound_mb * 1024 * 1024
        # the newest pages are kept, the oldest went first; a kept page is served as it was made
        keys = [k for k, _ in entries]
        assert keys[-1][1:] == (2, 300) and not any(k[1:] == (1, 1) for k in keys)
        fresh = http.get("/series/area_industry/vintages/1", params={"page": 2, "page_size": 300})
        assert fresh.content == cache.get(keys[-1])


def test_the_json_rows_carry_the_published_precision_period_and_unit(base_url):
    """Issue 29 item 5: the API's JSON had full-precision floats and no period or unit; the files had
    both. The rows are now the released file's (``prepared_frame``): values in 万元 to one decimal."""
    with httpx.Client(base_url=base_url) as http:
        body = http.get("/series/area_industry/vintages/1", params={"page_size": 1000}).json()
    assert body["reference_period"] == "Sep 2026" and body["unit"], body
    shown = [r for r in body["rows"] if r["value"] is not None]
    assert shown and all(r["period"].startswith("2026-09") for r in body["rows"])
    assert {(r["unit_measure"], r["unit_mult"]) for r in body["rows"]} == {("CNY", 4)}
    # vat sales of a few yuan each: published in 万元 to one decimal, not as the stored float
    assert all(r["value"] == round(r["value"], 1) for r in shown)
    assert sum(r["value"] for r in shown) < 1  # 万元, not yuan
