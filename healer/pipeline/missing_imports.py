"""Imports a model left out of a Python file, added without asking it again.

A small model often writes `re.sub(...)` or `-> List[int]` and forgets the import: every test
then fails on a NameError, and a repair round (a model call of a minute or more on a small
machine) is spent on one line. Where the fix is certain, healer writes that line itself, as
the file is written, and logs it:

- a standard-library module used as one (`re.sub`: `re` has a `sub`), and
- a class, type or decorator of one of the modules static.KNOWN_FROM names (`List`,
  `Counter`, `Path`, `@dataclass`), as static.missing_import finds it.

Anything less certain (a lower-case function such as `reduce` or `field`, which may as well
be a local the model forgot to define, a module the project itself provides, a name the file
binds somewhere) is left as it is: the static gate still names the likely import for the
repair.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import io
import logging
import sys
import typing
import warnings
from collections.abc import Collection, Iterable
from pathlib import Path, PurePosixPath

from healer.checks.static import defined_names, missing_import

log = logging.getLogger(__name__)

MAX_CHARS = 1_000_000  # a larger file is left as it is (parsing it twice is not worth it)
# standard-library modules whose import does something (opens a browser, prints, starts a GUI)
NOT_IMPORTED = frozenset({"antigravity", "this", "idlelib", "turtle", "turtledemo", "tkinter",
                          "__hello__", "__phello__", "pydoc_data"})


def add_missing_imports(path: str, content: str, local: Collection[str] = (),
                        before: str | None = None) -> str:
    """`content` of the Python file `path` with the imports it certainly lacks added after
    its docstring and leading imports; unchanged when it lacks none, does not parse, or is no
    Python file. `local`: top-level modules the project provides (never taken for stdlib);
    `before`: the file's earlier version, whose own undefined names are left alone (an edit
    adds only the imports its own code needs)."""
    if not path.endswith(".py") or len(content) > MAX_CHARS:
        return content
    try:
        tree = ast.parse(content)
        earlier = _undefined(ast.parse(before)) if before else set()
    except (SyntaxError, ValueError, RecursionError):
        return content
    lines = _certain_imports(tree, set(local) | earlier)
    if not lines:
        return content
    log.info("%s: added what it used without importing: %s", path, "; ".join(lines))
    return _insert(content, tree, lines)


def local_modules(paths: Iterable[str]) -> set[str]:
    """The top-level module names a project's files provide (`pkg/a.py`, `util.py`)."""
    return {PurePosixPath(p).parts[0].removesuffix(".py") for p in paths if p}


def modules_in(root: Path) -> set[str]:
    """The top-level module names the files of the project at `root` provide."""
    try:
        return local_modules(entry.name for entry in root.iterdir())
    except OSError:
        return set()


def _undefined(tree: ast.Module) -> set[str]:
    """The names pyflakes finds used but never bound."""
    from pyflakes import checker

    try:
        found = checker.Checker(tree)
    except RecursionError:
        return set()
    return {m.message_args[0] for m in found.messages if type(m).__name__ == "UndefinedName"}


def _certain_imports(tree: ast.Module, ignored: set[str]) -> list[str]:
    undefined = _undefined(tree) - defined_names(tree) - ignored
    uses, decorators = _uses(tree), _decorators(tree)
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
    return modules + [f"from {m} import {', '.join(sorted(n))}" for m, n in names.items()]


def _certain(name: str, attributes: list[str | None], decorators: set[str]) -> str | None:
    """The import of `name` when its uses leave no doubt, else None."""
    line = missing_import(name)
    if line is None:
        return None
    if line == f"import {name}":  # a module: used only as one, with attributes it has
        module = _stdlib(name)
        used = [a for a in attributes if a is not None]
        ok = module is not None and used and len(used) == len(attributes) \
            and all(hasattr(module, a) for a in used)
        return line if ok else None
    source = line.split()[1]
    value = getattr(importlib.import_module(source), name, None)
    kind = inspect.isclass(value) or source == "typing" and name[:1].isupper()
    return line if kind or name in decorators else None


def _stdlib(name: str) -> object | None:
    if name in NOT_IMPORTED or name.startswith("_") or name not in sys.stdlib_module_names:
        return None
    if name in sys.modules:
        return sys.modules[name]
    try:
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a module this platform lacks is no certain import
        return None


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
