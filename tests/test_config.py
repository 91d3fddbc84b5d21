from pathlib import Path

import pytest

from healer.config import Settings, load_settings
from healer.errors import ConfigError


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
    serving = Settings(base_url="http://127.0.0.1:5000/v1", model="local-qwen2.5-coder-1.5b")
    hosted = Settings(base_url="https://api.example/v1", model="gpt-4.1")
    fits = before_serving.local_ctx - before_serving.max_tokens - 2000
    assert before_serving.context_budget() == serving.context_budget() == fits
    assert hosted.context_budget() == 60_000
