"""Where generated code runs: Docker (primary), bubblewrap (fallback), or unsandboxed (unsafe)."""

from __future__ import annotations

import logging

from healer.config import Settings
from healer.errors import ConfigError, SandboxError, SandboxUnavailableError
from healer.sandbox.base import Sandbox

log = logging.getLogger(__name__)

__all__ = ["Sandbox", "open_sandbox"]


def _docker(settings: Settings) -> Sandbox:
    from healer.sandbox.docker import DockerSandbox

    return DockerSandbox(memory=settings.memory_limit, cpus=settings.cpus)


def _bwrap(settings: Settings) -> Sandbox:
    from healer.sandbox.bwrap import BwrapSandbox

    return BwrapSandbox(memory=settings.memory_limit)


def open_sandbox(settings: Settings, *, unsafe_local: bool = False) -> Sandbox:
    """The backend settings ask for; Docker falls back to bubblewrap with a warning.

    An unsandboxed backend needs `unsafe_local=True`, whatever the settings say.
    """
    if settings.sandbox == "unsafe-local" or unsafe_local:
        if not unsafe_local:
            raise ConfigError(
                'sandbox = "unsafe-local" runs generated code on the host',
                hint="pass the explicit unsafe flag (--unsafe-local) to allow it",
            )
        from healer.sandbox.unsafe import UnsafeLocalSandbox

        return UnsafeLocalSandbox()
    if settings.sandbox == "bwrap":
        return _bwrap(settings)
    try:
        return _docker(settings)
    except SandboxUnavailableError as docker_error:
        log.warning("Docker is unavailable (%s); falling back to bubblewrap, "
                    "which limits memory and processes with rlimits only", docker_error.message)
        try:
            return _bwrap(settings)
        except SandboxError as bwrap_error:
            raise SandboxUnavailableError(
                f"no sandbox available: {docker_error.message}; {bwrap_error.message}",
                hint="start Docker (`bash scripts/setup-machine.sh`) or install bubblewrap, "
                "then `healer sandbox build`",
            ) from bwrap_error
