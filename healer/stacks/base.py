"""What a stack is: one language healer can build and check, or an image that runs several.

A stack says how a project in its language is recognised, which image runs it (a Dockerfile
on the healer base image), what every command there needs in its environment, how the
project's declared dependencies are installed (and which declarations are refused), and
which checks run in the sandbox. Register one under the entry point group `healer.stacks`
(see healer.plugins); healer's Python, Node and Go stacks are registered that way.
"""

from __future__ import annotations

import enum
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from healer.models import CheckResult
from healer.sandbox.base import Sandbox
from healer.sandbox.project import EXCLUDED
from healer.stacks.acceptance import AcceptanceRunner


class Evidence(enum.IntEnum):
    """How sure a stack is that a project is in its language."""

    NONE = 0
    ALONE = 1  # its files are there, but they count only when no other stack is found
    FOUND = 2


class Stack:
    """A language (or, with `parts`, an image that combines languages). Subclass and override."""

    name: str = ""
    priority: int = 50  # the order of detection and of the checks: lower first
    parts: tuple[str, ...] = ()  # a combined image: the stacks it runs together
    check_names: tuple[str, ...] = ()  # the checks `checks()` returns, in order
    dependency_files: tuple[str, ...] = ()  # files whose change means installing again
    source_suffixes: tuple[str, ...] = ()  # the files of its language, for a project's language
    test_patterns: tuple[str, ...] = ()  # the names of its test files (fnmatch patterns)
    fence: str = ""  # the Markdown fence language of its source files
    acceptance: AcceptanceRunner | None = None  # runs the user's acceptance tests in its language

    def recipe(self) -> Path:
        """The Dockerfile of the stack's image (`FROM ${BASE}`, the healer base image)."""
        from healer.sandbox.images import recipes_dir

        return recipes_dir() / f"Dockerfile.{self.name}"

    def detect(self, project: Path) -> Evidence:
        return Evidence.NONE

    def path(self) -> list[str]:
        """Folders to put before the base PATH of every command."""
        return []

    def environment(self) -> dict[str, str]:
        """Variables every command in the sandbox gets (nothing comes from the host)."""
        return {}

    def setup(self) -> str:
        """A shell line run in /work, after the project is copied there, before each command."""
        return ""

    def install(self, project: Path, *, wheels_only: bool) -> list[str]:
        """Shell steps that install the project's declared dependencies under /deps. They run
        with the package index in reach: they may fetch by name, never run project code."""
        return []

    def dependency_problems(self, project: Path) -> list[str]:
        """Declarations the install step refuses (options, local paths, URLs), as
        `file line/name: declaration` phrases; [] when all is well."""
        return []

    def dependency_digest(self, project: Path, digest: hashlib._Hash) -> None:
        """Feed what the install step depends on into `digest`."""
        for name in self.dependency_files:
            path = project / name
            digest.update(f"\0{name}\0".encode())
            if path.is_file() and not path.is_symlink():
                with path.open("rb") as handle:
                    for block in iter(lambda h=handle: h.read(1 << 20), b""):
                        digest.update(block)

    def checks(self, project: Path, sandbox: Sandbox, timeout: float, *,
               ignore: Sequence[str] = ()) -> list[CheckResult]:
        """The stack's checks (named as in `check_names`); `ignore`: the acceptance test
        files, which healer runs on their own."""
        return []

    def __repr__(self) -> str:
        return f"<stack {self.name}>"


class CombinedStack(Stack):
    """An image that runs several stacks' checks: its own recipe, its parts' everything else."""

    def __init__(self, name: str, parts: tuple[str, ...], priority: int = 30) -> None:
        self.name, self.parts, self.priority = name, parts, priority


def source_files(project: Path, suffixes: Iterable[str]) -> Iterator[Path]:
    """The project's files with one of `suffixes`; healer's and tools' folders (node_modules,
    .git, ...) are not walked into at all, and symlinks are never followed (the project is
    untrusted: a link may name a host file)."""
    suffixes = tuple(suffixes)
    for folder, dirs, names in os.walk(project):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED)
        for name in sorted(names):
            path = Path(folder) / name
            if name.endswith(suffixes) and not path.is_symlink():
                yield path
