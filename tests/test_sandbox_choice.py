"""The sandbox that runs is the one the user chose: no silent downgrade."""

from __future__ import annotations

import pytest

from healer.config import Settings
from healer.errors import SandboxUnavailableError
from healer.sandbox import open_sandbox


def no_daemon(*args, **kwargs):
    raise SandboxUnavailableError("no Docker daemon answers: connection refused")


def test_docker_down_is_an_error_not_a_weaker_sandbox(monkeypatch) -> None:
    from healer.sandbox import docker

    monkeypatch.setattr(docker, "connect", no_daemon)
    with pytest.raises(SandboxUnavailableError, match="Docker sandbox is unavailable") as info:
        open_sandbox(Settings())
    assert 'sandbox = "bwrap"' in str(info.value)


def test_bubblewrap_runs_when_chosen(monkeypatch) -> None:
    from healer.sandbox import bwrap, docker

    monkeypatch.setattr(docker, "connect", no_daemon)
    try:
        box = open_sandbox(Settings(sandbox="bwrap"))
    except SandboxUnavailableError as exc:  # bubblewrap itself is missing on this machine
        pytest.skip(str(exc))
    assert isinstance(box, bwrap.BwrapSandbox) and box.name == "bwrap"
