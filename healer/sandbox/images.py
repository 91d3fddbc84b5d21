"""Registry-free sandbox images: a debootstrap base, then one small Dockerfile per stack.

Every image is tagged by a hash of its recipe (`healer-base:<hash12>`, `healer-python:<hash12>`,
...), so a changed recipe gives a new tag and an unchanged one is never rebuilt. The debootstrap
tree stays on disk under the cache folder: the bubblewrap fallback uses it as its root.

    python -m healer.sandbox.images     # build whatever is missing

The browser image (Chromium and healer's browser session) runs extension checks.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from healer.config import default_cache_dir
from healer.errors import ConfigError, SandboxError
from healer.hostpython import host_python

log = logging.getLogger(__name__)

SUITE = "bookworm"
BROWSER = "browser"  # Chromium and healer's browser session, for extension checks
BROWSER_PACKAGES = ("playwright", "pydantic")  # pinned to the versions healer runs with
SUITE_PYTHON = "3.11"  # the python3 of SUITE: the browser image's wheels are chosen for it
WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
                   "manylinux2014_x86_64", "manylinux1_x86_64")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SANDBOX_UID = 1000
BUILD_HINT = "run `healer sandbox build` (or `python -m healer.sandbox.images`)"
IMAGE_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8")


# ---------------------------------------------------------------- recipes


def recipes_dir() -> Path:
    """sandboxes/ from a source checkout, or healer/_data/sandboxes when installed."""
    installed = Path(str(resources.files("healer"))) / "_data" / "sandboxes"
    source = Path(__file__).resolve().parents[2] / "sandboxes"
    for folder in (installed, source):
        if (folder / "base.packages").is_file():
            return folder
    raise SandboxError("the sandbox recipes (sandboxes/) are missing from the installation")


def base_packages() -> list[str]:
    text = (recipes_dir() / "base.packages").read_text()
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def _hash12(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def base_hash() -> str:
    return _hash12(SUITE, *base_packages(), *IMAGE_ENV, f"uid={SANDBOX_UID}")


def base_tag() -> str:
    return f"healer-base:{base_hash()}"


def stack_names() -> tuple[str, ...]:
    """Every registered stack (healer.stacks), each with an image of its own."""
    from healer.stacks import all_stacks

    return tuple(stack.name for stack in all_stacks())


def dockerfile(stack: str) -> Path:
    """The recipe of `stack`'s image (the browser image's is healer's own)."""
    if stack == BROWSER:
        path = recipes_dir() / f"Dockerfile.{BROWSER}"
    else:
        from healer.stacks import STACKS

        try:
            path = STACKS.get(stack).recipe()
        except ConfigError as exc:
            raise SandboxError(f"no sandbox recipe for stack {stack!r}", hint=exc.hint) from exc
    if not path.is_file():
        raise SandboxError(f"the sandbox recipe of stack {stack!r} is missing: {path}")
    return path


def stack_tag(stack: str) -> str:
    return f"healer-{stack}:{_hash12(base_tag(), dockerfile(stack).read_text())}"


def browser_pins() -> list[str]:
    """`name==version` of the browser session's packages, as installed beside healer."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return [f"{name}=={version(name)}" for name in BROWSER_PACKAGES]
    except PackageNotFoundError as exc:
        raise SandboxError(f"{exc.name} is not installed beside healer",
                           hint="pip install playwright pydantic") from exc


def browser_tag() -> str:
    recipe = dockerfile(BROWSER).read_text()
    return f"healer-{BROWSER}:{_hash12(base_tag(), recipe, *browser_pins(), SUITE_PYTHON)}"


def rootfs_dir() -> Path:
    """The debootstrap tree for the current base recipe (may not exist yet)."""
    return default_cache_dir() / "sandbox" / f"rootfs-{base_hash()}"


# ---------------------------------------------------------------- docker CLI helpers


def _cli_env(host: str | None) -> dict[str, str]:
    """The docker command's environment: the engine at `host`, else the environment's."""
    return {**os.environ, **({"DOCKER_HOST": host} if host else {}), "DOCKER_BUILDKIT": "0"}


def image_exists(tag: str, *, client=None, host: str | None = None) -> bool:
    """Whether the engine (`client`'s, else the one at `host` or the environment's) has `tag`."""
    if client is not None:
        import docker.errors

        try:
            client.images.get(tag)
            return True
        except docker.errors.ImageNotFound:
            return False
    try:
        return subprocess.run(["docker", "image", "inspect", tag], capture_output=True,
                              check=False, env=_cli_env(host)).returncode == 0
    except FileNotFoundError:
        return False


def image_for(stack: str, *, client=None) -> str:
    """The tag of the built image for `stack` (or BROWSER) on the engine; SandboxError with a
    hint when it is missing there."""
    tag = browser_tag() if stack == BROWSER else stack_tag(stack)
    if not image_exists(tag, client=client):
        raise SandboxError(f"sandbox image {tag} is not built on this Docker engine",
                           hint=BUILD_HINT)
    return tag


# ---------------------------------------------------------------- building


def debian_mirror() -> str:
    """The host's Debian mirror (first URIs: line of debian.sources), else deb.debian.org."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file():
        for line in sources.read_text().splitlines():
            if line.strip().startswith("URIs:"):
                return line.split(":", 1)[1].split()[0]
    legacy = Path("/etc/apt/sources.list")
    if legacy.is_file():
        for line in legacy.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[0] == "deb":
                return fields[1]
    return DEFAULT_MIRROR


def _run_step(cmd: list[str], progress: Callable[[str], None], **kwargs) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise SandboxError(f"`{' '.join(cmd[:3])} ...` failed (exit {proc.returncode}):\n{tail}")


def _add_sandbox_user(root: Path) -> None:
    """An unprivileged user 1000 and the mount points both backends need."""
    with open(root / "etc/passwd", "a") as f:
        f.write(f"healer:x:{SANDBOX_UID}:{SANDBOX_UID}:healer:/tmp/home:/bin/sh\n")
    with open(root / "etc/group", "a") as f:
        f.write(f"healer:x:{SANDBOX_UID}:\n")
    for name in ("work", "src", "deps", "etc/healer"):
        (root / name).mkdir(parents=True, exist_ok=True)
    os.chown(root / "deps", SANDBOX_UID, SANDBOX_UID)
    (root / "etc/healer/ca.crt").touch()  # bind-mount target for the host CA bundle


def build_rootfs(progress: Callable[[str], None] = print) -> Path:
    """Run debootstrap into the cache folder unless the tree is already there."""
    target = rootfs_dir()
    if (target / "etc/os-release").is_file():
        return target
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap is not installed", hint="apt-get install debootstrap")
    if os.geteuid() != 0:
        raise SandboxError("building the base root file system needs root (debootstrap)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="rootfs-", dir=target.parent))
    mirror = debian_mirror()
    progress(f"debootstrap {SUITE} from {mirror} (about a minute)")
    include = ",".join(base_packages())
    cmd = ["debootstrap", "--variant=minbase", f"--include={include}", SUITE, str(tmp), mirror]
    try:
        _run_step(cmd, progress)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (tmp / junk).glob("*"):
                if entry.is_file():
                    entry.unlink()
        _add_sandbox_user(tmp)
        tmp.chmod(0o755)  # mkdtemp made it 0700: bubblewrap runs as an ordinary user
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _import_base(root: Path, tag: str, progress: Callable[[str], None],
                 host: str | None) -> None:
    progress(f"importing {tag}")
    changes = [arg for env in IMAGE_ENV for arg in ("-c", f"ENV {env}")]
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    try:
        _run_step(["docker", "import", *changes, "-", tag], progress, stdin=tar.stdout,
                  env=_cli_env(host))
    finally:
        tar.stdout.close()
        tar.wait()


def _download_wheels(target: Path, progress: Callable[[str], None]) -> None:
    """The browser session's packages as wheels for the image's Python, by the host's pip
    (its index and certificates): wheels only, so no package's code runs."""
    progress(f"downloading wheels of {', '.join(browser_pins())} for Python {SUITE_PYTHON}")
    platforms = [arg for platform in WHEEL_PLATFORMS for arg in ("--platform", platform)]
    _run_step(host_python("pip", "download", "--quiet", "--only-binary=:all:",
                          "--python-version", SUITE_PYTHON, "--implementation", "cp", *platforms,
                          "--dest", str(target), *browser_pins()), progress)


def _build_stack(stack: str, tag: str, progress: Callable[[str], None],
                 host: str | None) -> None:
    progress(f"building {tag}")
    recipe = dockerfile(stack)
    env = _cli_env(host)
    with tempfile.TemporaryDirectory() as context:
        shutil.copy(recipe, Path(context) / "Dockerfile")
        if stack == BROWSER:
            _download_wheels(Path(context) / "wheels", progress)
        cmd = ["docker", "build", "-q", "--build-arg", f"BASE={base_tag()}", "-t", tag, context]
        _run_step(cmd, progress, env=env)


def build_images(progress: Callable[[str], None] = print, *, host: str | None = None,
                 stacks: tuple[str, ...] | None = None) -> dict[str, str]:
    """Build every missing image of `stacks` on the engine at `host` (else the environment's:
    DOCKER_HOST, the current Docker context); returns stack -> tag (base included as "base").

    The debootstrap tree is made here and streamed to the engine; the stack images are built
    there, so a remote engine needs no registry either."""
    if shutil.which("docker") is None:
        raise SandboxError("the docker command is not installed", hint="apt-get install docker.io")
    stacks = (*stack_names(), BROWSER) if stacks is None else stacks
    tags = {"base": base_tag(),
            **{stack: browser_tag() if stack == BROWSER else stack_tag(stack) for stack in stacks}}
    if not image_exists(tags["base"], host=host):
        _import_base(build_rootfs(progress), tags["base"], progress, host)
    for stack in stacks:
        if not image_exists(tags[stack], host=host):
            _build_stack(stack, tags[stack], progress, host)
    for stack, tag in tags.items():
        progress(f"{stack}: {tag}")
    return tags


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    try:
        build_images()
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
