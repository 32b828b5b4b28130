"""Dissemination on the demo lake with one release of every kind the disclosure gate can release.

The page raised ``KeyError: 'protection'`` for every survey-estimate release: the summary
the gate writes for estimates (rows hidden below a minimum of sampled units) has no
protection interval; only the summary of enterprise tables has.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from releasable import RELEASABLE, approved
from test_app import PAGES, TIMEOUT, table, texts
from workbench.auth import load_users
from workbench.runs.release import release_run

pytestmark = pytest.mark.slow
CONTROLLED = {"area_industry_release", "survey_estimate", "small_area_estimate"}  # the gate protects these


@pytest.fixture(scope="module")
def released_kinds(demo_lake, monkeypatch_module):
    lake = demo_lake.lake
    series = {}
    for kind in RELEASABLE:
        run_id, output = approved(lake, kind)
        series[kind] = release_run(lake, run_id, load_users()["super"], f"kinds_{kind}", output=output).series
    for name, value in demo_lake.environ.items():
        monkeypatch_module.setenv(name, value)
    return series


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def dissemination(username: str) -> AppTest:
    at = AppTest.from_file(PAGES / "dissemination.py", default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.session_state["user"] = load_users()[username]
    return at.run()


@pytest.mark.parametrize("username", ["super", "research"])
def test_dissemination_shows_every_releasable_kind(released_kinds, username):
    at = dissemination(username)
    assert not at.exception, at.exception
    for kind, series in released_kinds.items():
        at.selectbox(key="diss_series").set_value(series).run()
        assert not at.exception, f"{kind}: {at.exception}"
        assert len(at.get("download_button")) == 5
        said = texts(at)
        if kind in CONTROLLED:
            assert "Disclosure control:" in said, kind
        if kind in ("survey_estimate", "small_area_estimate"):
            assert "fewer than 3 sampled units" in said  # [rules].min_frequency = 3
        report_shown = True
        try:
            at.get_by_key("diss_report")
        except KeyError:
            report_shown = False
        # The report names hidden cells and how narrowly they could be bounded: supervisors only.
        assert report_shown == (username == "super" and kind in CONTROLLED), kind
        if report_shown:
            report = table(at, "diss_report")  # empty when control hid no cell of this kind
            assert report.empty or set(report["status"]) <= {"primary", "secondary"}


def test_the_api_files_of_an_estimate_release_state_its_reference_period(released_kinds):
    """Issue 21: the API's files came without the run's period (an estimates table has no period
    column); the page's downloads had it. Both now take it from the run through the reader."""
    import io

    import pandas as pd
    from fastapi.testclient import TestClient

    from releasable import PERIOD
    from workbench.config import load_settings
    from workbench.disclosure.api import create_app

    series = released_kinds["survey_estimate"]
    with TestClient(create_app(load_settings().lake_root)) as http:
        csv = http.get(f"/series/{series}/vintages/1/files/csv")
        assert csv.status_code == 200, csv.text
        frame = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig", dtype=str)
        # one column states the run's month on every row, whatever the language names it
        stating_the_period = [c for c in frame.columns if set(frame[c]) == {PERIOD}]
        assert len(frame) > 0 and stating_the_period, frame.head().to_string()


@pytest.fixture()
def downloads(monkeypatch):
    """The bytes behind each download button's address: Streamlit's in-memory media store keeps
    them only for the length of one AppTest run, so they are noted as it stores them."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    stored: dict[str, bytes] = {}
    keep = MemoryMediaFileStorage.load_and_get_id

    def noting(self, path_or_data, mimetype, kind, filename=None):
        file_id = keep(self, path_or_data, mimetype, kind, filename)
        stored[file_id] = path_or_data if isinstance(path_or_data, bytes) else path_or_data.encode()
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", noting)
    return stored


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_released_estimates_csv_and_excel_read_in_the_readers_language_with_units(released_kinds, downloads,
                                                                                      lang):
    """Issue 29, 5: the Chinese download of an estimates release had English snake_case headings
    (estimate, ci_low), raw codes and no unit. Downloaded from the page, twice in a row (the
    estimates, another series, the estimates again), its CSV and Excel headings are the reader's
    language with the unit, and the county codes stand beside their names."""
    import io
    import re

    import pandas as pd

    from workbench.disclosure.export import FORMATS
    from workbench.formatting import registry as columns

    at = AppTest.from_file(PAGES / "dissemination.py", default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.session_state["user"] = load_users()["research"]
    at.run()
    unit = "人" if lang == "zh" else "persons"
    reg = columns()
    county = {code: reg.code_name("county_code", code, lang) for code in reg.codelists["county_code"]}
    for series in (released_kinds["survey_estimate"], released_kinds["seasonal_adjustment"],
                   released_kinds["survey_estimate"]):
        at.selectbox(key="diss_series").set_value(series).run()
        assert not at.exception, at.exception
        if series != released_kinds["survey_estimate"]:
            continue
        # one button per format, in the order of FORMATS (the page's columns)
        files = {fmt: downloads[b.proto.url.rsplit("/", 1)[-1].split(".")[0]]
                 for fmt, b in zip(FORMATS, at.get("download_button"))}
        csv = pd.read_csv(io.BytesIO(files["csv"]), encoding="utf-8-sig", dtype=str)
        xlsx = pd.read_excel(io.BytesIO(files["xlsx"]), sheet_name=0, dtype=str)
        for frame in (csv, xlsx):
            headings = [str(c) for c in frame.columns]
            assert not [h for h in headings if re.fullmatch(r"[a-z0-9_]+", h)], headings  # no identifiers
            assert any(unit in h for h in headings), headings
            if lang == "zh":
                assert all(re.search(r"[\u4e00-\u9fff]", h) for h in headings), headings
            # each county's code in one column and its name in the next
            cells = frame.astype(str).to_numpy()
            beside = [(a, b) for row in cells for a, b in zip(row, row[1:]) if a in county and county[a] == b]
            assert beside, f"no county code beside its name: {frame.head(3)}"
