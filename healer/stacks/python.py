"""The Python stack: pip installs requirements.txt and pyproject.toml's dependencies into
/deps/python; the checks compile, import every module, run pytest and smoke-run the CLI."""

from __future__ import annotations

import hashlib
import logging
import re
import shlex
import tomllib
from collections.abc import Sequence
from pathlib import Path

from healer.models import CheckResult
from healer.sandbox.base import Sandbox
from healer.sandbox.project import DEPS, SRC
from healer.stacks.base import Evidence, Stack, source_files

log = logging.getLogger(__name__)

MARKERS = ("pyproject.toml", "requirements.txt", "setup.py", "setup.cfg")
TEST_PATTERNS = ("test_*.py", "*_test.py")  # the files pytest collects
# a requirement that is not a plain name: a URL, a local path, a VCS link, `name @ url`
_DIRECT = re.compile(r"(://|^[./~]|^file:|^git\+|\s@\s|^[\w.-]+\s*@)")


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
        if not (project / "requirements.txt").is_file() and not pyproject_dependencies(project):
            return []
        args = []
        if (project / "requirements.txt").is_file():
            args += ["-r", f"{SRC}/requirements.txt"]
        args += pyproject_dependencies(project)
        quoted = " ".join(shlex.quote(a) for a in args)
        # with credentials for a private index in reach, no package's build code may run
        binary = "--only-binary=:all: " if wheels_only else ""
        return [(f"python3 -m pip install --no-input --progress-bar off --no-warn-script-location "
                f"{binary}--target {DEPS}/python {quoted}")]

    def dependency_problems(self, project: Path) -> list[str]:
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
        return problems

    def dependency_digest(self, project: Path, digest: hashlib._Hash) -> None:
        digest.update(b"\0requirements.txt\0")
        if (project / "requirements.txt").is_file():
            digest.update((project / "requirements.txt").read_bytes())
        digest.update(b"\0pyproject.toml\0" + "\n".join(pyproject_dependencies(project)).encode())

    def checks(self, project: Path, sandbox: Sandbox, timeout: float, *,
               ignore: Sequence[str] = ()) -> list[CheckResult]:
        from healer.checks.python import python_checks

        return python_checks(project, sandbox, timeout, ignore=list(ignore))


STACK = PythonStack()
