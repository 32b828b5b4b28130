import subprocess
import sys

import pandas as pd

from workbench.cli import main


def test_help_lists_command_groups(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for group in ("engine", "lake", "demo", "serve"):
        assert group in out


def test_lake_list_and_history(spark, lake, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    lake.write("bronze.sample", spark.createDataFrame(pd.DataFrame({"k": [1, 2, 3]})))
    lake.write("bronze.sample", spark.createDataFrame(pd.DataFrame({"k": [4]})))
    assert main(["lake", "list"]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("bronze.sample"))
    assert line.split()[1:3] == ["2", "4"]  # version 2 (0 is the creation), 4 rows
    assert main(["lake", "history", "bronze.sample"]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE" in out or "WRITE" in out
    assert main(["lake", "history", "bronze.nothing"]) == 1
    assert "no Delta table bronze.nothing" in capsys.readouterr().err


def test_bad_setting_is_one_clear_line(monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_DEMO_SCALE", "huge")
    assert main(["lake", "list"]) == 2
    err = capsys.readouterr().err
    assert "WORKBENCH_DEMO_SCALE" in err and "small, medium, large" in err


def test_engine_check_runs_as_installed_command(tmp_path):
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "engine", "check"], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "sail (embedded)" in out.stdout
    assert "499999500000" in out.stdout


def test_an_unknown_job_name_is_one_clear_line_not_a_traceback(capsys):
    """Issue 29: `workbench jobs run nosuchjob` printed a Python traceback."""
    assert main(["jobs", "run", "silver_enterprises", "nosuchjob"]) == 2
    err = capsys.readouterr().err
    assert "no job named nosuchjob" in err and "workbench jobs list" in err and "Traceback" not in err
