"""The app's library parts without Streamlit: accounts, messages, the catalogue."""

from __future__ import annotations

import string

import pytest

from workbench import auth, catalog
from workbench.i18n import MESSAGES, translate


def test_every_message_has_chinese_and_english():
    for key, texts in MESSAGES.items():
        assert set(texts) == {"zh", "en"}, key
        assert all(t.strip() for t in texts.values()), key
        # Both languages take the same placeholders, so a page formats either.
        fields = [{f for _, f, _, _ in string.Formatter().parse(t) if f} for t in texts.values()]
        assert fields[0] == fields[1], key


def test_unknown_message_key_fails_loudly():
    with pytest.raises(KeyError):
        translate("no.such.key", "en")


def test_demo_accounts_have_argon2_hashes_and_roles():
    users = auth.load_users()
    assert {"stat", "research", "super", "super2", "eng", "admin"} <= set(users)
    assert users["admin"].roles == auth.ROLES
    assert users["super2"].roles == ("supervisor",)
    text = auth.USERS_FILE.read_text()
    assert "$argon2id$" in text and "stat-demo" not in text.split("# Roles")[1]


def test_authenticate_accepts_right_and_refuses_wrong_passwords():
    assert auth.authenticate("eng", "eng-demo").roles == ("data_engineer",)
    assert auth.authenticate("eng", "ENG-demo") is None
    assert auth.authenticate("eng", "") is None
    assert auth.authenticate("nobody", "eng-demo") is None


def test_plain_text_passwords_and_unknown_roles_are_refused(tmp_path):
    bad = tmp_path / "users.toml"
    bad.write_text('[users.x]\nroles = ["statistician"]\npassword_hash = "secret"\n')
    with pytest.raises(auth.AuthError, match="argon2"):
        auth.load_users(bad)
    bad.write_text(f'[users.x]\nroles = ["king"]\npassword_hash = "{auth.hash_password("p")}"\n')
    with pytest.raises(auth.AuthError, match="unknown role"):
        auth.load_users(bad)


def test_oidc_email_maps_to_roles():
    assert auth.user_for_email("SUPER2@demo.gcity.example").username == "super2"
    assert auth.user_for_email("stranger@example.com") is None


def test_catalog_entries_from_catalog_toml_and_sources_fallback():
    assert catalog.entry("gold.indicators_monthly").title("en") == "Monthly indicator series"
    bronze = catalog.entry("bronze.vat")
    assert bronze.owner.startswith("税务局") and "as delivered" in bronze.title("en")
    assert "隔离" in catalog.entry("quarantine.register").title("zh")
    assert catalog.entry("gold.unknown").title("en") == "gold.unknown"


@pytest.mark.parametrize("name", [
    "workbench.loads", "silver.enterprises", "silver.vat_monthly", "silver.social_insurance_monthly",
    "silver.electricity_monthly", "silver.survey_returns", "silver.prices_daily", "silver.job_ads",
    "silver.card_merchants", "silver.card_daily", "silver.official_series", "silver.links",
    "gold.enterprise_month", "gold.area_industry_month", "gold.indicators_monthly", "gold.targets",
])
def test_seeded_catalog_tables_are_bilingual_with_owner(name):
    e = catalog.entry(name)
    assert e.title_zh and e.title_en and e.description_zh and e.description_en and e.owner


def test_missing_tables_read_as_not_yet_available(lake):
    assert catalog.source_freshness(lake) is None
    assert catalog.open_quality_issues(lake) is None
    assert catalog.runs_waiting_for_review(lake) is None
    assert catalog.indicators(lake) is None


def test_runs_waiting_and_quality_issues_count_by_status(lake, spark):
    import pandas as pd

    from workbench.auth import User
    from workbench.runs import registry, review

    stat = User("stat", "Statistician", ("statistician",))
    lake.write("gold.sample", spark.createDataFrame(pd.DataFrame({"v": [1.0]})))
    made = [registry.record_run(lake, "count_test", {}, {"gold.sample": 0}, {}, user=stat) for _ in range(3)]
    review.submit(lake, made[0], stat)
    review.submit(lake, made[1], stat)
    review.approve(lake, made[1], User("super", "Supervisor", ("supervisor",)))
    assert catalog.runs_waiting_for_review(lake) == 1  # submitted, not yet decided
    lake.write("quality.results", spark.createDataFrame(pd.DataFrame({"rule": ["r1", "r2"], "status": ["pass", "FAIL"]})))
    assert catalog.open_quality_issues(lake) == 1

def test_final_indicator_values_keep_each_months_latest_vintage():
    import datetime as dt

    import pandas as pd

    rows = pd.DataFrame({
        "indicator": ["pace", "pace", "pace", "total"], "month": ["2026-05-01"] * 4,
        "value": [300.0, 100.0, 200.0, 300.0],
        "available_date": [dt.date(2026, 6, 2), dt.date(2026, 5, 3), dt.date(2026, 5, 20), dt.date(2026, 6, 2)]})
    final = catalog.final_indicator_values(rows)
    assert final[["indicator", "value"]].values.tolist() == [["pace", 300.0], ["total", 300.0]]
