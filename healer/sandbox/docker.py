"""The Docker backend: every check runs in a locked-down container of the project's stack image.

Layout inside a container:
    /src    the host project folder, bind-mounted read-only
    /work   a tmpfs; the project is copied there before each command (the working directory),
            so generated code can write next to itself without ever touching the host folder
    /deps   a named volume with the installed dependencies, read-only during checks
    /tmp    a tmpfs holding HOME and TMPDIR

Extension checks run healer's browser session in the browser image the same way
(`run_browser`): Chromium never runs on the host.

Fresh mode (the default) creates one container per command: nothing can survive between
runs, and timeouts and OOM kills are read from Docker itself. Warm mode keeps one container
per project and runs each command with `exec`, after killing every leftover process and
wiping /work and /tmp; it is faster, see benchmarks/sandbox_overhead.py.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import healer
from healer.errors import SandboxError, SandboxUnavailableError
from healer.models import RunResult
from healer.sandbox import egress, hostenv, images
from healer.sandbox.process import clip, memory_bytes
from healer.sandbox.project import (
    CA_BUNDLE,
    DEPS,
    SRC,
    WORK,
    dependency_key,
    install_script,
    new_stage,
    run_argv,
    run_environment,
    stack_of,
    stage_into,
)

log = logging.getLogger(__name__)

LABEL = "healer.sandbox"
HEALER_LIB = "/opt/healer"  # healer's package, in the browser container
BROWSER_MEMORY = 2 * 2**30
BROWSER_PIDS = 1024
OOM_COUNTER = "grep '^oom_kill ' /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null || echo 'oom_kill 0'"


def connect():
    """A docker client whose daemon answers, or SandboxUnavailableError."""
    try:
        import docker
    except ImportError as exc:
        raise SandboxUnavailableError("the docker Python package is not installed") from exc
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types for "no daemon"
        raise SandboxUnavailableError(
            f"no Docker daemon answers: {exc}",
            hint="start it (`setsid dockerd &` or `bash scripts/setup-machine.sh`)",
        ) from exc
    return client


class DockerSandbox:
    """Sandbox protocol over a real Docker daemon."""

    name = "docker"

    def __init__(
        self,
        *,
        memory: str = "1g",
        cpus: float = 1.0,
        pids: int = 256,
        work_size: str = "1g",
        warm: bool = False,
        install_timeout: float = 900.0,
        client=None,
    ) -> None:
        self.client = client or connect()
        self.memory = memory_bytes(memory)
        self.nano_cpus = int(cpus * 1e9)
        self.pids = pids
        self.work_size = work_size
        self.warm = warm
        self.install_timeout = install_timeout
        self._warm: dict[tuple[str, str, str | None], tuple[object, Path, str]] = {}

    # ------------------------------------------------------------ container settings

    def _image(self, project: Path) -> tuple[str, str]:
        stack = stack_of(project)
        return stack, images.image_for(stack)

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

    def _mounts(self, staged: Path, volume: str | None, *, deps_writable: bool = False) -> list:
        from docker.types import Mount

        mounts = [Mount(SRC, str(staged), type="bind", read_only=True)]
        if volume:
            mounts.append(Mount(DEPS, volume, type="volume", read_only=not deps_writable))
        return mounts

    def _create(self, image: str, argv: list[str], env: dict[str, str], mounts: list,
                network: str, *, init: bool = False, memory: int | None = None,
                pids: int | None = None):
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
            init=init,
            log_config=LogConfig(type="json-file", config={"max-size": "20m", "max-file": "1"}),
            detach=True,
        )

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

    def _fresh(self, project: Path, command: str, timeout: float, network: bool) -> RunResult:
        stack, image = self._image(project)
        stage = new_stage()
        try:
            stage_into(project, stage)
            mounts = self._mounts(stage, self._volume(project, image))
            net = "bridge" if network else "none"
            container = self._create(image, run_argv(command), run_environment(stack), mounts, net)
            return self._run_container(container, timeout)
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    # ------------------------------------------------------------ warm container

    def _warm_container(self, project: Path):
        stack, image = self._image(project)
        volume = self._volume(project, image)
        key = (str(project.resolve()), image, volume)
        if key not in self._warm:
            stage = new_stage()
            mounts = self._mounts(stage, volume)
            argv = ["sleep", "infinity"]
            container = self._create(image, argv, run_environment(stack), mounts, "none", init=True)
            container.start()
            keep = self._init_children(container)
            self._warm[key] = (container, stage, " ".join(["1", *keep]))
        container, stage, keep = self._warm[key]
        stage_into(project, stage)  # a fresh copy of the project for every command
        return container, keep

    def _init_children(self, container) -> list[str]:
        """The pids docker's init started (its `sleep`), which a reset must spare."""
        for _ in range(50):
            out = container.exec_run(["cat", "/proc/1/task/1/children"]).output.decode().split()
            if out:
                return out
            time.sleep(0.02)
        raise SandboxError("the warm sandbox container did not start its command")

    def _oom_count(self, container) -> int:
        out = container.exec_run(["sh", "-c", OOM_COUNTER], user="1000:1000").output
        try:
            return int(out.split()[-1])
        except (IndexError, ValueError):
            return 0

    def _reset(self, container, keep: str) -> int:
        """Kill every process but init and its `sleep`, wipe /work and /tmp; the OOM count."""
        script = (
            f'for d in /proc/[0-9]*; do p=${{d#/proc/}}; case " {keep} $$ " in *" $p "*) ;; '
            '*) kill -9 "$p" 2>/dev/null;; esac; done; '
            f"find {WORK} /tmp -mindepth 1 -delete 2>/dev/null; {OOM_COUNTER}"
        )
        out = container.exec_run(["sh", "-c", script], user="1000:1000").output
        try:
            return int(out.split()[-1])
        except (IndexError, ValueError):
            return 0

    def _exec(self, project: Path, command: str, timeout: float) -> RunResult:
        container, keep = self._warm_container(project)
        ooms = self._reset(container, keep)
        seconds = max(1, int(timeout + 0.999))
        argv = ["timeout", "-k", "2", str(seconds), *run_argv(command)]
        start = time.monotonic()
        result = container.exec_run(argv, user="1000:1000", workdir="/", demux=True)
        duration = time.monotonic() - start
        stdout, stderr = result.output
        code = result.exit_code
        killed = code in (124, 137)
        return RunResult(
            exit_code=code,
            stdout=clip(stdout),
            stderr=clip(stderr),
            timed_out=killed and duration >= seconds - 0.5,
            oom_killed=killed and self._oom_count(container) > ooms,
            duration=duration,
        )

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

    def _install(self, project: Path, stack: str, image: str, volume: str,
                 timeout: float) -> RunResult:
        stage = new_stage()
        try:
            stage_into(project, stage)
            return self._install_staged(stage, project, stack, image, volume, timeout)
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def _install_staged(self, stage: Path, project: Path, stack: str, image: str,
                        volume: str, timeout: float) -> RunResult:
        from docker.types import Mount

        mounts = self._mounts(stage, volume, deps_writable=True)
        ca = hostenv.host_ca_bundle()
        if ca is not None:
            mounts.append(Mount(CA_BUNDLE, str(ca), type="bind", read_only=True))
        env = {**run_environment(stack), **hostenv.install_environment()}
        script = install_script(project, wheels_only=hostenv.carries_credentials(env))
        network, restriction = egress.install_network(self.client)
        log.info("install network for %s: %s (%s)", project, network, restriction)
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
        if self.warm and not network:
            return self._exec(project, command, timeout)
        return self._fresh(project, command, timeout, network)

    def run_browser(self, folder: Path, *, timeout: float) -> RunResult:
        """healer's browser session over `folder` (request and extension) in the browser
        image: no network, uid 1000, read-only root, all capabilities dropped, limits.

        healer's own package is copied in beside it (read-only at /opt/healer); Chromium gets
        more memory and processes than a check (its threads count against the pids limit).
        """
        image = images.image_for(images.BROWSER)
        session, package = new_stage(), new_stage()
        try:
            stage_into(Path(folder), session)
            stage_into(Path(healer.__file__).resolve().parent, package)
            from docker.types import Mount

            mounts = [Mount(SRC, str(session), type="bind", read_only=True),
                      Mount(f"{HEALER_LIB}/healer", str(package), type="bind", read_only=True)]
            env = {"HOME": "/tmp/home", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
                   "PYTHONPATH": f"{HEALER_LIB}:/opt/healer-browser"}
            argv = ["python3", "-m", "healer.checks.extension.browser", SRC, "/tmp/session",
                    "--chromium", "/usr/bin/chromium", "--contained"]
            container = self._create(image, argv, env, mounts, "none",
                                     memory=max(self.memory, BROWSER_MEMORY),
                                     pids=max(self.pids, BROWSER_PIDS))
            return self._run_container(container, timeout)
        finally:
            shutil.rmtree(session, ignore_errors=True)
            shutil.rmtree(package, ignore_errors=True)

    def close(self) -> None:
        import docker.errors

        for container, stage, _ in self._warm.values():
            try:
                container.remove(force=True)
            except docker.errors.DockerException as exc:
                log.warning("could not remove container %s: %s", container.id[:12], exc)
            shutil.rmtree(stage, ignore_errors=True)
        self._warm.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
