"""The Node stack: npm installs package.json's dependencies (install scripts off) into
/deps/node; the checks are `node --check` on every .js file and `npm test` when declared."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from healer.hostread import project_text
from healer.models import CheckResult
from healer.sandbox.base import Sandbox
from healer.sandbox.project import DEPS, SRC
from healer.stacks.base import CombinedStack, Evidence, Stack, source_files

# a version npm looks up on the registry: a range (`^1.2.3`, `>=1 <2`, `1.x || 2.x`, `*`) or
# a tag (`latest`); a path, a link, git, a URL, a GitHub shorthand or an alias is not one
_REGISTRY_VERSION = re.compile(r"(?![.~]/)[A-Za-z0-9*^~<>=|+ .-]*")
SECTIONS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
REGISTRY = "https://registry.npmjs.org/"


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


def _package_problems(data: dict) -> list[str]:
    problems = [f"package.json {key}: not an object of names and versions"
                for key in SECTIONS if key in data and not isinstance(data[key], dict)]
    for key in SECTIONS:
        section = data.get(key)
        if isinstance(section, dict):
            problems += [f"package.json dependency {name}: `{str(spec)[:80]}`"
                         for name, spec in section.items()
                         if not (isinstance(spec, str) and _REGISTRY_VERSION.fullmatch(spec))]
    overrides = data.get("overrides")
    if overrides is not None and not all(
            _REGISTRY_VERSION.fullmatch(v) or v.startswith("$") for v in _leaves(overrides)):
        problems.append("package.json overrides: only registry versions")
    return problems


def _leaves(value: object) -> list[str]:
    """The strings at the ends of a nested object (`overrides`); anything else as `?/`."""
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    return [value] if isinstance(value, str) else ["?/"]


def _lock_entries(data: dict, depth: int = 0) -> list[tuple[str, object]]:
    """(name, entry) of a lockfile's packages: `packages` (version 2 and later) and the
    nested `dependencies` of version 1."""
    entries = list(data.get("packages", {}).items()) \
        if isinstance(data.get("packages"), dict) else []
    nested = data.get("dependencies")
    if isinstance(nested, dict) and depth < 64:
        for name, entry in nested.items():
            entries.append((name, entry))
            if isinstance(entry, dict):
                entries += _lock_entries({"dependencies": entry.get("dependencies")}, depth + 1)
    return entries


def _lock_problems(project: Path) -> list[str]:
    """Entries of package-lock.json that npm would fetch from elsewhere than the registry."""
    path = project / "package-lock.json"
    if not os.path.lexists(path):
        return []
    try:
        data = json.loads(project_text(path) or "")
    except json.JSONDecodeError:
        return ["package-lock.json: a link, or not a plain JSON file under 1 MB"]
    registry = os.environ.get("NPM_CONFIG_REGISTRY") or os.environ.get("npm_config_registry") \
        or REGISTRY
    registry = registry.rstrip("/") + "/"
    if not isinstance(data, dict):
        return ["package-lock.json: not a JSON object"]
    problems = []
    for name, entry in _lock_entries(data):
        if not isinstance(entry, dict):
            problems.append(f"package-lock.json {name[:80]}: not an object")
        elif entry.get("link") or not str(entry.get("resolved", registry)).startswith(registry):
            problems.append(f"package-lock.json {name[:80]}: `{str(entry.get('resolved'))[:80]}`"
                            f" is not on the registry {registry}")
    return problems


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
        path = project / "package.json"
        if os.path.lexists(path) and project_text(path) is None:
            return ["package.json is a link, or not a plain file under 1 MB"]
        return _package_problems(_package(project)) + _lock_problems(project)

    def checks(self, project: Path, sandbox: Sandbox, timeout: float, *,
               ignore: Sequence[str] = ()) -> list[CheckResult]:
        from healer.checks.node import node_checks

        return node_checks(project, sandbox, timeout, ignore=list(ignore))


# a Python project with an npm front end
PYTHON_NODE = CombinedStack("python-node", ("python", "node"))
STACK = NodeStack()
