"""Statistical disclosure control and dissemination of releases.

* ``rules``: primary rules (minimum frequency, (n,k) dominance, p %) on cell statistics;
* ``cells``: a hierarchical table with its margins as cells and linear equations;
* ``secondary``: complementary suppression by MILP and the attacker's interval audit (HiGHS);
* ``tables``: cell statistics from microdata in the engine; the ``area_industry_release`` run kind;
* ``gate``: the release gate called by ``workbench.runs.release.release_run``;
* ``reader``: released, visible vintages read with delta-rs (no engine), for the API and exports;
* ``export``: CSV (UTF-8 with BOM), Excel with a metadata sheet, Parquet, SDMX-CSV with its DSD;
* ``api``: the read-only HTTP API (``workbench api``).
"""
