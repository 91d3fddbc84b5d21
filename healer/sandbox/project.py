"""What a project needs from a sandbox: its stack, its dependencies, and the scripts that
copy it into /work and install those dependencies. Shared by every backend."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import shlex
import shutil
import stat
import tarfile
import tempfile
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from healer.errors import SandboxError

log = logging.getLogger(__name__)

SRC = "/src"  # the project, mounted read-only
WORK = "/work"  # a writable copy of it, fresh for every run
DEPS = "/deps"  # installed dependencies: writable while preparing, read-only afterwards
HOME = "/tmp/home"
CA_BUNDLE = "/etc/healer/ca.crt"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEPENDENCY_FILES = ("requirements.txt", "pyproject.toml", "package.json", "package-lock.json")
EXCLUDED = (".git", ".healer", "node_modules", "__pycache__", ".pytest_cache", ".venv")
PYTHON_MARKERS = ("pyproject.toml", "requirements.txt", "setup.py", "setup.cfg")

# Copies the read-only project into /work, links installed node modules, then runs "$1".
_SETUP = (
    'mkdir -p "$HOME" && '
    f"tar -C {SRC} {' '.join(f'--exclude=./{name}' for name in EXCLUDED)} -cf - . "
    f"| tar -C {WORK} -xf - && cd {WORK} || exit 125\n"
    f"if [ -f package.json ] && [ -d {DEPS}/node/node_modules ]; then "
    f"ln -s {DEPS}/node/node_modules node_modules; fi\n"
    'exec sh -c "$1"'
)


def run_argv(command: str) -> list[str]:
    """argv that copies the project into /work and then runs `command` there."""
    return ["sh", "-c", _SETUP, "sh", command]


def stack_of(project: Path) -> str:
    """The sandbox image a project needs: "python", "node" (JavaScript only), or
    "python-node" (Python with a package.json, e.g. a web app with an npm front end)."""
    has_python = any((project / m).exists() for m in PYTHON_MARKERS) or any(
        True for _ in _python_files(project)
    )
    has_package = (project / "package.json").is_file()
    if has_python:
        return "python-node" if has_package else "python"
    if has_package or any(project.rglob("*.js")):
        return "node"
    return "python"


def stack_parts(stack: str) -> list[str]:
    """The languages a stack runs checks for: "python-node" -> ["python", "node"]."""
    return stack.split("-")


def _python_files(project: Path):
    for path in project.rglob("*.py"):
        if not any(part in EXCLUDED for part in path.relative_to(project).parts):
            yield path


def run_environment(stack: str) -> dict[str, str]:
    """The whole environment of a sandboxed command: nothing comes from the host."""
    return {
        "PATH": f"{DEPS}/python/bin:{DEPS}/node/node_modules/.bin:{BASE_PATH}",
        "PYTHONPATH": f"{DEPS}/python",
        "NODE_PATH": f"{DEPS}/node/node_modules",
        "HOME": HOME,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "HEALER_STACK": stack,
    }


# ---------------------------------------------------------------- dependencies


def pyproject_dependencies(project: Path) -> list[str]:
    path = project / "pyproject.toml"
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        log.warning("cannot read dependencies from %s: %s", path, exc)
        return []
    deps = data.get("project", {}).get("dependencies", [])
    return [d for d in deps if isinstance(d, str)]


def requirements(project: Path) -> list[str]:
    """Requirement lines of requirements.txt (comments and pip options dropped)."""
    path = project / "requirements.txt"
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(errors="replace").splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def declared_dependencies(project: Path) -> list[str]:
    """Every Python requirement the project declares (requirements.txt and pyproject.toml)."""
    return requirements(project) + pyproject_dependencies(project)


def has_node_dependencies(project: Path) -> bool:
    import json

    path = project / "package.json"
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and bool(data.get("dependencies") or data.get("devDependencies"))


_DIRECT = re.compile(r"(://|^[./~]|^file:|^git\+|\s@\s|^[\w.-]+\s*@)")
_NODE_SOURCE = re.compile(r"^(file:|link:|git|https?:|github:|[\w.-]+/[\w.-]+)")


def dependency_problems(project: Path) -> list[str]:
    """Why the project's dependencies cannot be installed as declared: the install step has
    network, so it takes package names from the index only, never options (`--no-index`,
    `--index-url`, `-r`), local paths or URLs, which would run the project's own build code
    or reach other hosts."""
    problems = []
    path = project / "requirements.txt"
    if path.is_file() and not path.is_symlink():
        for number, raw in enumerate(path.read_text(errors="replace").splitlines(), 1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("-") or _DIRECT.search(line):
                problems.append(f"requirements.txt line {number}: `{line[:80]}`")
    for dep in pyproject_dependencies(project):
        if _DIRECT.search(dep.strip()):
            problems.append(f"pyproject.toml dependency `{dep[:80]}`")
    for name, spec in _node_dependencies(project).items():
        if _NODE_SOURCE.match(spec.strip()):
            problems.append(f"package.json dependency {name}: `{spec[:80]}`")
    return problems


def _node_dependencies(project: Path) -> dict[str, str]:
    import json

    path = project / "package.json"
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    found = {}
    for key in ("dependencies", "devDependencies", "optionalDependencies"):
        section = data.get(key) if isinstance(data, dict) else None
        if isinstance(section, dict):
            found.update({str(k): str(v) for k, v in section.items()})
    return found


def install_script(project: Path, *, wheels_only: bool = False) -> str | None:
    """A shell script that installs the project's dependencies into /deps, or None."""
    steps = []
    if (project / "requirements.txt").is_file() or pyproject_dependencies(project):
        args = []
        if (project / "requirements.txt").is_file():
            args += ["-r", f"{SRC}/requirements.txt"]
        args += pyproject_dependencies(project)
        quoted = " ".join(shlex.quote(a) for a in args)
        # with credentials for a private index in reach, no package's build code may run
        binary = "--only-binary=:all: " if wheels_only else ""
        steps.append(
            f"python3 -m pip install --no-input --progress-bar off --no-warn-script-location "
            f"{binary}--target {DEPS}/python {quoted}"
        )
    if has_node_dependencies(project):
        copy = f"cp {SRC}/package.json {DEPS}/node/"
        lock = f"if [ -f {SRC}/package-lock.json ]; then cp {SRC}/package-lock.json {DEPS}/node/; fi"
        steps.append(f"mkdir -p {DEPS}/node && {copy} && {lock} && cd {DEPS}/node && npm install --ignore-scripts")
    if not steps:
        return None
    return "set -e\nmkdir -p \"$HOME\"\n" + "\n".join(steps) + f"\ntouch {DEPS}/.complete\n"


def dependency_key(project: Path, image: str) -> str:
    """Hash of the dependency files and the image: equal keys mean nothing to reinstall."""
    digest = hashlib.sha256(image.encode())
    for name in DEPENDENCY_FILES:
        path = project / name
        digest.update(f"\0{name}\0".encode())
        if name == "pyproject.toml":
            digest.update("\n".join(pyproject_dependencies(project)).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------- staging


MAX_PROJECT_BYTES = 512 * 2**20  # what a project may weigh when it is copied for a check
SANDBOX_UID = 1000  # the user checks run as, in every backend


def _copied(project: Path) -> Callable[[str, list[str]], set[str]]:
    """An ignore function for copytree: healer's own folders, and anything that is not a
    regular file, folder or symlink (a FIFO would block the copy; a device would be read)."""
    total = [0]

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set(shutil.ignore_patterns(*EXCLUDED)(folder, names))
        for name in names:
            path = Path(folder) / name
            if name in skipped or path.is_symlink():
                continue
            mode = path.lstat().st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                skipped.add(name)
            elif stat.S_ISREG(mode):
                total[0] += path.lstat().st_size
                if total[0] > MAX_PROJECT_BYTES:
                    raise SandboxError(
                        f"the project in {project} is larger than {MAX_PROJECT_BYTES // 2**20} "
                        f"MiB (at {path.relative_to(project)}); healer does not copy it into "
                        "the sandbox", hint="keep data files and build outputs out of the project")
        return skipped

    return ignore


def copy_project(project: Path, target: Path) -> None:
    """Copy `project` into `target` as the sandbox sees it: healer's own folders and special
    files left out, symlinks kept as links (never followed on the host), the size capped."""
    shutil.copytree(project, target, symlinks=True, dirs_exist_ok=True, ignore=_copied(project))


def _too_large(project: Path, name: str) -> SandboxError:
    return SandboxError(
        f"the project in {project} is larger than {MAX_PROJECT_BYTES // 2**20} MiB (at "
        f"{name}); healer does not copy it into the sandbox",
        hint="keep data files and build outputs out of the project")


def _owned(info: tarfile.TarInfo, mode: int | None = None) -> tarfile.TarInfo:
    info.uid = info.gid = SANDBOX_UID
    info.uname = info.gname = ""
    if not info.issym():
        info.mode = mode if mode is not None else \
            0o700 if info.isdir() or info.mode & 0o100 else 0o600
    return info


class _Packer:
    """Fills one tar stream as staging copies: see `archive_of`."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar, self.total, self.folders = tar, 0, set()

    def folder(self, name: str) -> None:
        """`name` and its parents as folder entries, each once."""
        parts = [part for part in name.split("/") if part]
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            if path not in self.folders:
                self.folders.add(path)
                info = tarfile.TarInfo(path)
                info.type = tarfile.DIRTYPE
                self.tar.addfile(_owned(info, 0o700))

    def tree(self, project: Path, prefix: str) -> None:
        def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
            if info.islnk():  # a second name of a file already packed: packed again, whole
                source = project / Path(info.name).relative_to(prefix or ".")
                info.type, info.linkname, info.size = tarfile.REGTYPE, "", source.stat().st_size
            if Path(info.name).name in EXCLUDED or not (info.isfile() or info.isdir()
                                                        or info.issym()):
                return None  # healer's folders; FIFOs and devices, which would be read
            self.total += info.size if info.isfile() else 0
            if self.total > MAX_PROJECT_BYTES:
                raise _too_large(project, info.name)
            return _owned(info)

        self.folder(prefix)
        for entry in sorted(project.iterdir()):
            try:
                self.tar.add(entry, arcname=f"{prefix}/{entry.name}".lstrip("/"), filter=keep)
            except OSError as exc:  # a file healer may not read: say which
                raise SandboxError(f"cannot read {exc.filename or entry} to send it to the "
                                   f"sandbox: {exc.strerror or exc}") from exc

    def file(self, name: str, data: bytes) -> None:
        self.folder(name.rpartition("/")[0])
        info = tarfile.TarInfo(name)
        info.size = len(data)
        self.tar.addfile(_owned(info, 0o600), io.BytesIO(data))


def archive_of(sources: Iterable[tuple[Path, str]], files: dict[str, bytes] | None = None,
               ) -> IO[bytes]:
    """A tar stream of folders (each under its prefix, "" for the root) and extra files, made
    as a copy for the sandbox is made: healer's own folders and special files left out,
    symlinks kept as links (never followed), the size capped, every entry owned by the
    sandbox user and private to it. This is how a project reaches a Docker engine: over its
    API, never by a host path, so the engine may be on another machine."""
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 2**20)  # noqa: SIM115 - returned open
    try:
        with tarfile.open(fileobj=spool, mode="w") as tar:
            packer = _Packer(tar)
            for project, prefix in sources:
                packer.tree(Path(project), prefix)
            for name, data in (files or {}).items():
                packer.file(name, data)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool
