"""Where generated code runs: Docker (the default), bubblewrap (when chosen), or unsandboxed
(unsafe, behind an explicit flag). A backend is a factory `(settings) -> Sandbox` registered
under the entry point group `healer.sandboxes` (see healer.plugins); the setting `sandbox`
names one."""

from __future__ import annotations

import logging
from collections.abc import Callable

from healer.config import Settings
from healer.errors import ConfigError, SandboxUnavailableError
from healer.plugins import Registry
from healer.sandbox.base import Sandbox

log = logging.getLogger(__name__)

__all__ = ["BACKENDS", "Sandbox", "open_sandbox"]

Backend = Callable[[Settings], Sandbox]
BACKENDS: Registry[Backend] = Registry("healer.sandboxes", "sandbox backend")
UNSAFE = "unsafe-local"  # the backend that runs code on the host: only with the explicit flag


def docker_backend(settings: Settings) -> Sandbox:
    """Docker (one engine, or `sandbox_hosts` spread over several); a clear error when it is
    down, never a weaker backend in its place."""
    try:
        return _docker(settings)
    except SandboxUnavailableError as exc:
        raise SandboxUnavailableError(
            f"the Docker sandbox is unavailable: {exc.message}",
            hint="start Docker (`bash scripts/setup-machine.sh`), or choose the weaker "
            'bubblewrap sandbox yourself with sandbox = "bwrap" (HEALER_SANDBOX=bwrap)',
        ) from exc


def _docker(settings: Settings) -> Sandbox:
    options = {"memory": settings.memory_limit, "cpus": settings.cpus}
    if settings.sandbox_hosts:
        from healer.sandbox.spread import SpreadSandbox

        return SpreadSandbox(settings.sandbox_hosts, **options)
    from healer.sandbox.docker import DockerSandbox

    return DockerSandbox(**options)


def bwrap_backend(settings: Settings) -> Sandbox:
    from healer.sandbox.bwrap import BwrapSandbox

    return BwrapSandbox(memory=settings.memory_limit)


def unsafe_backend(settings: Settings) -> Sandbox:
    from healer.sandbox.unsafe import UnsafeLocalSandbox

    return UnsafeLocalSandbox()


def open_sandbox(settings: Settings, *, unsafe_local: bool = False) -> Sandbox:
    """The backend the settings ask for, or a clear error: never a weaker one in its place.

    Docker is the default; bubblewrap (rlimits only, no cgroups) needs `sandbox = "bwrap"`;
    running unsandboxed needs `unsafe_local=True` (`--unsafe-local`), whatever the settings say.
    """
    if settings.sandbox == UNSAFE and not unsafe_local:
        raise ConfigError(
            'sandbox = "unsafe-local" runs generated code on the host',
            hint="pass the explicit unsafe flag (--unsafe-local) to allow it",
        )
    return BACKENDS.get(UNSAFE if unsafe_local else settings.sandbox)(settings)
