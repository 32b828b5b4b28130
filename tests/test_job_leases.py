"""Jobs that read a watermark or rewrite a table run one at a time per table (issue 28, 5).

Two real processes, each with its own engine, released at the same instant: both used to
read the same old watermark and both write the same rows, doubling the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from workbench.config import load_settings
from workbench.lake import Lake
from workbench.pipeline import run_jobs
from workbench.sources.lease import WAIT_ENV, exclusive

REPO = Path(__file__).resolve().parent.parent
HEADER = "户号,户名,用电地址,用电类别,抄表年月,用电量"
ACCOUNTS = 1500
BAD_ROWS = 3  # kWh that is not a number: quarantined by silver

# One job as its own process. The engine is started before the start signal, so the two
# processes reach the job itself together rather than whenever their engines come up.
DRIVER = """
import json, os, sys, time
from workbench.config import load_settings
from workbench.lake import Lake
from workbench.pipeline import run_jobs
settings = load_settings()
lake = Lake.from_settings(settings)
lake.spark.sql("SELECT 1").collect()
go = os.environ["JOB_TEST_GO"]
open(go + "." + str(os.getpid()), "w").close()
while not os.path.exists(go):
    time.sleep(0.005)
[result] = run_jobs([sys.argv[1]], lake=lake, settings=settings)
print(json.dumps({"status": result.status, "message": result.message}))
from workbench.cli import exit_now
exit_now(0)
"""


def electricity(month: str) -> str:
    rows = [f"E{i:05d},户{i},路{i}号,工业,{month},{100 + i}" for i in range(ACCOUNTS)]
    rows += [f"X{i},坏{i},路,工业,{month},abc" for i in range(BAD_ROWS)]
    return HEADER + "\n" + "\n".join(rows) + "\n"


def test_two_silver_jobs_started_at_once_write_the_table_once(tmp_path, spark):
    out, root = tmp_path / "demo", tmp_path / "lake"
    folder = out / "deliveries" / "electricity"
    folder.mkdir(parents=True)
    for month in ("2024-01", "2024-02"):
        (folder / f"elec_{month}.csv").write_text(electricity(month), encoding="utf-8")
    environ = {"WORKBENCH_DEMO_OUT": str(out), "WORKBENCH_LAKE_ROOT": str(root),
               "WORKBENCH_PSEUDONYM_KEY": "test-key-0123456789abcdef"}
    settings = load_settings(environ=environ)
    lake = Lake(str(root), spark=spark, settings=settings)
    [landed] = run_jobs(["bronze_electricity"], lake=lake, settings=settings)
    assert landed.status == "ok", landed.message

    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update(environ, PYTHONPATH=str(REPO), RUST_LOG="error", JOB_TEST_GO=str(go), **{WAIT_ENV: "240"})
    procs = [subprocess.Popen([sys.executable, "-c", DRIVER, "silver_electricity_monthly"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    deadline = time.monotonic() + 180
    while len(list(tmp_path.glob("go.*"))) < 2 and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), [p.communicate()[1][-2000:] for p in procs]
        time.sleep(0.01)
    go.touch()
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-2000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    assert sorted(r["status"] for r in results) == ["ok", "skipped"], results

    table = lake.read_arrow("silver.electricity_monthly", ["account_id", "period"]).to_pylist()
    assert len(table) == 2 * ACCOUNTS, f"{len(table)} rows where {2 * ACCOUNTS} belong"
    assert len({(r["account_id"], r["period"]) for r in table}) == len(table)
    quarantine = lake.read_arrow("quarantine.electricity", ["stage"]).column("stage").to_pylist()
    assert quarantine.count("silver") == 2 * BAD_ROWS


def test_a_job_waiting_for_a_table_names_the_job_that_holds_it(tmp_path, lake, monkeypatch):
    monkeypatch.setenv(WAIT_ENV, "0.3")
    settings = load_settings(environ={"WORKBENCH_DEMO_OUT": str(tmp_path / "demo"), "WORKBENCH_LAKE_ROOT": lake.root,
                                      "WORKBENCH_PSEUDONYM_KEY": "test-key-0123456789abcdef"})
    with exclusive(lake.root, "silver.vat_monthly", "20261201T000000_holder02", activity="written"):
        [busy] = run_jobs(["silver_vat_monthly"], lake=lake, settings=settings)
    assert busy.status == "failed"
    assert "silver.vat_monthly is being written by run 20261201T000000_holder02" in busy.message
    [free] = run_jobs(["silver_vat_monthly"], lake=lake, settings=settings)
    assert free.status == "skipped", free.message  # no bronze yet: nothing to do, and nothing in the way
