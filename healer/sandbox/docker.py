"""The Docker backend: every check runs in a locked-down container of the project's stack image.

Layout inside a container:
    /src    the project, read-only: a volume made for this one command, filled over the
            Docker API (an archive), so the engine may be on another machine
    /work   a tmpfs; the project is copied there before the command (the working directory),
            so generated code can write next to itself and never touches /src
    /deps   a named volume with the installed dependencies, read-only during checks
    /tmp    a tmpfs holding HOME and TMPDIR

One container per command: nothing survives between runs, and timeouts and OOM kills are
read from Docker itself. Nothing of the host's file system is mounted: any engine the docker
SDK reaches works (the local socket, `tcp://` with TLS, `ssh://`, a Docker context).

Extension checks run healer's browser session in the browser image the same way
(`run_browser`): Chromium never runs on the host.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import healer
from healer.errors import SandboxError, SandboxUnavailableError
from healer.models import RunResult
from healer.sandbox import egress, hostenv, images
from healer.sandbox.process import clip, memory_bytes
from healer.sandbox.project import (
    DEPS,
    SRC,
    WORK,
    archive_of,
    run_argv,
)
from healer.stacks import (
    Stack,
    dependency_key,
    install_script,
    run_environment,
    setup_lines,
    stack_for,
)

log = logging.getLogger(__name__)

LABEL = "healer.sandbox"
HEALER_LIB = f"{SRC}/lib"  # healer's package, in the browser container
SHIPPED_CA = ".healer/ca.crt"  # the host's CA bundle, beside the project for the install step
BROWSER_MEMORY = 2 * 2**30
BROWSER_PIDS = 1024


def _client(base_url: str | None):
    """(client, where) for the engine at `base_url`; else DOCKER_HOST (with DOCKER_TLS_VERIFY
    and DOCKER_CERT_PATH); else the current Docker context, as the docker command chooses it;
    else the local socket (where is None)."""
    import docker

    if base_url:
        return docker.DockerClient(base_url=base_url, timeout=30), base_url
    if not os.environ.get("DOCKER_HOST"):
        from docker.context import ContextAPI

        context = ContextAPI.get_current_context()
        if context is not None and context.name != "default" and context.Host:
            tls = context.TLSConfig or False
            return docker.DockerClient(base_url=context.Host, tls=tls, timeout=30), context.Host
    return docker.from_env(timeout=30), os.environ.get("DOCKER_HOST")


def connect(base_url: str | None = None):
    """A docker client whose engine answers (see `_client`), or SandboxUnavailableError."""
    try:
        import docker  # noqa: F401 - missing is said clearly here
    except ImportError as exc:
        raise SandboxUnavailableError("the docker Python package is not installed") from exc
    where = base_url
    try:
        client, where = _client(base_url)
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types for "no daemon"
        raise SandboxUnavailableError(
            f"no Docker daemon answers at {where or 'the local socket'}: {exc}",
            hint="start it (`setsid dockerd &` or `bash scripts/setup-machine.sh`)",
        ) from exc
    return client


class DockerSandbox:
    """Sandbox protocol over a real Docker daemon, local or remote."""

    name = "docker"

    def __init__(
        self,
        *,
        memory: str = "1g",
        cpus: float = 1.0,
        pids: int = 256,
        work_size: str = "1g",
        install_timeout: float = 900.0,
        client=None,
    ) -> None:
        self.client = client or connect()
        base = str(self.client.api.base_url)
        # None for this machine's socket; else where the engine is, as DOCKER_HOST writes it
        self.engine = None if base.startswith("http+docker://") else \
            base.replace("https://", "tcp://").replace("http://", "tcp://")
        self.memory = memory_bytes(memory)
        self.nano_cpus = int(cpus * 1e9)
        self.pids = pids
        self.work_size = work_size
        self.install_timeout = install_timeout

    # ------------------------------------------------------------ container settings

    def _image(self, project: Path) -> tuple[Stack, str]:
        stack = stack_for(project)
        return stack, images.image_for(stack.name, client=self.client)

    def _volume_name(self, project: Path, image: str) -> str | None:
        if install_script(project) is None:
            return None
        return f"healer-deps-{dependency_key(project, image)}"

    def _volume(self, project: Path, image: str) -> str | None:
        """The installed-dependencies volume, if there is one (it exists only when complete)."""
        name = self._volume_name(project, image)
        if name is None:
            return None
        import docker.errors

        try:
            self.client.volumes.get(name)
        except docker.errors.NotFound:
            return None
        return name

    def _tmpfs(self) -> dict[str, str]:
        return {
            WORK: f"rw,exec,nosuid,nodev,size={self.work_size},uid=1000,gid=1000,mode=0755",
            "/tmp": "rw,exec,nosuid,nodev,size=512m,mode=1777",
        }

    def _mounts(self, source: str, volume: str | None, *, deps_writable: bool = False) -> list:
        from docker.types import Mount

        mounts = [Mount(SRC, source, type="volume", read_only=True)]
        if volume:
            mounts.append(Mount(DEPS, volume, type="volume", read_only=not deps_writable))
        return mounts

    def _create(self, image: str, argv: list[str], env: dict[str, str], mounts: list,
                network: str, *, memory: int | None = None, pids: int | None = None):
        from docker.types import LogConfig

        memory = memory or self.memory
        return self.client.containers.create(
            image,
            command=argv,
            user="1000:1000",
            working_dir="/",
            environment=env,
            network_mode=network,
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=memory,
            memswap_limit=memory,
            nano_cpus=self.nano_cpus,
            pids_limit=pids or self.pids,
            tmpfs=self._tmpfs(),
            mounts=mounts,
            labels={LABEL: "1"},
            log_config=LogConfig(type="json-file", config={"max-size": "20m", "max-file": "1"}),
            detach=True,
        )

    @contextlib.contextmanager
    def _shipped(self, image: str, archive: IO[bytes]) -> Iterator[str]:
        """A volume on the engine holding `archive`, unpacked; removed afterwards.

        A container that never starts (no network, the sandbox user) receives the archive over
        the API: the volume is writable there, and read-only in the container that runs.
        """
        from docker.types import Mount

        name = f"healer-src-{uuid.uuid4().hex[:16]}"
        self.client.volumes.create(name, labels={LABEL: "1"})
        try:
            loader = self.client.containers.create(
                image, command=["true"], user="1000:1000", network_mode="none",
                mounts=[Mount(SRC, name, type="volume")], labels={LABEL: "1"})
            try:
                if not loader.put_archive(SRC, archive):
                    raise SandboxError("the Docker engine did not take the project's archive")
            finally:
                loader.remove(force=True)
                archive.close()
            yield name
        finally:
            self._remove_volume(name)

    # ------------------------------------------------------------ one container per command

    def _run_container(self, container, timeout: float) -> RunResult:
        import requests

        start = time.monotonic()
        timed_out = False
        try:
            container.start()
            try:
                exit_code = container.wait(timeout=timeout)["StatusCode"]
            except (requests.exceptions.RequestException, ConnectionError):
                timed_out = True
                container.kill()
                exit_code = container.wait(timeout=30)["StatusCode"]
            duration = time.monotonic() - start
            container.reload()
            return RunResult(
                exit_code=exit_code,
                stdout=clip(container.logs(stdout=True, stderr=False)),
                stderr=clip(container.logs(stdout=False, stderr=True)),
                timed_out=timed_out,
                oom_killed=bool(container.attrs["State"].get("OOMKilled")),
                duration=duration,
            )
        finally:
            container.remove(force=True)

    # ------------------------------------------------------------ Sandbox protocol

    def prepare(self, project: Path, *, timeout: float | None = None) -> RunResult | None:
        """Install declared dependencies into a volume named by their hash (with network).

        The volume exists only once an install succeeded: a failed or interrupted install
        removes it, so the next round tries again and an unchanged round installs nothing.
        """
        project = Path(project)
        stack, image = self._image(project)
        name = self._volume_name(project, image)
        if name is None:
            return None
        if self._volume(project, image):
            log.info("dependencies of %s already installed in %s", project, name)
            return RunResult(exit_code=0, stdout=f"dependencies cached in volume {name}\n")
        log.info("installing dependencies of %s into %s", project, name)
        self.client.volumes.create(name, labels={LABEL: "1"})
        result = None
        try:
            limit = min(self.install_timeout, timeout or self.install_timeout)
            result = self._install(project, stack, image, name, limit)
        finally:
            if result is None or not result.ok:
                self._remove_volume(name)
        return result

    def _install(self, project: Path, stack: Stack, image: str, volume: str,
                 timeout: float) -> RunResult:
        ca = hostenv.host_ca_bundle()
        extra = {SHIPPED_CA: ca.read_bytes()} if ca is not None else {}
        env = {**run_environment(stack), **hostenv.install_environment(f"{SRC}/{SHIPPED_CA}")}
        script = install_script(project, stack, wheels_only=hostenv.carries_credentials(env))
        network, restriction = egress.install_network(self.client)
        log.info("install network for %s: %s (%s)", project, network, restriction)
        with self._shipped(image, archive_of([(project, "")], extra)) as source:
            mounts = self._mounts(source, volume, deps_writable=True)
            container = self._create(image, ["sh", "-c", script], env, mounts, network)
            result = self._run_container(container, timeout=timeout)
        note = f"[healer] install network: {restriction}\n"
        return result.model_copy(update={"stderr": note + result.stderr})

    def _remove_volume(self, name: str) -> None:
        import docker.errors

        try:
            self.client.volumes.get(name).remove(force=True)
        except docker.errors.DockerException as exc:
            log.debug("volume %s not removed: %s", name, exc)

    def run(self, project: Path, command: str, *, timeout: float, network: bool = False) -> RunResult:
        project = Path(project)
        if not project.is_dir():
            raise SandboxError(f"project folder {project} does not exist")
        stack, image = self._image(project)
        with self._shipped(image, archive_of([(project, "")])) as source:
            mounts = self._mounts(source, self._volume(project, image))
            container = self._create(image, run_argv(command, setup_lines(stack)),
                                     run_environment(stack), mounts,
                                     "bridge" if network else "none")
            return self._run_container(container, timeout)

    def run_browser(self, folder: Path, *, timeout: float) -> RunResult:
        """healer's browser session over `folder` (request and extension) in the browser
        image: no network, uid 1000, read-only root, all capabilities dropped, limits.

        healer's own package goes in beside it (/src/lib/healer); Chromium gets more memory
        and processes than a check (its threads count against the pids limit).
        """
        image = images.image_for(images.BROWSER, client=self.client)
        package = Path(healer.__file__).resolve().parent
        archive = archive_of([(Path(folder), ""), (package, "lib/healer")])
        env = {"HOME": "/tmp/home", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
               "PYTHONPATH": f"{HEALER_LIB}:/opt/healer-browser"}
        argv = ["python3", "-m", "healer.checks.extension.browser", SRC, "/tmp/session",
                "--chromium", "/usr/bin/chromium", "--contained"]
        with self._shipped(image, archive) as source:
            container = self._create(image, argv, env, self._mounts(source, None), "none",
                                     memory=max(self.memory, BROWSER_MEMORY),
                                     pids=max(self.pids, BROWSER_PIDS))
            return self._run_container(container, timeout)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
