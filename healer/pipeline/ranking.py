"""Which files matter for a set of failures, best first:
  0. files named by a failure (its file field, or a path in its message or log excerpt such
     as a traceback frame);
  1. files that import, or are imported by, the files of rank 0;
  2. files named in the plan;
  3. tests that mention a file of rank 0;
  4. everything else.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from healer.models import Failure
from healer.pipeline.codebase import SourceFile
from healer.pipeline.outline import JS_SUFFIXES
from healer.pyimports import parsed_imports
from healer.stacks import is_test_file

RANK_EVIDENCE, RANK_NEIGHBOUR, RANK_PLAN, RANK_TEST, RANK_REST = range(5)
_QUOTED = re.compile(r"""["'`]([^"'`\s]{1,200})["'`]""")


def rank_files(
    files: dict[str, SourceFile],
    failures: list[Failure],
    *,
    plan_text: str = "",
) -> dict[str, int]:
    """Each file's rank (lower is more relevant); see the module docstring."""
    paths = list(files)
    ranks = {p: RANK_REST for p in paths}
    evidence = _named_in_failures(paths, failures)
    in_plan = mentioned_paths(paths, plan_text) if plan_text else set()
    graph = import_graph(files)
    for p in paths:
        if p in evidence:
            ranks[p] = RANK_EVIDENCE
        elif graph[p] & evidence or any(p in graph[e] for e in evidence):
            ranks[p] = RANK_NEIGHBOUR
        elif p in in_plan:
            ranks[p] = RANK_PLAN
        elif is_test_file(p) and _mentions_any(files[p].text, evidence):
            ranks[p] = RANK_TEST
    return ranks


def _named_in_failures(paths: list[str], failures: list[Failure]) -> set[str]:
    named: set[str] = set()
    for failure in failures:
        if failure.file:
            named |= mentioned_paths(paths, failure.file)
        named |= mentioned_paths(paths, f"{failure.message}\n{failure.excerpt}")
    return named


def mentioned_paths(paths: Iterable[str], text: str) -> set[str]:
    """Project paths that `text` names: whole, as the tail of a longer (absolute) path, or by a
    file name that only one project file has. "src/app.py" in the text names src/app.py,
    not app.py."""
    ends: dict[str, set[int]] = {}
    by_name: dict[str, list[str]] = {}
    for p in paths:
        by_name.setdefault(posixpath.basename(p), []).append(p)
        ends[p] = _mention_ends(text, p)
    for p in list(ends):
        for q, longer in ends.items():
            if q != p and q.endswith("/" + p):
                ends[p] -= longer
    found = {p for p, at in ends.items() if at}
    for name, owners in by_name.items():
        if len(owners) == 1 and owners[0] not in found and _mention_ends(text, name):
            found.add(owners[0])
    return found


def _mention_ends(text: str, path: str) -> set[int]:
    pattern = r"(?<![\w.\-])" + re.escape(path) + r"(?![\w\-]|\.\w)"
    return {m.end() for m in re.finditer(pattern, text)}


def _mentions_any(text: str, paths: Iterable[str]) -> bool:
    for p in paths:
        stem = posixpath.splitext(posixpath.basename(p))[0]
        if stem != "__init__" and re.search(r"\b" + re.escape(stem) + r"\b", text):
            return True
    return False


def import_graph(files: dict[str, SourceFile]) -> dict[str, set[str]]:
    """For each file, the project files it imports or references (scripts, manifests)."""
    paths = set(files)
    return {p: references(p, f.text, paths) - {p} for p, f in files.items()}


def references(path: str, text: str, paths: set[str]) -> set[str]:
    """Project files that one file imports (Python) or names in a string literal (others)."""
    if path.endswith(".py"):
        return _python_imports(path, text, paths)
    return _quoted_paths(path, text, paths)


def _python_imports(path: str, text: str, paths: set[str]) -> set[str]:
    package = posixpath.dirname(path)
    found: set[str] = set()
    for imported in parsed_imports(text):
        base = imported.module.replace(".", "/")
        if imported.level:
            parent = package
            for _ in range(imported.level - 1):
                parent = posixpath.dirname(parent)
            base = posixpath.join(parent, base) if base else parent
        found |= _module_files(base, paths, anchored=imported.level > 0)
        for name in imported.names:
            found |= _module_files(posixpath.join(base, name), paths, imported.level > 0)
    return found


def _module_files(module: str, paths: set[str], anchored: bool = False) -> set[str]:
    if not module:
        return set()
    wanted = (f"{module}.py", f"{module}/__init__.py")
    if anchored:
        return {w for w in wanted if w in paths}
    return {p for p in paths for w in wanted if p == w or p.endswith("/" + w)}


def _quoted_paths(path: str, text: str, paths: set[str]) -> set[str]:
    here = posixpath.dirname(path)
    found = set()
    for literal in _QUOTED.findall(text):
        literal = literal.split("?")[0].split("#")[0]
        for base in (posixpath.normpath(posixpath.join(here, literal)), literal.lstrip("/")):
            for candidate in (base, *(base + s for s in JS_SUFFIXES), base + "/index.js"):
                if candidate in paths:
                    found.add(candidate)
    return found

