"""Signs in the project's own code of an attempt on the acceptance run, read without running
it: an `__eq__` that is always true (any expected value "matches"), an `__ne__` that is
always false, and code that reaches into pytest's internals or healer's plugin; in its
JavaScript, code that reads process information (`/proc`, where a process's own memory holds
the guard's key) or names healer's guard."""

from __future__ import annotations

import ast
from pathlib import Path

from healer.checks.static import project_files
from healer.hostread import read_source

PLUGIN_NAMES = ("healer_acceptance", "HEALER_ACCEPTANCE")
JS_SIGNS = {"/proc/": "reads process information (/proc)",
            "healer-node-": "refers to healer's Node guard",
            "healer-guard": "refers to healer's Node guard"}
JS_SUFFIXES = (".js", ".mjs", ".cjs")


def _constant_return(node: ast.FunctionDef, value: bool) -> bool:
    body = [n for n in node.body if not (isinstance(n, ast.Expr)
                                         and isinstance(n.value, ast.Constant))]
    return (len(body) == 1 and isinstance(body[0], ast.Return)
            and isinstance(body[0].value, ast.Constant) and body[0].value.value is value)


def _signs(tree: ast.AST, source: str) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            if node.name == "__eq__" and _constant_return(node, True):
                found.append(f"line {node.lineno}: an __eq__ that always returns True")
            elif node.name == "__ne__" and _constant_return(node, False):
                found.append(f"line {node.lineno}: an __ne__ that always returns False")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""]
            if any(n == "_pytest" or n.startswith("_pytest.") for n in names):
                found.append(f"line {node.lineno}: imports pytest's internals (_pytest)")
    if any(name in source for name in PLUGIN_NAMES):
        found.append("refers to healer's acceptance plugin")
    return found


def static_tamper(project: Path, skip: set[str]) -> list[str]:
    """One line per sign, "path: what", for the project's Python files outside `skip`."""
    found = []
    for path in project_files(project, ".py"):
        rel = path.relative_to(project).as_posix()
        if rel in skip or path.is_symlink():
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError):
            continue
        found += [f"{rel} {sign}" for sign in _signs(tree, source)]
    return found


def static_tamper_js(project: Path, skip: set[str]) -> list[str]:
    """One line per sign, "path: what", for the project's JavaScript files outside `skip`."""
    found = []
    for suffix in JS_SUFFIXES:
        for path in project_files(project, suffix):
            rel = path.relative_to(project).as_posix()
            if rel in skip:
                continue
            source = read_source(path)
            found += [f"{rel} {what}" for sign, what in JS_SIGNS.items() if sign in source]
    return found
