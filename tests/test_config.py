from pathlib import Path

import pytest

from workbench.config import REPO_ROOT, SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    conf = tmp_path / "workbench.toml"
    conf.write_text(text, encoding="utf-8")
    return conf


def test_committed_settings_load_with_defaults():
    settings = load_settings(environ={})
    assert settings.engine.embedded
    assert settings.ui.language in ("zh", "en")
    assert settings.lake_root == str(REPO_ROOT / "var" / "lake")


def test_environment_overrides_file(tmp_path):
    settings = load_settings(environ={"WORKBENCH_LAKE_ROOT": str(tmp_path), "WORKBENCH_UI_LANGUAGE": "en",
                                      "WORKBENCH_DEMO_SEED": "7"})
    assert settings.lake_root == str(tmp_path)
    assert settings.ui.language == "en"
    assert settings.demo.seed == 7


def test_object_store_root_is_kept_as_uri():
    settings = load_settings(environ={"WORKBENCH_LAKE_ROOT": "s3://bureau-lake/prod"})
    assert settings.lake_root == "s3://bureau-lake/prod"


def test_wrong_choice_names_key_file_and_allowed_values(tmp_path):
    conf = write(tmp_path, '[lake]\nroot = "x"\n[demo]\nscale = "huge"\n')
    with pytest.raises(SettingsError) as err:
        load_settings(conf, environ={})
    text = str(err.value)
    assert "[demo].scale" in text and str(conf) in text and "small, medium, large" in text


def test_wrong_choice_from_environment_names_the_variable():
    with pytest.raises(SettingsError, match="WORKBENCH_UI_LANGUAGE.*allowed values: zh, en"):
        load_settings(environ={"WORKBENCH_UI_LANGUAGE": "fr"})


def test_unknown_key_and_bad_number_are_refused(tmp_path):
    with pytest.raises(SettingsError, match=r"unknown key\(s\) \['rooot'\] in \[lake\]"):
        load_settings(write(tmp_path, '[lake]\nrooot = "x"\n'), environ={})
    with pytest.raises(SettingsError, match=r"\[demo\].seed.*whole number"):
        load_settings(environ={"WORKBENCH_DEMO_SEED": "many"})


def test_remote_must_be_a_spark_connect_address():
    with pytest.raises(SettingsError, match="sc://host:port"):
        load_settings(environ={"WORKBENCH_ENGINE_REMOTE": "http://cluster:15002"})
    assert not load_settings(environ={"WORKBENCH_ENGINE_REMOTE": "sc://cluster:15002"}).engine.embedded


def test_local_file_overrides_committed_file(tmp_path):
    conf = write(tmp_path, '[lake]\nroot = "a"\n')
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "workbench.toml").write_text('[lake]\nroot = "/secret/lake"\n', encoding="utf-8")
    assert load_settings(conf, environ={}).lake_root == "/secret/lake"


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SettingsError, match="settings file not found"):
        load_settings(tmp_path / "nope.toml", environ={})
