"""The bubblewrap sandbox (chosen with `sandbox = "bwrap"`): the debootstrap tree of the base
image as a read-only root. It refuses to run as root, where its limits would not hold.

Same layout as the Docker backend (/src read-only, a fresh tmpfs copy at /work, /deps
read-only, HOME and TMPDIR in a tmpfs), every namespace unshared (no network unless asked;
the install step shares the host's network, so it installs wheels only: no package's build
code runs with network),
all capabilities dropped, an empty environment. There are no cgroups here: memory, CPU time,
file size and process count are bounded with rlimits, and the wall clock with a kill of the
whole process group. Only the Python stack is available (the base tree has no Node.js), and
there is no browser: extension checks need the Docker sandbox.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
from pathlib import Path

from healer.config import default_cache_dir
from healer.errors import SandboxError, SandboxUnavailableError
from healer.models import RunResult
from healer.sandbox import hostenv, images
from healer.sandbox.process import memory_bytes, run_group
from healer.sandbox.project import (
    CA_BUNDLE,
    DEPS,
    SRC,
    WORK,
    run_argv,
)
from healer.stacks import STACKS, Stack, dependency_key, install_script, run_environment

log = logging.getLogger(__name__)
BWRAP_ENVIRONMENT = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def _limits(memory: int, cpu_seconds: int, processes: int):
    """preexec_fn: rlimits inherited by bwrap and everything inside it."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**30, 2**30))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))

    return apply


def python_stack() -> Stack:
    """The stack bubblewrap runs: its root is the base file system, which holds Python only."""
    return STACKS.get("python")


def install_step(project: Path) -> str | None:
    """The install script under bubblewrap. It shares the host's network (loopback and
    private ranges included), so no package's build code may run there: wheels only."""
    return install_script(project, python_stack(), wheels_only=True)


def _own_processes() -> int:
    """RLIMIT_NPROC counts every process of the real user, so the budget starts from there."""
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            count += entry.name.isdigit() and entry.stat().st_uid == uid
        except OSError:
            pass
    return count


class BwrapSandbox:
    """Sandbox protocol over bubblewrap."""

    name = "bwrap"

    def __init__(self, *, memory: str = "1g", pids: int = 256, root: Path | None = None) -> None:
        if shutil.which("bwrap") is None:
            raise SandboxUnavailableError(
                "bubblewrap is not installed", hint="apt-get install bubblewrap"
            )
        if os.geteuid() == 0:
            # the sandbox's processes would belong to root on the host: RLIMIT_NPROC does not
            # bind them, so a fork bomb is not held (1,500 processes were seen)
            raise SandboxUnavailableError(
                "the bubblewrap sandbox cannot hold its process limit when healer runs as root",
                hint="use the Docker sandbox (the default), or run healer as an ordinary user")
        self.root = Path(root or images.rootfs_dir())
        if not os.access(self.root, os.R_OK | os.X_OK):
            raise SandboxError(f"the sandbox root file system at {self.root} is not readable by "
                               "this user", hint=f"chmod 755 {self.root} (as the user who built it)")
        if not (self.root / "etc/os-release").is_file():
            raise SandboxError(f"no sandbox root file system at {self.root}", hint=images.BUILD_HINT)
        self.memory = max(memory_bytes(memory), 256 * 2**20)
        self.pids = pids
        self.tmpfs_bytes = 512 * 2**20  # each of /tmp and /work
        self.deps_root = default_cache_dir() / "sandbox" / "bwrap-deps"

    def _deps_dir(self, project: Path) -> Path | None:
        if install_step(project) is None:
            return None
        return self.deps_root / dependency_key(project, f"bwrap:{self.root.name}")

    def _argv(self, project: Path, env: dict[str, str], *, network: bool, deps: Path | None,
              deps_writable: bool = False) -> list[str]:
        argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
                "--cap-drop", "ALL", "--clearenv", "--uid", "1000", "--gid", "1000",
                "--ro-bind", str(self.root), "/", "--proc", "/proc", "--dev", "/dev",
                "--size", str(self.tmpfs_bytes), "--tmpfs", "/tmp",
                "--size", str(self.tmpfs_bytes), "--tmpfs", WORK,
                "--ro-bind", str(project.resolve()), SRC]
        if network:
            argv += ["--share-net", "--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf"]
            ca = hostenv.host_ca_bundle()
            if ca is not None:
                argv += ["--ro-bind", str(ca), CA_BUNDLE]
        if deps is not None and deps.is_dir():
            argv += ["--bind" if deps_writable else "--ro-bind", str(deps), DEPS]
        for key, value in env.items():
            argv += ["--setenv", key, value]
        return argv + ["--chdir", "/", "--"]

    def _execute(self, argv: list[str], timeout: float) -> RunResult:
        limits = _limits(self.memory, int(timeout) + 5, self.pids + _own_processes())
        # bwrap itself starts with an empty environment: it is process 1 inside, and its
        # /proc/1/environ is readable there (--clearenv only cleans its child)
        result = run_group(argv, timeout=timeout, preexec_fn=limits, env=BWRAP_ENVIRONMENT)
        # no cgroup here: an allocation past RLIMIT_AS surfaces as Python's MemoryError
        return result.model_copy(update={"oom_killed": "MemoryError" in result.stderr[-4000:]})

    def prepare(self, project: Path, *, timeout: float | None = None) -> RunResult | None:
        project = Path(project)
        target = self._deps_dir(project)
        if target is None:
            return None
        if (target / ".complete").is_file():
            return RunResult(exit_code=0, stdout=f"dependencies cached in {target}\n")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)  # owned by us: uid 1000 inside the user namespace
        env = {**run_environment(python_stack()), **hostenv.install_environment()}
        argv = self._argv(project, env, network=True, deps=target, deps_writable=True)
        script = install_step(project)
        result = self._execute(argv + ["sh", "-c", script],
                               timeout=min(900, timeout or 900))
        if not result.ok:
            shutil.rmtree(target, ignore_errors=True)
        return result

    def run(self, project: Path, command: str, *, timeout: float, network: bool = False) -> RunResult:
        project = Path(project)
        if not project.is_dir():
            raise SandboxError(f"project folder {project} does not exist")
        deps = self._deps_dir(project)
        if deps is not None and not (deps / ".complete").is_file():
            deps = None
        argv = self._argv(project, run_environment(python_stack()), network=network, deps=deps)
        return self._execute(argv + run_argv(command), timeout)

    def close(self) -> None:
        pass
