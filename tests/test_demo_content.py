"""The small demo's tables hold what they held when their content was recorded.

Every silver, gold and quality output table of the lake that ``jobs run all`` builds from
the small demo (seed 7) is fingerprinted (``compare.table_fingerprint``: the exact columns
hashed, floats summed to a relative tolerance of 1e-9 of their absolute sum, since the engine
sums in partitions whose order moves the last bits; run lineage and keyed pseudonyms left out)
and compared with ``tests/fixtures/demo_content/tables.json``. A change meant to alter nothing
but speed or shape (a faster job, a refactor) must leave this test green; a change that is
meant to alter a table records the new content on purpose:

    WORKBENCH_RECORD_CONTENT=1 .venv/bin/python -m pytest -n 0 tests/test_demo_content.py

and the diff of the JSON file shows in review which tables it changed. The lake is read at
the versions the build left (``demo_lake.built_versions``), so tests that write to the shared
lake before this one runs change nothing here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from deltalake import DeltaTable

from compare import fingerprint_differences, table_fingerprint

RECORDED = Path(__file__).parent / "fixtures" / "demo_content" / "tables.json"
# quality.runs logs each rules run with its duration in seconds: a log of the build, not its content
NOT_CONTENT = ("quality.runs",)


def built_tables(demo_lake) -> dict[str, dict]:
    lake = demo_lake.lake
    return {name: table_fingerprint(DeltaTable(lake.path(name), version=version).to_pyarrow_table())
            for name, version in sorted(demo_lake.built_versions.items())
            if name.split(".")[0] in ("silver", "gold", "quality") and name not in NOT_CONTENT}


def test_every_silver_gold_and_quality_table_holds_what_was_recorded(demo_lake):
    got = built_tables(demo_lake)
    if os.environ.get("WORKBENCH_RECORD_CONTENT"):
        RECORDED.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    want = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(want), f"tables built {sorted(set(got) ^ set(want))} differ from the recorded"
    problems = [p for name in sorted(want) for p in fingerprint_differences(name, want[name], got[name])]
    assert not problems, "\n".join(problems)
    assert len(want) >= 20 and all(want[n]["rows"] > 0 for n in want if n.startswith("gold."))
