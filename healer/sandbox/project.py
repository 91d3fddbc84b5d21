"""What every backend does with a project: the folders it is given in the sandbox, the script
that copies it into /work before a command, and the archive it is shipped in. What depends on
the project's language (its image, environment, install step) is its stack's
(healer.stacks)."""

from __future__ import annotations

import io
import logging
import shutil
import stat
import tarfile
import tempfile
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
EXCLUDED = (".git", ".healer", "node_modules", "__pycache__", ".pytest_cache", ".venv")

# Copies the read-only project into /work, runs the stack's setup lines, then runs "$1".
_COPY = (
    'mkdir -p "$HOME" && '
    f"tar -C {SRC} {' '.join(f'--exclude=./{name}' for name in EXCLUDED)} -cf - . "
    f"| tar -C {WORK} -xf - && cd {WORK} || exit 125\n"
)


def run_argv(command: str, setup: Iterable[str] = ()) -> list[str]:
    """argv that copies the project into /work, runs the `setup` lines there (a stack's: links
    to installed modules), then `command`."""
    script = _COPY + "".join(f"{line}\n" for line in setup) + 'exec sh -c "$1"'
    return ["sh", "-c", script, "sh", command]


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
                    raise _too_large(project, str(path.relative_to(project)))
        return skipped

    return ignore


def copy_project(project: Path, target: Path) -> None:
    """Copy `project` into `target` as the sandbox sees it: healer's own folders and special
    files left out, symlinks kept as links (never followed on the host), the size capped."""
    shutil.copytree(project, target, symlinks=True, dirs_exist_ok=True, ignore=_copied(project))


def _too_large(project: Path, name: str) -> SandboxError:
    return SandboxError(
        f"the project in {project} is larger than {MAX_PROJECT_BYTES // 2**20} MiB (at "
        f"{name}); healer does not copy a project that large to check or debug it",
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
