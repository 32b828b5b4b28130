"""What the Runs, Compare and Review pages say about a run, as pure functions (workbench.app.run_views).

Each check states what a statistician reads: codes by their names, values in the unit the
variable is published in, titles that tell two runs apart, refusals and method messages in the
UI language with no English word left (tests/zh_text.py decides what counts as one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import formatting
from workbench.app import run_views
from workbench.i18n import translate
from zh_text import latin_words


def test_a_run_chart_names_its_codes_and_shows_values_in_the_published_unit():
    """A survey estimate of revenue by district: x is the district's code and name, y is in 万元
    (stored in yuan), and the axis says so; an estimate of employment stays in persons."""
    reg = formatting.registry()
    out = pd.DataFrame({"domain": ["660102", "660103"], "estimate": [1.5e8, 2.0e8]})
    shown, title = run_views.chart_frame(out, "domain", "estimate", {"variable": "revenue"}, "zh")
    assert shown["domain"].tolist() == [reg.code_label("county_code", c, "zh") for c in ("660102", "660103")]
    assert shown["domain"].str.contains("区|县").all()  # a name, not the bare code
    assert shown["estimate"].tolist() == pytest.approx([15_000.0, 20_000.0], rel=1e-12)  # 万元
    assert title == "估计值（万元）"
    shown, title = run_views.chart_frame(out, "domain", "estimate", {"variable": "employment"}, "en")
    assert shown["estimate"].tolist() == pytest.approx([1.5e8, 2.0e8]) and title == "Estimate (persons)"


def test_a_nowcast_chart_names_its_models_and_keeps_the_pages_column_names():
    evaluation = pd.DataFrame({"model": ["ar", "bridge"], "n": [16, 16], "rel_rmse": [1.0, 0.79]})
    shown, title = run_views.chart_frame(evaluation, "model", "rel_rmse", {"series": "retail_sales"}, "zh", "nowcast")
    assert shown["model"].tolist() == [translate("nowcast.model.ar", "zh"), translate("nowcast.model.bridge", "zh")]
    assert title == translate("nowcast.col.rel_rmse", "zh")
    # a nowcast's n counts backtest periods, not the register's sampled enterprises
    assert run_views.column_label("n", "zh", "nowcast") == translate("nowcast.col.n", "zh")
    assert run_views.column_label("n", "zh") == formatting.registry().column("n").heading("zh")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_generated_titles_tell_runs_of_one_kind_apart(lang):
    by_county = run_views.run_title("survey_estimate", "", {"variable": "employment", "period": "2026-08",
                                                            "domain": "county_code"}, None, lang)
    by_section = run_views.run_title("survey_estimate", "", {"variable": "employment", "period": "2026-08",
                                                             "domain": "industry_section"}, None, lang)
    city = run_views.run_title("survey_estimate", "", {"variable": "employment", "period": "2026-08"}, None, lang)
    assert len({by_county, by_section, city}) == 3
    early = run_views.run_title("nowcast", "Nowcast gdp 2026Q3", {"series": "gdp", "asof": "2026-09-13"}, "gdp", lang)
    late = run_views.run_title("nowcast", "Nowcast gdp 2026Q3", {"series": "gdp", "asof": "2026-09-20"}, "gdp", lang)
    assert early != late and formatting.format_date("2026-09-20", lang) in late
    if lang == "zh":
        assert not latin_words(by_county + by_section + early), (by_county, early)


def _series(values, start="2020-01-01", freq="MS"):
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq=freq), dtype=float)


def _gappy(positions):
    y = _series(np.arange(60.0) + 1)
    y.iloc[positions] = np.nan
    return y


@pytest.mark.parametrize("series", [
    _series([np.nan] * 40),                                   # no values
    _series(np.arange(20.0) + 1),                             # too short (months)
    _series(np.arange(8.0) + 1, freq="QS"),                   # too short (quarters)
    _gappy(list(range(20, 25))),                              # a gap too long to fill
    _gappy([5, 10, 15, 20, 25, 30, 35]),                      # too many gaps
], ids=["empty", "short-months", "short-quarters", "long-gap", "many-gaps"])
def test_why_a_series_was_not_adjusted_is_said_in_chinese(series):
    """The seasonal method explains a refusal in an English sentence (kept with the run); the
    page says each one in the UI language, months and quarters by name."""
    from workbench.methods.seasonal.adjust import check_series

    refusal = check_series(series).refusal
    assert refusal
    zh, verbatim = run_views.warning_parts(refusal, "zh")
    en, _ = run_views.warning_parts(refusal, "en")
    assert verbatim is None and zh != refusal and not latin_words(zh), zh
    assert "-" not in en.replace("X-13", "")  # months in English by name, not 2021-09


def _review_error(rule, **facts):
    from workbench.runs.review import ReviewError

    return ReviewError(f"(the English sentence of {rule})", rule, **facts)


@pytest.mark.parametrize("exc", [
    _review_error("four_eyes", user="super", run="r1", action="approve"),
    _review_error("wrong_state", run="r1", action="approve", state="draft", needs=("submitted",)),
    _review_error("not_supervisor", user="stat", action="reject"),
    _review_error("not_own", user="stat", author="research", run="r1"),
    _review_error("needs_reason", action="withdraw"),
    _review_error("series_name", series="Bad Name"),
    _review_error("unfinished_release", run="r1", output="estimates", series="survey_employment", vintage=2),
    _review_error("embargoed", series="survey_employment", vintage=3),
], ids=lambda e: e.rule)
def test_a_refused_review_action_is_said_by_its_rule_in_both_languages(exc):
    refusal = run_views.Refusal.of(exc)
    zh, en = refusal.text("zh"), refusal.text("en")
    assert zh != en and "English sentence" not in zh + en
    words = [w for w in latin_words(zh) if w not in ("super", "stat", "research", "Bad", "Name")]
    assert not words, zh


def test_a_refusal_no_rule_names_keeps_its_own_words():
    refusal = run_views.Refusal.of(ValueError("the cell 660102 x C is below the threshold"))
    assert refusal.text("zh") == translate("review.rule.other", "zh") and not refusal.said_by_rule
    assert refusal.detail == "the cell 660102 x C is below the threshold"


def test_every_rule_review_and_release_raise_is_catalogued():
    """A rule named where a refusal is raised must have its sentence in both languages."""
    import ast
    from pathlib import Path

    from workbench.i18n import MESSAGES

    root = Path(run_views.__file__).resolve().parents[1] / "runs"
    rules = set()
    for name in ("review.py", "release.py"):
        for node in ast.walk(ast.parse((root / name).read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ReviewError" and len(node.args) > 1:
                rules.add(node.args[1].value)
    assert {"four_eyes", "wrong_state", "series_name", "embargoed"} <= rules, rules
    missing = [r for r in rules if set(MESSAGES.get(f"review.rule.{r}", {})) != {"zh", "en"}]
    assert not missing, missing


def test_the_message_catalogue_defines_each_key_once():
    """A key written twice in workbench/i18n.py silently keeps the later text (one such pair hid
    the progress steps of Online prices behind stale ones)."""
    import ast
    import collections
    from pathlib import Path

    import workbench.i18n as i18n

    tree = ast.parse(Path(i18n.__file__).read_text(encoding="utf-8"))
    catalogue = next(n.value for n in tree.body if isinstance(n, ast.AnnAssign) and n.target.id == "MESSAGES")
    keys = [k.value for k in catalogue.keys]
    assert [k for k, n in collections.Counter(keys).items() if n > 1] == []


def test_english_counts_one_in_the_singular():
    """Issue 29: the Nowcast page said "Track record (1 weeks before release)"."""
    assert translate("nowcast.track", "en", horizon=1) == "Track record (1 week before release)"
    assert translate("nowcast.track", "en", horizon=11) == "Track record (11 weeks before release)"
    assert "1 week ahead" in translate("nowcast.period_expected", "en", period="Q3 2026", release="20 Oct 2026",
                                       horizon=1)
    assert translate("nowcast.track", "zh", horizon=1) == "历史表现（提前 1 周）"
