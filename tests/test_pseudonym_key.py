"""The pseudonym key is never replaced silently (issue 28, 11).

A lost key file used to be made anew at the next silver run: every person got a new
pseudonym and every link to earlier data broke. Real key files, a real lake, the real jobs.
"""

from __future__ import annotations

import os
import stat

import pytest

from workbench.config import load_settings
from workbench.pipeline import run_jobs
from workbench.pseudonym import FINGERPRINT_FILE, key_fingerprint

HEADER = "统一社会信用代码,企业名称,法定代表人,法定代表人证件号码,联系电话"


def deliver(out, month: str, rows: list[str]) -> None:
    folder = out / "deliveries" / "register"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"register_{month}.csv").write_bytes((HEADER + "\n" + "\n".join(rows) + "\n").encode("gbk"))


@pytest.fixture()
def lake_with_pseudonyms(tmp_path, lake, monkeypatch):
    """A lake whose silver.enterprises holds pseudonyms made with a key file the first run created."""
    monkeypatch.delenv("WORKBENCH_PSEUDONYM_KEY", raising=False)
    key_file = tmp_path / "secrets" / "pseudonym.key"
    settings = load_settings(environ={"WORKBENCH_DEMO_OUT": str(tmp_path / "demo"), "WORKBENCH_LAKE_ROOT": lake.root,
                                      "WORKBENCH_PRIVACY_KEY_FILE": str(key_file)})
    deliver(tmp_path / "demo", "2024-01", ["91660100MA00000010,甲公司,张伟,110101199003071234,13800138000"])
    results = run_jobs(["bronze_register", "silver_enterprises"], lake=lake, settings=settings)
    assert [r.status for r in results] == ["ok", "ok"], [r.message for r in results]
    deliver(tmp_path / "demo", "2024-02", ["91660100MA00000029,乙公司,李娜,110101198505054321,13900139000"])
    [landed] = run_jobs(["bronze_register"], lake=lake, settings=settings)
    assert landed.status == "ok", landed.message
    return settings, lake, key_file


def test_the_first_key_is_made_on_an_empty_lake_owner_only_and_its_fingerprint_recorded(lake_with_pseudonyms):
    settings, lake, key_file = lake_with_pseudonyms
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    recorded = open(os.path.join(lake.root, FINGERPRINT_FILE), encoding="ascii").read().strip()
    assert recorded == key_fingerprint(key_file.read_bytes().strip())
    assert key_file.read_text().strip() not in recorded


def test_a_lost_key_is_not_made_anew_on_a_lake_with_pseudonyms(lake_with_pseudonyms):
    settings, lake, key_file = lake_with_pseudonyms
    key_file.unlink()
    before = lake.version("silver.enterprises")
    [silver] = run_jobs(["silver_enterprises"], lake=lake, settings=settings)
    assert silver.status == "failed"
    assert f"{key_file}: the pseudonym key file is missing and is not created anew" in silver.message
    assert "Restore the key file" in silver.message
    assert not key_file.exists()
    assert lake.version("silver.enterprises") == before


def test_a_different_key_is_refused(lake_with_pseudonyms):
    settings, lake, key_file = lake_with_pseudonyms
    key_file.write_text("another-key-0123456789abcdef0123456789", encoding="ascii")
    [silver] = run_jobs(["silver_enterprises"], lake=lake, settings=settings)
    assert silver.status == "failed"
    assert "is not the key the lake" in silver.message and "another-key" not in silver.message


def test_a_lake_pseudonymised_before_fingerprints_also_refuses_a_new_key(lake_with_pseudonyms):
    settings, lake, key_file = lake_with_pseudonyms
    os.remove(os.path.join(lake.root, FINGERPRINT_FILE))  # a lake from before fingerprints were kept
    key_file.unlink()
    [silver] = run_jobs(["silver_enterprises"], lake=lake, settings=settings)
    assert silver.status == "failed" and "silver.enterprises" in silver.message, silver.message


def test_a_key_file_others_may_read_is_refused_naming_the_fix(lake_with_pseudonyms):
    settings, lake, key_file = lake_with_pseudonyms
    key_file.chmod(0o644)
    [silver] = run_jobs(["silver_enterprises"], lake=lake, settings=settings)
    assert silver.status == "failed"
    assert f"chmod 600 {key_file}" in silver.message
    key_file.chmod(0o600)
    [again] = run_jobs(["silver_enterprises"], lake=lake, settings=settings)
    assert again.status == "ok", again.message
    assert lake.row_count("silver.enterprises") == 2
