"""The interface every sandbox backend implements."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from healer.models import RunResult


class Sandbox(Protocol):
    """Runs commands over a project folder, isolated from the host.

    `run` sees the project at /work (the working directory), with the project's installed
    dependencies available. `network=False` is the default and the rule for checks; only the
    dependency-install step gets network. The host environment never enters.
    """

    name: str

    def prepare(self, project: Path, *, timeout: float | None = None) -> RunResult | None:
        """Install the project's declared dependencies (cached by their hash); None if none.
        `timeout` cuts the backend's own install limit (a build's deadline)."""
        ...

    def run(self, project: Path, command: str, *, timeout: float, network: bool = False) -> RunResult:
        """Run a shell command with /work as the project; never raises for the command's failure."""
        ...

    def close(self) -> None:
        """Release warm containers and other resources."""
        ...


class BrowserSandbox(Sandbox, Protocol):
    """A sandbox that can also run Chromium for extension checks (Docker; unsafe-local on the
    host). A backend without `run_browser` leaves the browser run out, and says so."""

    def run_browser(self, folder: Path, *, timeout: float) -> RunResult:
        """Run `python -m healer.checks.extension.browser` over `folder` (its request.json
        and extension/); the session's result envelope is the last line of stdout."""
        ...
