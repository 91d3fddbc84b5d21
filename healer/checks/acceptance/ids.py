"""Test ids: pytest node ids as healer counts them, and ids read from a test file's source."""

from __future__ import annotations

import ast
import re

_PARAMS = re.compile(r"\[.*\]$")


def base_id(nodeid: str) -> str:
    """The id without its parameters: `t.py::test_x[1-2]` -> `t.py::test_x`.

    Parameters can depend on project data the pristine collection cannot see, so a test
    counts once, and passes only when every one of its parameter sets passes.
    """
    return _PARAMS.sub("", nodeid)


def _is_test_class(node: ast.ClassDef) -> bool:
    if node.name.startswith("Test"):
        return True
    names = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases]
    return any(name.endswith("TestCase") for name in names)


def static_ids(rel: str, source: str) -> list[str]:
    """pytest's default ids for `source`, read without running it: module-level `test*`
    functions and `test*` methods of `Test*` classes and unittest TestCases."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    ids = []
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, functions) and node.name.startswith("test"):
            ids.append(f"{rel}::{node.name}")
        elif isinstance(node, ast.ClassDef) and _is_test_class(node):
            ids += [f"{rel}::{node.name}::{item.name}" for item in node.body
                    if isinstance(item, functions) and item.name.startswith("test")]
    return ids
