"""Job results said in the reader's language (issue 21): ``JobResult.messages`` are catalogued
sentences, the Jobs page says them in zh or en, the English ``message`` stays for logs.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from workbench.app import job_views
from workbench.i18n import MESSAGES
from workbench.pipeline import JobMessage, JobResult, run_jobs, say
from zh_text import latin_words

REPO = Path(__file__).resolve().parent.parent
# every file that builds a job result
SOURCES = [*sorted((REPO / "jobs").glob("*.py")), REPO / "workbench" / "pipeline.py"]
KEY = re.compile(r"\"(jobmsg\.[\w.]+)\"")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def used_keys() -> set[str]:
    return {key for path in SOURCES for key in KEY.findall(path.read_text(encoding="utf-8"))}


def test_every_job_message_key_is_catalogued_in_both_languages():
    keys = used_keys()
    assert len(keys) > 15, keys  # the scan finds the jobs' messages, not nothing
    missing = sorted(k for k in keys if k not in MESSAGES or not MESSAGES[k].get("zh") or not MESSAGES[k].get("en"))
    assert not missing, missing
    for key in keys:
        zh, en = MESSAGES[key]["zh"], MESSAGES[key]["en"]
        # the Chinese sentence is filled from the arguments the job gives the English one
        assert _placeholders(zh) <= _placeholders(en), key
        words = latin_words(re.sub(r"\{[^}]*\}", "", zh))  # the placeholders' names are no text
        assert not words, (key, words)


def test_english_message_is_the_catalogued_sentences_and_old_results_keep_their_text():
    parts = (JobMessage.of("jobmsg.files", new=2, duplicates=1), JobMessage.of("jobmsg.refused", n=4))
    result = JobResult("bronze_vat", "ok", messages=parts)
    assert result.message == "2 new file(s), 1 duplicate(s); 4 path(s) refused (see workbench.loads)"
    assert job_views.result_message(parts, result.message, "zh") == "新文件 2 个，重复文件 1 个；拒收路径 4 个（见 workbench.loads）"
    # a result recorded before the catalogue (no sentences) is shown with its text
    assert job_views.result_message((), "3 new file(s)", "zh") == "3 new file(s)"
    assert job_views.result_message(None, "", "en") == ""


def test_sources_and_months_are_named_in_the_language():
    months = JobMessage.of("jobmsg.rewrote_months", n=2, first="2024-01", last="2024-02")
    assert months.text() == "rewrote 2 month(s): 2024-01..2024-02"  # logs keep the identifiers
    assert job_views.result_message((months,), "", "zh") == "重写 2 个月：2024年1月至2024年2月"
    links = JobMessage.of("jobmsg.links_by_source", source="electricity", n=1234)
    zh = job_views.result_message((links,), "", "zh")
    assert zh.endswith("：1,234 条关联") and "electricity" not in zh and not latin_words(zh)


def test_a_job_on_an_empty_lake_says_why_it_skipped_in_both_languages(lake, tmp_path):
    from workbench.config import load_settings

    settings = load_settings(environ={"WORKBENCH_DEMO_OUT": str(tmp_path / "nothing"),
                                      "WORKBENCH_LAKE_ROOT": lake.root,
                                      "WORKBENCH_PRIVACY_KEY_FILE": str(tmp_path / "pseudonym.key")})
    results = run_jobs(["silver_vat_monthly", "gold_targets", "quality_survey_panel"], lake=lake, settings=settings)
    assert [r.status for r in results] == ["skipped"] * 3, [r.message for r in results]
    assert results[0].message == "bronze.vat does not exist yet"
    said = {r.name: job_views.result_message(r.messages, r.message, "zh") for r in results}
    assert said["silver_vat_monthly"] == "bronze.vat 尚不存在"
    assert said["gold_targets"] == "silver.official_series 尚不存在"
    assert said["quality_survey_panel"].startswith("数据湖中尚无 ")


@pytest.mark.slow
def test_every_result_of_building_the_demo_lake_reads_in_chinese(demo_lake):
    """The demo lake's build (conftest: every job, from nothing) says what each job did with its
    real arguments; in zh not one English word is left, in en it is the logged message."""
    results = list(demo_lake.results.values())
    assert {r.status for r in results} == {"ok"}, [(r.name, r.status, r.message) for r in results]
    for r in results:
        assert r.message == say(r.messages), r.name
        zh = job_views.result_message(r.messages, r.message, "zh")
        assert not latin_words(zh), (r.name, zh)
    said = {r.name: job_views.result_message(r.messages, r.message, "zh") for r in results}
    assert said["bronze_vat"].startswith("新文件 ")
    assert "第 " in said["quality_survey_panel"] and "插补" in said["quality_survey_panel"]
