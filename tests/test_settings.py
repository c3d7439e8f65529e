"""Settings: every source read in order, every bad key or value named, nothing silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from swe_lsp.errors import SettingsError
from swe_lsp.settings import SETTINGS_FILE, Settings, load_settings


def test_defaults_without_any_source(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path, env={}, user_file=tmp_path / "none.toml")
    assert loaded.settings == Settings()
    assert loaded.files == ()
    assert loaded.settings.model.name == "smollm2-135m"


def test_precedence_user_then_workspace_then_env_then_overrides(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text('[model]\nname = "from-user"\nbackend = "transformers"\n[search]\nbudget = 3\n')
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / SETTINGS_FILE).write_text('[model]\nname = "from-workspace"\n[search]\nbeam = 3\n')
    env = {"SWE_LSP_SEARCH__BUDGET": "6", "SWE_LSP_LOG_LEVEL": "debug", "HOME": "/x"}
    loaded = load_settings(ws, overrides={"search": {"beam": 1}}, env=env, user_file=user)
    s = loaded.settings
    assert s.model.name == "from-workspace"  # workspace over user
    assert s.model.backend == "transformers"  # user value kept where nothing overrides it
    assert s.search.budget == 6  # environment over files
    assert s.search.beam == 1  # overrides over everything
    assert s.log_level == "debug"
    assert loaded.files == (user, ws / SETTINGS_FILE)
    assert loaded.env_keys == ("SWE_LSP_SEARCH__BUDGET", "SWE_LSP_LOG_LEVEL")


def test_unknown_key_is_named_with_its_source_and_the_known_keys(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text("[search]\nbugdet = 4\n")
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path, env={}, user_file=tmp_path / "none.toml")
    text = str(err.value)
    assert "unknown setting 'search.bugdet'" in text
    assert str(tmp_path / SETTINGS_FILE) in text
    assert "budget" in text and "beam" in text


def test_bad_value_names_key_and_allowed_values(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path, env={"SWE_LSP_MODEL__BACKEND": "tensorrt"}, user_file=tmp_path / "none.toml")
    text = str(err.value)
    assert "model.backend" in text and "environment" in text
    for allowed in ("auto", "vllm", "transformers", "openai"):
        assert allowed in text


def test_unknown_environment_variable_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"unknown setting 'modle'"):
        load_settings(tmp_path, env={"SWE_LSP_MODLE": "x"}, user_file=tmp_path / "none.toml")


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"search": {"budget": 0}}, "search.budget"),
        ({"sandbox": {"memory": "lots"}}, "sandbox.memory"),
        ({"model": {"gpu_memory_utilization": 1.5}}, "model.gpu_memory_utilization"),
        ({"search": {"strategy": "random"}}, "search.strategy"),
    ],
)
def test_out_of_range_values(values: dict, key: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        load_settings(tmp_path, overrides=values, env={}, user_file=tmp_path / "none.toml")


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text("[model\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(tmp_path, env={}, user_file=tmp_path / "none.toml")


def test_with_overrides_keeps_the_last_good_settings_on_error() -> None:
    good = Settings().with_overrides({"search": {"budget": 8}})
    assert good.search.budget == 8
    with pytest.raises(SettingsError):
        good.with_overrides({"search": {"budget": -1}}, source="editor")
    assert good.search.budget == 8


def test_env_lists_are_comma_separated(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path, env={"SWE_LSP_MODELS_DIRS": "/a,/b"}, user_file=tmp_path / "none.toml")
    assert loaded.settings.models_dirs == (Path("/a"), Path("/b"))
