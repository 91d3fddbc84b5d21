from pathlib import Path

import pytest

from healer.config import Settings, load_settings
from healer.errors import ConfigError
from healer.llm.profile import bundled_profile


def test_flags_beat_environment_beat_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "healer.toml").write_text('model = "file-model"\nbase_url = "http://file/v1"\n'
                                          'concurrency = 3\n')
    monkeypatch.setenv("HEALER_MODEL", "env-model")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    settings = load_settings(tmp_path)
    assert (settings.model, settings.base_url, settings.concurrency) == ("env-model", "http://file/v1", 3)
    settings = load_settings(tmp_path, model="flag-model", concurrency=None)
    assert settings.model == "flag-model" and settings.concurrency == 3


def test_pyproject_tool_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEALER_MODEL", raising=False)
    (tmp_path / "pyproject.toml").write_text('[tool.healer]\nmodel = "m"\nchecks = ["make lint"]\n')
    settings = load_settings(tmp_path)
    assert settings.model == "m" and settings.checks == ["make lint"]


def test_invalid_settings_are_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "healer.toml").write_text("concurrency = 0\nunknown_key = 1\n")
    with pytest.raises(ConfigError, match="concurrency") as exc:
        load_settings(tmp_path)
    assert "unknown_key" in str(exc.value)
    (tmp_path / "healer.toml").write_text("model = [unclosed")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_settings(tmp_path)


def test_any_setting_from_a_healer_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALER_LOCAL_THREADS", "1")
    monkeypatch.setenv("HEALER_CACHE", "false")
    settings = load_settings(tmp_path)
    assert settings.local_threads == 1 and settings.cache is False
    monkeypatch.setenv("HEALER_LOCAL_THREADS", "many")
    with pytest.raises(ConfigError, match="local_threads"):
        load_settings(tmp_path)


def test_the_bundled_model_gets_a_context_budget_that_fits_its_window() -> None:
    before_serving = Settings()  # no endpoint: the bundled model will be served
    serving = Settings(base_url="http://127.0.0.1:5000/v1", model="local-qwen2.5-coder-1.5b",
                       **bundled_profile(8192))
    hosted = Settings(base_url="https://api.example/v1", model="gpt-4.1")
    named_local = Settings(base_url="https://api.example/v1", model="local-but-hosted")
    fits = before_serving.local_ctx - before_serving.max_tokens - 2000
    assert before_serving.context_budget() == serving.context_budget() == fits
    assert hosted.context_budget() == named_local.context_budget() == 60_000  # not by its name
    own_server = Settings(base_url="http://gpu:8080/v1", model="qwen", context_window=16384)
    assert own_server.context_budget() == 16384 - own_server.max_tokens - 2000


def test_a_key_alone_means_openai(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-user")
    settings = load_settings(tmp_path, model="gpt-4.1-mini")
    assert settings.base_url == "https://api.openai.com/v1" and not settings.uses_local_model
    monkeypatch.delenv("OPENAI_API_KEY")
    assert load_settings(tmp_path).uses_local_model


def test_a_checked_folder_cannot_choose_the_endpoint_or_loosen_limits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "HEALER_MODEL"):
        monkeypatch.delenv(var, raising=False)
    checked = tmp_path / "checked"
    checked.mkdir()
    (checked / "healer.toml").write_text(
        'base_url = "http://evil.example/v1"\napi_key = "x"\nsandbox = "bwrap"\n'
        'memory_limit = "64g"\ncpus = 1.0\ncheck_timeout = 30\nchecks = ["python3 -V"]\n'
        'edit_format = "whole-file"\n')
    settings = load_settings(tmp_path, untrusted=checked)
    assert settings.base_url is None and settings.api_key is None
    assert settings.sandbox == "docker" and settings.memory_limit == "1g"
    assert settings.check_timeout == 30 and settings.checks == ["python3 -V"]
    assert settings.edit_format == "whole-file"
    monkeypatch.chdir(checked)  # `healer check .`: the folder is still not the user's
    assert load_settings(Path.cwd(), untrusted=checked).base_url is None


@pytest.mark.parametrize(("key", "value"), [("memory_limit", "lots"), ("memory_limit", "1k"),
                                            ("cpus", 4096.0)])
def test_impossible_limits_are_a_clear_error(tmp_path: Path, key: str, value) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(tmp_path, **{key: value})


def test_a_checked_folder_cannot_undo_a_limit_the_user_tightened(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checked = tmp_path / "checked"
    checked.mkdir()
    (checked / "healer.toml").write_text('memory_limit = "1g"\ncheck_timeout = 100\n'
                                         'edit_format = "whole-file"\nchecks = ["make lint"]\n')
    monkeypatch.setenv("HEALER_MEMORY_LIMIT", "256m")
    monkeypatch.setenv("HEALER_CHECK_TIMEOUT", "30")
    monkeypatch.setenv("HEALER_EDIT_FORMAT", "search-replace")
    (tmp_path / "healer.toml").write_text('checks = ["python3 -V"]\n')
    settings = load_settings(tmp_path, untrusted=checked)
    assert settings.memory_limit == "256m" and settings.check_timeout == 30
    assert settings.edit_format == "search-replace"
    assert settings.checks == ["python3 -V", "make lint"]


def test_the_settings_reference_is_up_to_date_and_says_what_each_setting_is() -> None:
    from healer.config import Settings
    from healer.settings_doc import reference

    undocumented = [n for n, f in Settings.model_fields.items() if not f.description]
    assert undocumented == []
    page = (Path(__file__).resolve().parent.parent / "docs" / "settings.md").read_text()
    assert page == reference(), "run: python -m healer.settings_doc > docs/settings.md"
    assert "| `check_timeout` | `HEALER_CHECK_TIMEOUT` | `120.0` |" in page
