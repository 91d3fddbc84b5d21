"""Outlines of source files: signatures and constants with their line numbers (Python from its
syntax tree, JavaScript and TypeScript declarations by pattern, the first lines of anything
else), for the files a prompt cannot show in full.
"""

from __future__ import annotations

import ast
import re

OTHER_OUTLINE_LINES = 8
OUTLINE_LINE_CHARS = 120
JS_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx")
_JS_DECLARATION = re.compile(
    r"^\s*(?:export\s+(?:default\s+)?)?(?:"
    r"(?:async\s+)?function\b|class\b|"
    r"(?:const|let|var)\s+[\w$]+\s*=\s*(?:async\s*)?(?:function\b|\([^)]*\)\s*=>|[\w$]+\s*=>)"
    r")"
)


def outline(path: str, text: str) -> str:
    """A short, line-numbered summary of a file: signatures for code, first lines otherwise."""
    if path.endswith(".py"):
        lines = _python_outline(text)
    elif path.endswith(JS_SUFFIXES):
        lines = _matching_lines(text, _JS_DECLARATION)
    else:
        lines = _first_lines(text)
    return "".join(f"{number:>5}: {line[:OUTLINE_LINE_CHARS]}\n" for number, line in lines)


def _python_outline(text: str) -> list[tuple[int, str]]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return _matching_lines(text, re.compile(r"^\s*(?:async\s+def|def|class)\b"))
    entries: list[tuple[int, str]] = []
    doc = ast.get_docstring(tree)
    if doc and doc.strip():
        entries.append((1, f'"""{doc.strip().splitlines()[0]}"""'))
    entries += _python_signatures(tree.body, "")
    return entries


def _python_signatures(body: list[ast.stmt], indent: str) -> list[tuple[int, str]]:
    entries: list[tuple[int, str]] = []
    for node in body:
        if isinstance(node, ast.ClassDef):
            bases = ", ".join(ast.unparse(b) for b in (*node.bases, *node.keywords))
            entries.append(
                (node.lineno, f"{indent}class {node.name}" + (f"({bases}):" if bases else ":"))
            )
            entries += _python_signatures(node.body, indent + "    ")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            entries.append((node.lineno, indent + _def_signature(node)))
        elif not indent and isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
            if names:
                entries.append((node.lineno, " = ".join(names) + " = ..."))
    return entries


def _def_signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    keyword = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{keyword} {node.name}({ast.unparse(node.args)}){returns}:"


def _matching_lines(text: str, pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    return [
        (number, line.rstrip())
        for number, line in enumerate(text.splitlines(), 1)
        if pattern.match(line)
    ]


def _first_lines(text: str) -> list[tuple[int, str]]:
    lines = text.splitlines()
    shown = [(n, line.rstrip()) for n, line in enumerate(lines[:OTHER_OUTLINE_LINES], 1)]
    if len(lines) > OTHER_OUTLINE_LINES:
        shown.append((OTHER_OUTLINE_LINES + 1, "..."))
    return shown
