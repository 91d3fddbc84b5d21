"""The Python stack: pip installs requirements.txt and pyproject.toml's dependencies into
/deps/python; the checks compile, import every module, run pytest and smoke-run the CLI."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shlex
import tomllib
from collections.abc import Sequence
from pathlib import Path

from healer.hostread import project_text
from healer.models import CheckResult
from healer.sandbox.base import Sandbox
from healer.sandbox.project import DEPS
from healer.stacks.base import Evidence, Stack, source_files

log = logging.getLogger(__name__)

MARKERS = ("pyproject.toml", "requirements.txt", "setup.py", "setup.cfg")
TEST_PATTERNS = ("test_*.py", "*_test.py")  # the files pytest collects
# a requirement pip looks up on the package index by name: a name, extras, versions and an
# environment marker; anything else (an option, a path, a URL, `name @ url`) is not one
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION = r"(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
_INDEX_NAME = re.compile(
    rf"{_NAME}(?:\s*\[\s*(?:{_NAME}(?:\s*,\s*{_NAME})*)?\s*\])?"
    rf"(?:\s*\(?\s*{_VERSION}(?:\s*,\s*{_VERSION})*\s*\)?)?"
    r"(?:\s*;(?:(?!://)[^@\\])*)?")
_COMMENT = re.compile(r"(^|\s)#.*$")  # pip's rule: `#` at the start or after a space


def is_index_name(requirement: str) -> bool:
    """Whether pip installs `requirement` from the package index by name, nothing else."""
    return _INDEX_NAME.fullmatch(requirement.strip()) is not None


def pyproject_dependencies(project: Path) -> list[str]:
    text = project_text(project / "pyproject.toml")
    if text is None:
        return []
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        log.warning("cannot read dependencies from %s: %s", project / "pyproject.toml", exc)
        return []
    project_table = data.get("project", {})
    deps = project_table.get("dependencies", []) if isinstance(project_table, dict) else []
    return [d for d in deps if isinstance(d, str)] if isinstance(deps, list) else []


def requirement_lines(project: Path) -> list[tuple[int, str]]:
    """requirements.txt as pip reads it: (line number, requirement), lines ending in `\\`
    continued on the next, comments dropped; options and links are kept for the check."""
    found, pending, start = [], "", 0
    for number, raw in enumerate((project_text(project / "requirements.txt") or "").splitlines(),
                                 1):
        start = start or number
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line, pending = _COMMENT.sub("", pending + raw).strip(), ""
        if line:
            found.append((start, line))
        start = 0
    if pending.strip():
        found.append((start, _COMMENT.sub("", pending).strip()))
    return found


def requirements(project: Path) -> list[str]:
    """The requirements of requirements.txt that pip finds on the package index by name."""
    return [line for _, line in requirement_lines(project) if is_index_name(line)]


def declared_dependencies(project: Path) -> list[str]:
    """Every Python requirement the project declares (requirements.txt and pyproject.toml)."""
    return requirements(project) + pyproject_dependencies(project)


class PythonStack(Stack):
    name = "python"
    priority = 10
    check_names = ("compile", "import", "pytest", "cli")
    dependency_files = ("requirements.txt", "pyproject.toml")
    source_suffixes = (".py",)
    test_patterns = TEST_PATTERNS
    fence = "python"

    def detect(self, project: Path) -> Evidence:
        if any((project / m).exists() for m in MARKERS):
            return Evidence.FOUND
        return Evidence.FOUND if any(True for _ in source_files(project, (".py",))) \
            else Evidence.NONE

    def path(self) -> list[str]:
        return [f"{DEPS}/python/bin"]

    def environment(self) -> dict[str, str]:
        return {"PYTHONPATH": f"{DEPS}/python", "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1"}

    def install(self, project: Path, *, wheels_only: bool) -> list[str]:
        """pip installs the requirements as the check saw them, by name (never `-r` the file,
        which pip would read by rules of its own)."""
        args = declared_dependencies(project)
        if not args:
            return []
        quoted = " ".join(shlex.quote(a) for a in args)
        # with credentials for a private index in reach, no package's build code may run
        binary = "--only-binary=:all: " if wheels_only else ""
        return [(f"python3 -m pip install --no-input --progress-bar off --no-warn-script-location "
                f"{binary}--target {DEPS}/python -- {quoted}")]

    def dependency_problems(self, project: Path) -> list[str]:
        path = project / "requirements.txt"
        if os.path.lexists(path) and project_text(path) is None:
            return ["requirements.txt is a link, or not a plain file under 1 MB; write the "
                    + "requirements in it"]
        problems = [f"requirements.txt line {number}: `{line[:80]}`"
                    for number, line in requirement_lines(project) if not is_index_name(line)]
        problems += [f"pyproject.toml dependency `{dep[:80]}`"
                     for dep in pyproject_dependencies(project) if not is_index_name(dep)]
        return problems

    def dependency_digest(self, project: Path, digest: hashlib._Hash) -> None:
        digest.update(b"\0" + "\n".join(declared_dependencies(project)).encode())

    def checks(self, project: Path, sandbox: Sandbox, timeout: float, *,
               ignore: Sequence[str] = ()) -> list[CheckResult]:
        from healer.checks.python import python_checks

        return python_checks(project, sandbox, timeout, ignore=list(ignore))


STACK = PythonStack()
