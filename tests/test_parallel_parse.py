"""Parsing in worker processes (``workbench.sources.parallel``): results in delivery order,
errors at their file, a dead worker a clear failure and not a hang, the same landing as
parsing in the landing's own process, and no worker outliving a killed landing."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from workbench.sources.parallel import WORKERS_ENV, ordered_map


def slow_square(n: int) -> tuple[int, int]:
    time.sleep(0.05 * (n % 3))  # later items finish first: order must not follow finishing
    if n == 13:
        raise ValueError("thirteen")
    return n * n, os.getpid()


def die(n: int) -> int:
    os._exit(3)  # as a worker killed for memory


def test_results_come_back_in_order_from_worker_processes(monkeypatch):
    monkeypatch.setenv(WORKERS_ENV, "2")
    out = list(ordered_map(slow_square, ((i, None if i % 4 == 0 else (i,)) for i in range(12))))
    assert [tag for tag, _ in out] == list(range(12))
    assert [r[0] if r else None for _, r in out] == [None if i % 4 == 0 else i * i for i in range(12)]
    # computed in workers, not here (which of the two took how many is the scheduler's affair)
    assert os.getpid() not in {r[1] for _, r in out if r}


def test_an_error_is_raised_at_its_item_and_a_dead_worker_fails_the_map_not_hangs(monkeypatch):
    monkeypatch.setenv(WORKERS_ENV, "2")
    seen = []
    with pytest.raises(ValueError, match="thirteen"):
        for tag, _ in ordered_map(slow_square, ((i, (i,)) for i in range(10, 20))):
            seen.append(tag)
    assert seen == [10, 11, 12]
    from concurrent.futures.process import BrokenProcessPool

    started = time.monotonic()
    with pytest.raises(BrokenProcessPool):
        list(ordered_map(die, ((i, (i,)) for i in range(4))))
    assert time.monotonic() - started < 60
    # the next map starts a fresh pool
    assert [r[0] for _, r in ordered_map(slow_square, ((i, (i,)) for i in range(3)))] == [0, 1, 4]


HEADER = "纳税人识别号,纳税人名称,所属期,销售额,税额"


def _land(tmp_path: Path, name: str, workers: str) -> list[dict]:
    from workbench.lake import Lake

    root = tmp_path / name
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update({"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "RUST_LOG": "error",
                "WORKBENCH_DEMO_OUT": str(tmp_path / "demo"), "WORKBENCH_LAKE_ROOT": str(root),
                "WORKBENCH_PSEUDONYM_KEY": "test-key-0123456789abcdef", WORKERS_ENV: workers})
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "jobs", "run", "bronze_vat"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lake = Lake(str(root))
    rows = lake.read_arrow("bronze.vat", ["credit_code", "period", "sales_amount", "_file_path", "_row_number"])
    loads = lake.read_arrow("workbench.loads", ["file_path", "status", "rows_read", "rows_loaded", "rows_quarantined"])
    return [sorted(rows.to_pylist(), key=lambda r: (r["_file_path"], r["_row_number"])),
            sorted(loads.to_pylist(), key=lambda r: r["file_path"])]


def test_a_landing_parsed_by_workers_equals_one_parsed_in_its_own_process(tmp_path):
    folder = tmp_path / "demo" / "deliveries" / "vat"
    folder.mkdir(parents=True)
    for month in range(1, 8):
        body = "".join(f"C{month}{i:03d},企业{i},2024-{month:02d},{i * 10},{i}\n" for i in range(200))
        (folder / f"vat_2024-{month:02d}.csv").write_text(f"{HEADER}\n{body}C9,坏,2024-{month:02d},abc,1\n",
                                                        encoding="utf-8")
    (folder / "vat_2024-08.csv").write_text("纳税人识别号,金额\nA1,5\n", encoding="utf-8")  # rejected whole
    (folder / "vat_2024-09.csv").write_bytes((folder / "vat_2024-01.csv").read_bytes())  # same bytes
    alone = _land(tmp_path, "alone", "1")
    parallel = _land(tmp_path, "parallel", "2")
    assert alone == parallel
    statuses = {load["file_path"]: load["status"] for load in parallel[1]}
    assert statuses["vat/vat_2024-08.csv"] == "rejected" and statuses["vat/vat_2024-09.csv"] == "skipped_duplicate"
    assert len(parallel[0]) == 7 * 201


def test_no_worker_outlives_a_landing_killed_with_sigkill(tmp_path):
    """The workers are the forkserver's children, not the landing's: they must notice by
    themselves that the landing is gone, or they hold its memory and output pipes for ever."""
    script = tmp_path / "landing.py"
    script.write_text(
        "import os, time\n"
        "from workbench.sources.parallel import ordered_map\n"
        "def work(n):\n    return n\n"
        "if __name__ == '__main__':\n"
        "    print(list(ordered_map(work, ((i, (i,)) for i in range(4)))), flush=True)\n"
        "    time.sleep(120)\n", encoding="utf-8")
    env = {**os.environ, WORKERS_ENV: "2", "PYTHONPATH": str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    landing = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert landing.stdout.readline().strip() == str([(i, i) for i in range(4)])
        helpers = [p for p in psutil.Process(landing.pid).children(recursive=True)]
        workers = [p for p in psutil.process_iter(["cmdline", "ppid"])
                   if "multiprocessing.forkserver" in " ".join(p.info["cmdline"] or [])
                   and p.info["ppid"] in {h.pid for h in helpers}]
        assert len(workers) == 2
        landing.send_signal(signal.SIGKILL)
        landing.wait(timeout=10)
        gone, alive = psutil.wait_procs(helpers + workers, timeout=30)
        assert not alive, f"left running after the landing was killed: {[p.pid for p in alive]}"
    finally:
        landing.kill()
