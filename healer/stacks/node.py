"""The Node stack: npm installs package.json's dependencies (install scripts off) into
/deps/node; the checks are `node --check` on every .js file and `npm test` when declared."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from healer.hostread import project_text
from healer.models import CheckResult
from healer.sandbox.base import Sandbox
from healer.sandbox.project import DEPS, SRC
from healer.stacks.base import CombinedStack, Evidence, Stack, source_files

# a dependency that is not a registry version: a path, a link, git, a URL, a GitHub shorthand
_SOURCE = re.compile(r"^(file:|link:|git|https?:|github:|[\w.-]+/[\w.-]+)")
SECTIONS = ("dependencies", "devDependencies", "optionalDependencies")


def _package(project: Path) -> dict:
    try:
        data = json.loads(project_text(project / "package.json") or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def node_dependencies(project: Path) -> dict[str, str]:
    found = {}
    for key in SECTIONS:
        section = _package(project).get(key)
        if isinstance(section, dict):
            found.update({str(k): str(v) for k, v in section.items()})
    return found


def has_node_dependencies(project: Path) -> bool:
    data = _package(project)
    return bool(data.get("dependencies") or data.get("devDependencies"))


class NodeStack(Stack):
    name = "node"
    priority = 20
    check_names = ("node-syntax", "npm-test")
    dependency_files = ("package.json", "package-lock.json")
    source_suffixes = (".js", ".mjs", ".cjs")
    test_patterns = ("*.test.*", "*.spec.*", "test_*.js", "*_test.js")
    fence = "javascript"

    def detect(self, project: Path) -> Evidence:
        if (project / "package.json").is_file():
            return Evidence.FOUND
        # loose .js files beside another language's project are not an npm project
        return Evidence.ALONE if any(True for _ in source_files(project, (".js",))) \
            else Evidence.NONE

    def path(self) -> list[str]:
        return [f"{DEPS}/node/node_modules/.bin"]

    def environment(self) -> dict[str, str]:
        return {"NODE_PATH": f"{DEPS}/node/node_modules"}

    def setup(self) -> str:
        return (f"if [ -f package.json ] && [ -d {DEPS}/node/node_modules ]; then "
                f"ln -s {DEPS}/node/node_modules node_modules; fi")

    def install(self, project: Path, *, wheels_only: bool) -> list[str]:
        if not has_node_dependencies(project):
            return []
        copy = f"cp {SRC}/package.json {DEPS}/node/"
        lock = f"if [ -f {SRC}/package-lock.json ]; then cp {SRC}/package-lock.json {DEPS}/node/; fi"
        return [(f"mkdir -p {DEPS}/node && {copy} && {lock} && cd {DEPS}/node && "
                "npm install --ignore-scripts")]

    def dependency_problems(self, project: Path) -> list[str]:
        return [f"package.json dependency {name}: `{spec[:80]}`"
                for name, spec in node_dependencies(project).items()
                if _SOURCE.match(spec.strip())]

    def checks(self, project: Path, sandbox: Sandbox, timeout: float, *,
               ignore: Sequence[str] = ()) -> list[CheckResult]:
        from healer.checks.node import node_checks

        return node_checks(project, sandbox, timeout, ignore=list(ignore))


# a Python project with an npm front end
PYTHON_NODE = CombinedStack("python-node", ("python", "node"))
STACK = NodeStack()
