"""The import statements of Python source: one parser for every part of healer that asks
what a module imports (the static import check, the file layout the tests expect, the
codebase ranking)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Import:
    module: str  # "a.b" of `import a.b` / `from a.b import c`; "" for `from . import c`
    names: tuple[str, ...]  # what `from ... import` names; () for `import a.b`
    level: int  # leading dots of a relative import; 0 for an absolute one
    line: int
    node: ast.Import | ast.ImportFrom

    @property
    def top(self) -> str:
        """The top-level module of an absolute import ("" for a relative one)."""
        return "" if self.level else self.module.split(".")[0]


def imports(tree: ast.AST) -> Iterator[Import]:
    """Every import statement of a parsed module, one record per imported module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, (), 0, node.lineno, node)
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            yield Import(node.module or "", names, node.level, node.lineno, node)


def parsed_imports(text: str) -> list[Import]:
    """The imports of Python source text; [] when it does not parse."""
    try:
        return list(imports(ast.parse(text)))
    except (SyntaxError, ValueError):
        return []
