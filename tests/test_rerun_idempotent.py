"""A re-run with no new delivery writes no new table version anywhere (issue 20 item 4).

Before, `jobs run all` a second time wrote new versions of gold.indicators_monthly,
gold.targets and silver.links every time, restamped every link's linked_run_id, and
moved 199-207 indicator values in the 15th digit.
"""

from __future__ import annotations

import pytest

from workbench.pipeline import run_jobs


@pytest.mark.timeout(1800)  # builds the demo lake first: over 10 minutes on a loaded machine
def test_a_second_run_all_writes_no_new_version_of_any_table(demo_lake):
    lake = demo_lake.lake
    # Other tests share this lake and add inputs (clerical decisions, say): one run takes
    # those in, and the run after it has nothing new to take.
    run_jobs("all", lake=lake, settings=demo_lake.settings)
    before = {name: lake.version(name) for name in lake.table_names()}
    link_runs = {r["linked_run_id"] for r in lake.read("silver.links").select("linked_run_id").distinct().collect()}
    results = run_jobs("all", lake=lake, settings=demo_lake.settings)
    assert not [r for r in results if r.status == "failed"], [r.message for r in results if r.status == "failed"]
    after = {name: lake.version(name) for name in lake.table_names()}
    assert after == before, {n: (before.get(n), v) for n, v in after.items() if before.get(n) != v}
    assert {r.status for r in results} == {"skipped"}, [(r.name, r.status, r.message) for r in results
                                                        if r.status != "skipped"]
    again = {r["linked_run_id"] for r in lake.read("silver.links").select("linked_run_id").distinct().collect()}
    assert again == link_runs
