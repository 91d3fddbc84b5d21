"""Checks spread over several Docker engines (the `sandbox_hosts` setting).

Each project folder (a build, a candidate's branch) sticks to one engine: the one with the
fewest commands running in this process when the folder first comes, so parallel builds and
candidates spread out. At most SLOTS_PER_ENGINE commands run on an engine at a time, across
every build of the process. An engine that fails under a command (it went away, the connection
broke) is dropped: that command is retried on another engine, which installs the project's
dependencies there first, and the run goes on. Only when no engine is left does it stop.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from healer.errors import SandboxUnavailableError
from healer.models import RunResult
from healer.sandbox.docker import DockerSandbox, connect
from healer.stacks import install_script

log = logging.getLogger(__name__)

SLOTS_PER_ENGINE = 2
T = TypeVar("T")

_lock = threading.Lock()
_slots: dict[str, threading.BoundedSemaphore] = {}  # engine URL -> its commands at a time
_running: dict[str, int] = {}  # engine URL -> commands running now, in this process


def _engine_failed(exc: BaseException) -> bool:
    """Whether `exc` says the engine is gone or broken (its connection, a server error), not
    that the request was wrong: a command's own failure is a RunResult, never an exception."""
    import docker.errors
    import requests

    if isinstance(exc, docker.errors.APIError):
        return exc.is_server_error()
    return isinstance(exc, (requests.exceptions.ConnectionError,
                            requests.exceptions.ChunkedEncodingError, ConnectionError,
                            SandboxUnavailableError))


class SpreadSandbox:
    """Sandbox protocol over several Docker engines."""

    name = "docker"

    def __init__(self, urls: list[str], **options) -> None:
        self.boxes: dict[str, DockerSandbox] = {}
        for url in urls:
            try:
                self.boxes[url] = DockerSandbox(client=connect(url), **options)
            except SandboxUnavailableError as exc:
                log.warning("leaving out the Docker engine at %s: %s", url, exc.message)
        if not self.boxes:
            raise SandboxUnavailableError(
                f"none of the Docker engines of sandbox_hosts answers: {', '.join(urls)}")
        with _lock:
            for url in self.boxes:
                _slots.setdefault(url, threading.BoundedSemaphore(SLOTS_PER_ENGINE))
                _running.setdefault(url, 0)
        self._home: dict[str, str] = {}  # project folder -> its engine
        self._moved: set[tuple[str, str]] = set()  # (folder, engine) whose deps need installing
        self.engine = ", ".join(self.boxes)

    # ------------------------------------------------------------ placement

    def _engine_for(self, project: Path) -> str:
        key = str(Path(project).resolve())
        with _lock:
            home = self._home.get(key)
            if home in self.boxes:
                return home
            if not self.boxes:
                raise SandboxUnavailableError("every Docker engine of sandbox_hosts failed")
            urls = sorted(self.boxes, key=lambda u: (_running[u], zlib.crc32(f"{key}{u}".encode())))
            self._home[key] = urls[0]
            if home is not None:  # its engine went away: install its dependencies on this one
                self._moved.add((key, urls[0]))
            return urls[0]

    def _drop(self, url: str, exc: BaseException) -> None:
        with _lock:
            if self.boxes.pop(url, None) is not None:
                log.warning("the Docker engine at %s failed (%s): its checks move to the others",
                            url, exc)
                self.engine = ", ".join(self.boxes)

    def _on(self, project: Path, call: Callable[[DockerSandbox], T]) -> T:
        while True:
            url = self._engine_for(project)
            box = self.boxes.get(url)
            if box is None:  # dropped by another thread just now: place the folder again
                continue
            with _slots[url]:
                with _lock:
                    _running[url] += 1
                try:
                    return call(box)
                except Exception as exc:
                    if not _engine_failed(exc):
                        raise
                    self._drop(url, exc)
                    if not self.boxes:
                        raise SandboxUnavailableError(
                            f"every Docker engine of sandbox_hosts failed; the last: {exc}"
                        ) from exc
                finally:
                    with _lock:
                        _running[url] -= 1

    # ------------------------------------------------------------ Sandbox protocol

    def prepare(self, project: Path, *, timeout: float | None = None) -> RunResult | None:
        return self._on(project, lambda box: box.prepare(project, timeout=timeout))

    def run(self, project: Path, command: str, *, timeout: float,
            network: bool = False) -> RunResult:
        def call(box: DockerSandbox) -> RunResult:
            key = (str(Path(project).resolve()), self._home[str(Path(project).resolve())])
            if key in self._moved and install_script(project) is not None:
                box.prepare(project)
            self._moved.discard(key)
            return box.run(project, command, timeout=timeout, network=network)

        return self._on(project, call)

    def run_browser(self, folder: Path, *, timeout: float) -> RunResult:
        return self._on(folder, lambda box: box.run_browser(folder, timeout=timeout))

    def close(self) -> None:
        for box in self.boxes.values():
            box.close()
