"""Landing under faults and attack (issue 20): killed at every commit, two at once, hostile paths.

Real processes on a real lake: a landing is started as a separate Python process,
killed with SIGKILL by the landing's own fault hook right after its N-th commit, and
the next landing must repair what it left. The deliveries are small literal files, so
every check reads the whole lake and compares it with what was delivered, row by row.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from jobs.bronze import BATCH_ENV, FAULT_ENV, LOADS
from workbench.config import load_settings
from workbench.lake import Lake
from workbench.pipeline import run_jobs
from workbench.sources.lease import WAIT_ENV, exclusive

REPO = Path(__file__).resolve().parent.parent
HEADER = "纳税人识别号,纳税人名称,所属期,销售额,税额"

# One landing of vat in batches of 4 rows commits 6 times: bronze rows, quarantine rows and
# load lines of the first two files, then the same for the last three.
BATCH_ROWS, COMMITS = "4", 6
DELIVERY = {
    "vat/vat_2024-01.csv": f"{HEADER}\nA1,甲,2024-01,100,6\nA2,乙,2024-01\nA3,丙,2024-01,7,1\n",
    "vat/vat_2024-02.csv": f"{HEADER}\nA4,丁,2024-02,5,1\nA5,戊,2024-02,9,1\n",
    "vat/vat_2024-02_resend.csv": f"{HEADER}\nA4,丁,2024-02,5,1\nA5,戊,2024-02,9,1\n",
    "vat/vat_2024-03.csv": "纳税人识别号,金额,所属期\nA1,5,2024-03\nA2,6,2024-03\n",  # unmappable: rejected
    "vat/vat_2024-04.csv": f"{HEADER}\nB1,己,2024-04,3,0\n",
}
# Every delivered data row, by file: the header is row 1, as a person counts.
DELIVERED_ROWS = {"vat/vat_2024-01.csv": {2, 3, 4}, "vat/vat_2024-02.csv": {2, 3},
                  "vat/vat_2024-03.csv": {2, 3}, "vat/vat_2024-04.csv": {2}}
EXPECTED_STATUS = {"vat/vat_2024-01.csv": "loaded", "vat/vat_2024-02.csv": "loaded",
                   "vat/vat_2024-02_resend.csv": "skipped_duplicate", "vat/vat_2024-03.csv": "rejected",
                   "vat/vat_2024-04.csv": "loaded"}

# A landing of one source, as its own process, bypassing nothing but the job runner (which
# would import every job module and take seconds on a busy machine). It can be told to
# wait for a start signal, so that two of them begin at the same instant.
DRIVER = """
import json, os, sys, time
from jobs.bronze import land_source
from workbench.config import load_settings
from workbench.lake import Lake
from workbench.pipeline import JobContext, new_run_id
from workbench.sources.contract import contract
go = os.environ.get("LANDING_TEST_GO")
if go:
    open(go + "." + str(os.getpid()), "w").close()  # ready
    while not os.path.exists(go):
        time.sleep(0.005)
settings = load_settings()
ctx = JobContext(lake=Lake.from_settings(settings), settings=settings, run_id=new_run_id())
try:
    result = land_source(ctx, contract(sys.argv[1]))
    print(json.dumps({"status": result.status, "message": result.message}))
except Exception as exc:
    print(json.dumps({"status": "failed", "message": f"{exc.__class__.__name__}: {exc}"}))
from workbench.cli import exit_now
exit_now(0)  # as the workbench command ends: no native teardown abort after the work is done
"""


def write_delivery(out: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = out / "deliveries" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def landing_env(out: Path, lake_root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update({"PYTHONPATH": str(REPO), "RUST_LOG": "error", "WORKBENCH_DEMO_OUT": str(out),
                "WORKBENCH_LAKE_ROOT": str(lake_root), "WORKBENCH_PSEUDONYM_KEY": "test-key-0123456789abcdef",
                BATCH_ENV: BATCH_ROWS})
    env.update(extra)
    return env


def start_landing(env: dict[str, str], source: str = "vat") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DRIVER, source], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def land(env: dict[str, str], source: str = "vat") -> tuple[int, dict | None]:
    proc = start_landing(env, source)
    stdout, stderr = proc.communicate(timeout=240)
    lines = [row for row in stdout.splitlines() if row.startswith("{")]
    if proc.returncode == 0 and not lines:
        raise AssertionError(stderr[-2000:])
    return proc.returncode, json.loads(lines[-1]) if lines else None


def assert_every_row_once(lake: Lake) -> None:
    """Every delivered row is in bronze or quarantine exactly once; every file has exactly
    one load line, with the right status, and its row counts reconcile."""
    bronze = lake.read_arrow("bronze.vat", ["_file_path", "_row_number"]).to_pylist()
    quarantine = lake.read_arrow("quarantine.vat", ["_file_path", "_row_number"]).to_pylist()
    landed = Counter((r["_file_path"], r["_row_number"]) for r in bronze + quarantine)
    expected = Counter((f, n) for f, rows in DELIVERED_ROWS.items() for n in rows)
    assert landed == expected, f"missing {expected - landed}, extra {landed - expected}"
    loads = lake.read_arrow(LOADS, ["file_path", "status", "rows_read", "rows_loaded", "rows_quarantined"])
    lines = loads.to_pylist()
    assert Counter(load["file_path"] for load in lines) == Counter(set(EXPECTED_STATUS)), lines
    assert {load["file_path"]: load["status"] for load in lines} == EXPECTED_STATUS
    for line in lines:
        assert line["rows_read"] == len(DELIVERED_ROWS.get(line["file_path"], ())), line
        assert line["rows_read"] == line["rows_loaded"] + line["rows_quarantined"], line


def land_here(out: Path, root: Path, spark) -> tuple[dict, Lake]:
    """The next landing, in this process (the killed one was a process of its own)."""
    from jobs.bronze import land_source
    from workbench.pipeline import JobContext, new_run_id
    from workbench.sources.contract import contract

    settings = load_settings(environ={"WORKBENCH_DEMO_OUT": str(out), "WORKBENCH_LAKE_ROOT": str(root)})
    lake = Lake(str(root), spark=spark, settings=settings)
    result = land_source(JobContext(lake=lake, settings=settings, run_id=new_run_id()), contract("vat"))
    return {"status": result.status, "message": result.message}, lake


def test_a_landing_killed_after_any_commit_is_repaired_by_the_next(tmp_path, spark, monkeypatch):
    """SIGKILL after commit 1, 2, ... of a landing (and, twice, again during the repair):
    the next landing leaves every row landed once and every file logged once."""
    monkeypatch.setenv(BATCH_ENV, BATCH_ROWS)
    out = tmp_path / "demo"
    write_delivery(out, DELIVERY)
    commit = 0
    while True:
        commit += 1
        root = tmp_path / f"lake_{commit}"
        code, result = land(landing_env(out, root, **{FAULT_ENV: str(commit)}))
        if code == 0:  # there is no commit N: the landing ran to its end
            assert commit - 1 == COMMITS, f"a landing of five files made {commit - 1} commit(s)"
            assert result["status"] == "ok", result
            assert_every_row_once(Lake(str(root), spark=spark))
            break
        assert code == -signal.SIGKILL, f"commit {commit}: exit {code}"
        if commit in (1, 5):  # kill the repairing landing too, right after its first delete
            code, _ = land(landing_env(out, root, **{FAULT_ENV: "1"}))
            assert code == -signal.SIGKILL
        result, lake = land_here(out, root, spark)
        assert result["status"] in ("ok", "skipped"), (commit, result)
        assert_every_row_once(lake)
        versions = {t: lake.version(t) for t in ("bronze.vat", "quarantine.vat", LOADS) if lake.exists(t)}
        again, _ = land_here(out, root, spark)  # repaired for good: nothing more to do
        assert again["status"] == "skipped", again
        assert {t: lake.version(t) for t in versions} == versions


def test_two_landings_started_at_once_load_every_file_once(tmp_path, spark):
    out = tmp_path / "demo"
    body = "".join(f"C{i},企业{i},2024-01,{i},1\n" for i in range(3000))
    write_delivery(out, {f"vat/vat_2024-{m:02d}.csv": HEADER + "\n" + body for m in range(1, 9)})
    for m in range(1, 9):  # distinct bytes per file, or seven would be duplicates of the first
        with open(out / "deliveries" / f"vat/vat_2024-{m:02d}.csv", "a", encoding="utf-8") as fh:
            fh.write(f"M{m},月{m},2024-{m:02d},1,1\n")
    go = tmp_path / "go"
    env = landing_env(out, tmp_path / "lake", LANDING_TEST_GO=str(go), **{BATCH_ENV: "1000000", WAIT_ENV: "120"})
    procs = [start_landing(env), start_landing(env)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # both are past their imports: release them together
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr[-2000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    assert sorted(r["status"] for r in results) == ["ok", "skipped"], results
    lake = Lake(str(tmp_path / "lake"), spark=spark)
    rows = lake.read_arrow("bronze.vat", ["_file_path", "_row_number"]).to_pylist()
    assert len(rows) == 8 * 3001
    assert len({(r["_file_path"], r["_row_number"]) for r in rows}) == len(rows)
    loads = lake.read_arrow(LOADS, ["file_path"]).column("file_path").to_pylist()
    assert sorted(loads) == sorted(set(loads)) and len(loads) == 8


def test_a_busy_source_is_refused_naming_the_source_and_its_holder(tmp_path, lake, monkeypatch):
    out = tmp_path / "demo"
    write_delivery(out, {"vat/vat_2024-04.csv": DELIVERY["vat/vat_2024-04.csv"]})
    monkeypatch.setenv("WORKBENCH_DEMO_OUT", str(out))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv(WAIT_ENV, "0.5")
    settings = load_settings()
    with exclusive(lake.root, "bronze.vat", "20261201T000000_holder01"):
        [refused] = run_jobs(["bronze_vat"], lake=lake, settings=settings)
        [other] = run_jobs(["bronze_register"], lake=lake, settings=settings)  # another source is free
    assert refused.status == "failed"
    assert "bronze.vat is being landed by run 20261201T000000_holder01" in refused.message
    assert f"pid {os.getpid()}" in refused.message
    assert other.status != "failed", other.message
    assert not lake.exists("bronze.vat")
    [after] = run_jobs(["bronze_vat"], lake=lake, settings=settings)  # released: lands
    assert after.status == "ok" and lake.row_count("bronze.vat") == 1


def test_paths_leading_out_of_the_delivery_folder_are_refused_unread(tmp_path, lake, monkeypatch):
    out = tmp_path / "demo"
    write_delivery(out, {"vat/vat_2024-01.csv": DELIVERY["vat/vat_2024-01.csv"]})
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(f"{HEADER}\nX9,外部,2024-05,1,1\n", encoding="utf-8")
    folder = out / "deliveries" / "vat"
    (folder / "vat_2024-05.csv").symlink_to(outside)
    (folder / "vat_2024-06.csv").symlink_to("/proc/self/environ")
    (folder / "vat_2024-07.csv").mkdir()
    os.mkfifo(folder / "vat_2024-08.csv")  # reading it would block the landing for ever
    monkeypatch.setenv("WORKBENCH_DEMO_OUT", str(out))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "secret-marker-0123456789")
    settings = load_settings()
    [result] = run_jobs(["bronze_vat"], lake=lake, settings=settings)
    assert result.status == "ok", result.message
    assert "4 path(s) refused" in result.message
    loads = {load["file_path"]: load for load in lake.read_arrow(LOADS, ["file_path", "status", "reason", "rows_read"])
             .to_pylist()}
    assert loads["vat/vat_2024-01.csv"]["status"] == "loaded"
    for name in ("05", "06", "07", "08"):
        line = loads[f"vat/vat_2024-{name}.csv"]
        assert line["status"] == "refused" and line["rows_read"] == 0, line
    assert "symbolic link" in loads["vat/vat_2024-05.csv"]["reason"]
    assert "/proc/self/environ" in loads["vat/vat_2024-06.csv"]["reason"]
    assert "not a regular file" in loads["vat/vat_2024-08.csv"]["reason"]
    from workbench.catalog import source_freshness

    assert source_freshness(lake).set_index("source").loc["vat", "rejected"] == 4  # the home page shows them
    environ = Path("/proc/self/environ").read_bytes().decode("utf-8", "replace")
    stored = json.dumps([lake.read_arrow(t, lake.arrow_schema(t).names).to_pylist()
                         for t in ("bronze.vat", "quarantine.vat", LOADS)], default=str, ensure_ascii=False)
    assert "secret-marker" not in stored and "X9" not in stored
    assert not any(part in stored for part in environ.split("\0") if len(part) > 12)
    versions = {t: lake.version(t) for t in ("bronze.vat", LOADS)}
    [again] = run_jobs(["bronze_vat"], lake=lake, settings=settings)  # refused once, logged once
    assert again.status == "skipped", again.message
    assert {t: lake.version(t) for t in versions} == versions


def test_rows_of_a_landing_that_waited_for_the_lease_still_reach_silver(tmp_path, lake, monkeypatch):
    """Silver reads bronze rows newer than its watermark. A landing that started first but
    got the lease last stamped its rows with its start time, older than rows silver had
    already read, so silver never saw them."""
    from jobs.bronze import land_source
    from workbench.pipeline import JobContext, new_run_id
    from workbench.sources.contract import contract

    out = tmp_path / "demo"
    monkeypatch.setenv("WORKBENCH_DEMO_OUT", str(out))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    settings = load_settings()
    waited = JobContext(lake=lake, settings=settings, run_id=new_run_id())  # starts, then waits its turn
    time.sleep(0.01)
    write_delivery(out, {"vat/vat_2024-01.csv": f"{HEADER}\nA1,甲,2024-01,100,6\n"})
    for result in run_jobs(["bronze_vat", "silver_vat_monthly"], lake=lake, settings=settings):
        assert result.status == "ok", result.message
    write_delivery(out, {"vat/vat_2024-02.csv": f"{HEADER}\nA1,甲,2024-02,200,6\n"})
    assert land_source(waited, contract("vat")).status == "ok"
    [silver] = run_jobs(["silver_vat_monthly"], lake=lake, settings=settings)
    assert silver.status == "ok", silver.message
    periods = sorted(str(r["period"]) for r in lake.read("silver.vat_monthly").select("period").collect())
    assert periods == ["2024-01-01", "2024-02-01"]


def test_a_contract_folder_leading_out_of_the_delivery_root_is_refused(tmp_path):
    from workbench.sources.contract import ContractError, load_contracts

    for folder in ("../etc", "/etc", "vat/../../x"):
        conf = tmp_path / f"sources_{abs(hash(folder))}.toml"
        conf.write_text(f'[vat]\nfolder = "{folder}"\npattern = "vat_*.csv"\nformat = "csv"\n'
                        'period_from = "vat_(\\\\d{4}-\\\\d{2})"\n[vat.columns.credit_code]\nheader = "code"\n',
                        encoding="utf-8")
        with pytest.raises(ContractError, match=r"\[vat\]\.folder .* inside the delivery root"):
            load_contracts(str(conf))


def test_rows_of_a_landing_whose_run_id_has_a_hyphen_are_repaired_too(tmp_path, lake):
    """Run ids made elsewhere (a test lake, an older runner) may hold '-': the repair must
    delete their rows, not stop on them."""
    import pyarrow as pa

    from jobs.bronze import _Commits, repair_unlogged

    lake.append_arrow("bronze.vat", pa.table({"credit_code": ["A1"], "_job_run_id": ["run-1"],
                                              "_file_sha256": ["ab" * 32], "_file_path": ["vat/vat_2024-01.csv"]}))
    assert repair_unlogged(lake, "vat", _Commits()) == (1, ["run-1"])
    assert lake.row_count("bronze.vat") == 0


def _land_in_process(lake: Lake, settings, progress=lambda fraction, message: None):
    from jobs.bronze import land_source
    from workbench.pipeline import JobContext, new_run_id
    from workbench.sources.contract import contract

    ctx = JobContext(lake=lake, settings=settings, run_id=new_run_id(), progress=progress)
    return land_source(ctx, contract("vat"))


def test_a_file_swapped_for_a_symlink_after_the_check_is_refused_not_landed(tmp_path, lake, monkeypatch):
    """Issue 28, 7: the folder is listed and checked, then each file is opened by name. A
    file that turns into a link to an outside file in between (here: at the moment the
    landing reports it is about to read it) must not land the outside file."""
    out = tmp_path / "demo"
    write_delivery(out, {"vat/vat_2024-01.csv": DELIVERY["vat/vat_2024-01.csv"],
                         "vat/vat_2024-04.csv": DELIVERY["vat/vat_2024-04.csv"]})
    outside = tmp_path / "outside.csv"
    outside.write_text(f"{HEADER}\nX9,外部,2024-01,1,1\n", encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_DEMO_OUT", str(out))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    target = out / "deliveries" / "vat" / "vat_2024-01.csv"

    def swap_when_reached(fraction: float, message: str) -> None:
        if message == "vat/vat_2024-01.csv":  # checked already, not yet opened
            staged = target.with_name(".swap")
            staged.symlink_to(outside)
            os.replace(staged, target)

    result = _land_in_process(lake, load_settings(), swap_when_reached)
    assert result.status == "ok", result.message
    loads = {load["file_path"]: load for load in lake.read_arrow(LOADS, ["file_path", "status", "reason"]).to_pylist()}
    assert loads["vat/vat_2024-01.csv"]["status"] == "refused", loads
    assert "symbolic link" in loads["vat/vat_2024-01.csv"]["reason"]
    assert loads["vat/vat_2024-04.csv"]["status"] == "loaded"
    assert lake.read_arrow("bronze.vat", ["credit_code"]).column("credit_code").to_pylist() == ["B1"]


def test_a_hard_link_to_an_outside_file_is_refused_unread(tmp_path, lake, monkeypatch):
    """Issue 28, 7: a hard link is a regular file inside the folder by every path check, yet
    its bytes are a file outside it that the deliverer may not be able to read."""
    out = tmp_path / "demo"
    write_delivery(out, {"vat/vat_2024-04.csv": DELIVERY["vat/vat_2024-04.csv"]})
    outside = tmp_path / "outside.csv"
    outside.write_text(f"{HEADER}\nX9,外部,2024-05,1,1\n", encoding="utf-8")
    os.link(outside, out / "deliveries" / "vat" / "vat_2024-05.csv")
    monkeypatch.setenv("WORKBENCH_DEMO_OUT", str(out))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    result = _land_in_process(lake, load_settings())
    assert result.status == "ok", result.message
    loads = {load["file_path"]: load for load in lake.read_arrow(LOADS, ["file_path", "status", "reason"]).to_pylist()}
    line = loads["vat/vat_2024-05.csv"]
    assert line["status"] == "refused" and "2 names (hard links)" in line["reason"], line
    assert "deliver a copy" in line["reason"]
    assert lake.read_arrow("bronze.vat", ["credit_code"]).column("credit_code").to_pylist() == ["B1"]
    assert not lake.exists("quarantine.vat") or "X9" not in str(lake.read_arrow("quarantine.vat", ["raw_text"]))
