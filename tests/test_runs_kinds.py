"""Run kinds are known to any process: reproduce from a fresh interpreter and from the CLI.

Before workbench/runs/kinds.py a kind was registered only when the module defining it was
imported (the pages did that), so in a fresh process (a notebook, a script)
``registry.reproduce(lake, <a survey_estimate run>)`` raised "recorded outside a registered
method (survey_estimate); it cannot be rerun".
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from test_estimate_lake import write_survey_lake
from workbench.auth import load_users
from workbench.methods.estimate import runs as estimate_runs
from workbench.methods.seasonal import X13Spec
from workbench.runs import kinds, registry

ENV = {**os.environ, "RUST_LOG": "error"}


def fresh_python(code: str, folder, **env: str) -> subprocess.CompletedProcess:
    # a script file, as a notebook or a cron job runs (pyspark's Spark Connect client does not
    # start from ``python -c``: it looks for a Spark installation next to the script)
    script = folder / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env={**ENV, **env},
                          timeout=600)


def workbench_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          env={**ENV, **env}, timeout=600)


def test_every_shipped_kind_resolves_in_a_fresh_process_without_the_app(tmp_path):
    out = fresh_python("""
        import sys
        from workbench.runs import kinds, registry
        for kind in kinds.KINDS:
            assert callable(registry.method_for(kind)), kind
        assert not [m for m in sys.modules if m.startswith("workbench.app")], "the app was imported"
        print(",".join(registry.methods()))
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.strip().split(",")) >= {"survey_estimate", "small_area_estimate", "seasonal_adjustment",
                                                  "online_price_index", "nowcast", "area_industry_release"}


def test_a_shipped_kind_cannot_be_registered_over_and_an_unknown_kind_is_named():
    with pytest.raises(registry.RunError, match="workbench's own"):
        registry.method("survey_estimate")
    with pytest.raises(registry.RunError, match="no method for kind 'no_such_kind'.*survey_estimate"):
        registry.method_for("no_such_kind")
    assert kinds.load("no_such_kind") is None


@pytest.fixture(scope="module")
def recorded(spark, tmp_path_factory):
    """A synthetic survey lake with a survey estimate and a seasonal adjustment recorded in this process."""
    from workbench.lake import Lake

    lake = Lake(str(tmp_path_factory.mktemp("kinds") / "lake"), spark=spark)
    write_survey_lake(lake, spark)
    stat = load_users()["stat"]
    params = {"period": "2025-12", "variable": "employment", "domain": "county_code", "calibration": "raking",
              "replicates": "bootstrap", "n_boot": 30, "seed": 3}
    survey = registry.run_method(lake, "survey_estimate", params, estimate_runs.inputs_for(True), user=stat)
    spec = X13Spec(transform="log", outlier=False).as_dict()
    seasonal = registry.run_method(lake, "seasonal_adjustment", {"indicator": "vat_sales_total", "spec": spec},
                                   ["gold.indicators_monthly"], user=stat)
    return lake, {"survey_estimate": survey, "seasonal_adjustment": seasonal}


def test_a_notebook_reproduces_runs_recorded_elsewhere(recorded, tmp_path):
    lake, runs = recorded
    out = fresh_python(f"""
        from workbench.lake import Lake
        from workbench.runs import registry
        lake = Lake({lake.root!r})
        for run_id in {list(runs.values())!r}:
            r = registry.reproduce(lake, run_id)
            print(run_id, r.matches, r.details)
    """, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2 and all(" True " in line for line in lines), out.stdout


def test_cli_lists_and_reproduces_runs_and_names_a_run_it_cannot_find(recorded):
    lake, runs = recorded
    env = {"WORKBENCH_LAKE_ROOT": lake.root}
    listed = workbench_cli("runs", "list", **env)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert all(run_id in listed.stdout for run_id in runs.values())
    assert "survey_estimate" in listed.stdout and "draft" in listed.stdout
    rep = workbench_cli("runs", "reproduce", runs["survey_estimate"], **env)
    assert rep.returncode == 0, rep.stderr[-2000:]
    assert "estimates  matches" in rep.stdout and rep.stdout.strip().endswith("(floats to relative 1e-09)")
    assert "gold.enterprise_month@" in rep.stdout
    missing = workbench_cli("runs", "reproduce", "r_no_such_run", **env)
    assert missing.returncode == 1 and "no run r_no_such_run" in missing.stderr


def _declared_charts_fit(lake, run_id) -> list[str]:
    """Problems with the default charts of a run's outputs: an output not declared, or a
    declared column the output does not have."""
    from workbench.runs.kinds import OUTPUT_CHARTS

    run = registry.get_run(lake, run_id)
    problems = []
    for output in run.outputs:
        if (run.kind, output) not in OUTPUT_CHARTS:
            problems.append(f"{run.kind}.{output}: no default chart declared (or None for a table)")
            continue
        chart = OUTPUT_CHARTS[(run.kind, output)]
        if chart is None:
            continue
        columns = set(registry.read_output(lake, run_id, output).columns)
        missing = {chart.x, chart.y, *([chart.color] if chart.color else [])} - columns
        if missing:
            problems.append(f"{run.kind}.{output}: declared columns {sorted(missing)} not in {sorted(columns)}")
    return problems


def test_every_output_of_a_recorded_run_has_a_default_chart_on_its_own_columns(recorded):
    """The Runs and Compare pages open a run's chart on what its kind declares (an estimate by
    domain, the adjusted series by month), never on whichever columns come first."""
    from workbench.runs.kinds import KINDS, OUTPUT_CHARTS

    assert {kind for kind, _ in OUTPUT_CHARTS} == set(KINDS), "every shipped kind declares its outputs' charts"
    lake, runs = recorded
    problems = [p for run_id in runs.values() for p in _declared_charts_fit(lake, run_id)]
    assert not problems, problems
