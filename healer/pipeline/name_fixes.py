"""Undefined names a model left in a Python file, fixed without asking it again.

A small model often writes `re.sub(...)` or `-> List[int]` and forgets the import, or defines
`FOUR_OF_A_KIND` and uses `Four_OF_A_KIND`: every test then fails on a NameError, and a
repair round (a model call of a minute or more on a small machine) is spent on one line.
Where the fix is certain, healer makes it itself, as the file is written, and logs it:

- a standard-library module used as one (`re.sub`: `re` has a `sub`) is imported;
- a class, type or decorator of one of the modules static.KNOWN_FROM names (`List`,
  `Counter`, `Path`, `@dataclass`), as static.missing_import finds it, is imported, and with
  it the other names of that module the file lacks (`field` beside `@dataclass`);
- a name that differs only in case from exactly one name the module defines at its top
  level, or from True, False or None (`true`), is spelled as that one; so is the module's
  own name used bare (`yacht` in yacht.py beside `YACHT`: a module never imports itself).

Anything less certain (a lower-case function such as `reduce`, which may as well be a local
the model forgot to define, a module the project itself provides, a name the file binds
somewhere) is left as it is: the static gate still names the likely import or spelling for
the repair.
"""
from __future__ import annotations

import ast
import inspect
import logging
import typing
from collections.abc import Collection, Iterable
from pathlib import Path, PurePosixPath

from healer.checks.static import defined_names, missing_import, stdlib_module

log = logging.getLogger(__name__)

# the builtins a lower-case name means for certain (`true`, as other languages write it): `Max`
# for `max` is as likely a constant the model forgot to define, and is left to the repair
CONSTANTS = frozenset({"True", "False", "None"})
MAX_CHARS = 1_000_000  # a larger file is left as it is (parsing it twice is not worth it)


def fix_names(path: str, content: str, local: Collection[str] = (),
              before: str | None = None) -> str:
    """`content` of the Python file `path` with its certain undefined names fixed; unchanged
    when there are none, when it does not parse, or for a file that is no Python.
    `local`: top-level modules the project provides (never taken for stdlib); `before`: the
    file's earlier version, whose own undefined names are left alone (an edit fixes only
    what its own code lacks)."""
    if not path.endswith(".py") or len(content) > MAX_CHARS:
        return content
    try:
        tree = ast.parse(content)
        uses = _uses(tree)
        ignored = (set(local) - _own_name_used_bare(path, uses)) | (
            _undefined(ast.parse(before)) if before else set())
    except (SyntaxError, ValueError, RecursionError):
        return content
    undefined = _undefined(tree) - defined_names(tree) - ignored  # one pyflakes pass
    lines, imported = _certain_imports(tree, undefined, uses)
    if lines:
        log.info("%s: added what it used without importing: %s", path, "; ".join(lines))
        content = _insert(content, tree, lines)
        tree = ast.parse(content)
    spellings = _certain_spellings(tree, undefined - imported)
    if spellings:
        log.info("%s: spelled as defined: %s", path,
                 ", ".join(f"{a} -> {b}" for a, b in spellings.items()))
        content = _respelled(content, tree, spellings)
    return content


def local_modules(paths: Iterable[str]) -> set[str]:
    """The top-level module names a project's files provide (`pkg/a.py`, `util.py`)."""
    return {PurePosixPath(p).parts[0].removesuffix(".py") for p in paths if p}


def modules_in(root: Path) -> set[str]:
    """The top-level module names the files of the project at `root` provide."""
    try:
        return local_modules(entry.name for entry in root.iterdir())
    except OSError:
        return set()


def _own_name_used_bare(path: str, uses: dict[str, list[str | None]]) -> set[str]:
    """The name of the top-level module `path` when the module uses it, always bare (never
    `name.attr`): a module never imports itself, so that name is a slip (`yacht` in yacht.py
    beside `YACHT`), not the project's module."""
    parts = PurePosixPath(path).parts
    own = parts[0].removesuffix(".py") if len(parts) == 1 else ""
    found = uses.get(own, []) if own else []
    return {own} if found and all(attribute is None for attribute in found) else set()


def _undefined(tree: ast.Module) -> set[str]:
    """The names pyflakes finds used but never bound."""
    from pyflakes import checker

    try:
        found = checker.Checker(tree)
    except RecursionError:
        return set()
    return {m.message_args[0] for m in found.messages if type(m).__name__ == "UndefinedName"}


def _certain_imports(tree: ast.Module, undefined: set[str],
                     uses: dict[str, list[str | None]]) -> tuple[list[str], set[str]]:
    """The import lines `undefined` certainly needs (`uses`: as _uses finds them), and the
    names they bind."""
    decorators = _decorators(tree)
    modules: list[str] = []
    names: dict[str, list[str]] = {}  # module -> the names taken from it
    for name in sorted(undefined):
        line = _certain(name, uses.get(name, []), decorators)
        if line and line.startswith("import "):
            modules.append(line)
        elif line:
            names.setdefault(line.split()[1], []).append(name)
    for name in sorted(undefined):  # `field` beside `@dataclass`: the module is known now
        line = missing_import(name) or ""
        source = line.split()[1] if line.startswith("from ") else ""
        if source in names and name not in names[source]:
            names[source].append(name)
    lines = modules + [f"from {m} import {', '.join(sorted(n))}" for m, n in names.items()]
    return lines, {line.split()[1] for line in modules} | {n for ns in names.values() for n in ns}


def _certain_spellings(tree: ast.Module, undefined: set[str]) -> dict[str, str]:
    """Each of `undefined` that differs only in case from exactly one top-level name of the
    module (or True, False, None), with that name."""
    known = _top_level_names(tree) | CONSTANTS
    by_case: dict[str, list[str]] = {}
    for name in known:
        by_case.setdefault(name.lower(), []).append(name)
    spellings = {}
    for name in undefined:
        same = [other for other in by_case.get(name.lower(), []) if other != name]
        if len(same) == 1:
            spellings[name] = same[0]
    return spellings


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
    return names


def _respelled(content: str, tree: ast.Module, spellings: dict[str, str]) -> str:
    """`content` with every loaded name of `spellings` written as its value (AST offsets
    count UTF-8 bytes)."""
    lines = content.splitlines(keepends=True)
    at: dict[int, list[ast.Name]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in spellings and node.end_col_offset is not None:
            at.setdefault(node.lineno - 1, []).append(node)
    for index, nodes in at.items():
        raw = lines[index].encode("utf-8")
        for node in sorted(nodes, key=lambda n: -n.col_offset):
            end = typing.cast(int, node.end_col_offset)
            raw = raw[:node.col_offset] + spellings[node.id].encode("utf-8") + raw[end:]
        lines[index] = raw.decode("utf-8")
    return "".join(lines)


def _certain(name: str, attributes: list[str | None], decorators: set[str]) -> str | None:
    """The import of `name` when its uses leave no doubt, else None."""
    line = missing_import(name)
    if line is None:
        return None
    if line == f"import {name}":  # a module: used only as one, with attributes it has
        module = stdlib_module(name)
        used = [a for a in attributes if a is not None]
        ok = module is not None and used and len(used) == len(attributes) \
            and all(hasattr(module, a) for a in used)
        return line if ok else None
    source = line.split()[1]
    value = getattr(stdlib_module(source), name, None)
    kind = inspect.isclass(value) or source == "typing" and name[:1].isupper()
    return line if kind or name in decorators else None


def _uses(tree: ast.AST) -> dict[str, list[str | None]]:
    """Each loaded name: the attribute read from it at each use (None: used bare)."""
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    uses: dict[str, list[str | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            parent = parents.get(id(node))
            attribute = parent.attr if isinstance(parent, ast.Attribute) else None
            uses.setdefault(node.id, []).append(attribute)
    return uses


def _decorators(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Name):
                    names.add(target.id)
    return names


def _insert(content: str, tree: ast.Module, lines: list[str]) -> str:
    """`lines` after the module's docstring, `from __future__` imports and leading imports."""
    after = 0  # the number of source lines they go after
    for index, node in enumerate(tree.body):
        docstring = index == 0 and isinstance(node, ast.Expr) \
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        if not (docstring or isinstance(node, ast.Import | ast.ImportFrom)):
            break
        after = typing.cast(int, node.end_lineno)
    source = content.splitlines(keepends=True)
    if not after:  # no docstring nor import: past a shebang, an encoding line or a comment
        while after < len(source) and source[after].startswith("#"):
            after += 1
    head, tail = source[:after], source[after:]
    if head and not head[-1].endswith("\n"):
        head[-1] += "\n"
    block = [f"{line}\n" for line in lines]
    if tail and tail[0].strip() and not tail[0].startswith(("import ", "from ")):
        block.append("\n")
    return "".join(head + block + tail)
