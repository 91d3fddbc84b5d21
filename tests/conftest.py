"""Shared fixtures: the scripted OpenAI-compatible server and settings that point at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from healer.config import Settings
from tests.fakellm import FakeLLM


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A started scripted server: `fake_llm.enqueue(...)`, `.requests`, `.count`, `.url`."""
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def fake_settings(fake_llm: FakeLLM, tmp_path: Path) -> Settings:
    return Settings(
        base_url=fake_llm.url,
        model="test-model",
        api_key="test-key",
        cache_dir=tmp_path / "cache",
        max_retries=3,
        request_timeout=5,
    )


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff waits of a few milliseconds for clients created while it is active."""
    from healer.llm import client

    monkeypatch.setattr(client, "RETRY_WAIT_MULTIPLIER", 0.001)
    monkeypatch.setattr(client, "RETRY_WAIT_MAX", 0.01)


@pytest.fixture
def llm_client(fake_settings: Settings, fast_retries: None):
    """An `LLMClient` on the scripted server with fast retries and a fresh cache."""
    from healer.llm.client import LLMClient

    return LLMClient(fake_settings)


@pytest.fixture
def llm_env(fake_llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI runs against the scripted server, with a private cache."""
    monkeypatch.setenv("HEALER_CACHE_DIR", str(tmp_path / "cache"))
    return {"OPENAI_BASE_URL": fake_llm.url, "HEALER_MODEL": "test-model", "OPENAI_API_KEY": "k"}


def require_docker() -> None:
    """Skip the calling test when no Docker daemon answers."""
    from healer.sandbox.docker import connect

    try:
        connect()
    except Exception as exc:  # noqa: BLE001 - any failure means no daemon to test against
        pytest.skip(f"no Docker daemon: {exc}")


@pytest.fixture
def docker_ready() -> None:
    require_docker()


@pytest.fixture(scope="module")
def docker_sandbox():
    """The real Docker sandbox, shared by a module's tests (skipped without a daemon)."""
    from healer.sandbox.docker import DockerSandbox

    require_docker()
    return DockerSandbox()
