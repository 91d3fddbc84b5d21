"""The static gate: checks that read the project on the host and never execute its code."""

from __future__ import annotations

import ast
import builtins
import contextlib
import difflib
import functools
import importlib
import importlib.util
import io
import json
import logging
import sys
import sysconfig
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

from healer.checks.imports import imported_modules, provided_modules
from healer.hostread import MAX_BYTES as MAX_SOURCE_BYTES
from healer.hostread import read_source
from healer.models import CheckResult, Failure
from healer.sandbox.project import EXCLUDED
from healer.stacks.python import declared_dependencies

log = logging.getLogger(__name__)

UNDEFINED_MESSAGES = ("UndefinedName", "UndefinedLocal", "UndefinedExport")
# standard-library modules whose import does something (opens a browser, prints, starts a GUI)
NOT_IMPORTED = frozenset({"antigravity", "this", "idlelib", "turtle", "turtledemo", "tkinter",
                          "pydoc_data"})




def project_files(project: Path, suffix: str) -> Iterator[Path]:
    """The project's regular files ending in `suffix`: never a symlink (it could point anywhere
    on the host, and an excerpt of it would reach the model), never a FIFO or device."""
    for path in sorted(project.rglob(f"*{suffix}")):
        rel = path.relative_to(project)
        if path.is_symlink() or not path.is_file():
            continue
        if not any(part in EXCLUDED for part in rel.parts):
            yield path


def _rel(project: Path, path: Path) -> str:
    return path.relative_to(project).as_posix()


def _source_lines(text: str, line: int | None, around: int = 2) -> str:
    if not line:
        return ""
    lines = text.splitlines()
    start, end = max(0, line - 1 - around), min(len(lines), line + around)
    return "\n".join(f"{n + 1:>5} | {lines[n]}" for n in range(start, end))


def parse_python(project: Path) -> tuple[dict[Path, ast.AST], list[Failure]]:
    """Parse every Python file; syntax errors become failures with file and line."""
    trees: dict[Path, ast.AST] = {}
    failures = []
    for path in project_files(project, ".py"):
        if path.stat().st_size > MAX_SOURCE_BYTES:
            failures.append(Failure(check="syntax", file=_rel(project, path), message=(
                f"the file is larger than {MAX_SOURCE_BYTES // 1_000_000} MB; healer does not "
                "check files that large: split it, or keep data out of source files")))
            continue
        text = read_source(path)
        try:
            trees[path] = ast.parse(text, filename=str(path))
        except (RecursionError, MemoryError):
            failures.append(Failure(check="syntax", file=_rel(project, path), message=(
                "the file is nested too deeply to parse (an expression or block hundreds of "
                "levels deep); flatten it")))
        except ValueError as exc:  # null bytes
            failures.append(Failure(check="syntax", file=_rel(project, path),
                                    message=f"the file cannot be parsed: {exc}"))
        except SyntaxError as exc:
            failures.append(Failure(
                check="syntax",
                message=f"SyntaxError: {exc.msg}",
                file=_rel(project, path),
                line=exc.lineno,
                excerpt=_source_lines(text, exc.lineno),
            ))
    return trees, failures


def undefined_names(project: Path, trees: dict[Path, ast.AST]) -> list[Failure] | None:
    """Names used but never defined (pyflakes); None when pyflakes is not installed."""
    try:
        from pyflakes import checker
    except ImportError:
        return None
    failures = []
    for path, tree in trees.items():
        try:
            result = checker.Checker(tree, filename=str(path))
        except RecursionError:
            continue  # parsed, but too deep for pyflakes: the sandbox checks still run it
        for message in result.messages:
            if type(message).__name__ not in UNDEFINED_MESSAGES:
                continue
            text = read_source(path)
            said = message.message % message.message_args
            if type(message).__name__ == "UndefinedName":
                said += _guess(message.message_args[0], tree)
            failures.append(Failure(
                check="undefined-names",
                message=said,
                file=_rel(project, path),
                line=message.lineno,
                excerpt=_source_lines(text, message.lineno),
            ))
    return failures


# where a name a module uses without importing it most often comes from
KNOWN_FROM = ("collections", "typing", "collections.abc", "dataclasses", "pathlib", "datetime",
              "enum", "functools", "itertools", "math", "decimal", "fractions")


def _guess(name: str, tree: ast.AST) -> str:
    """What an undefined `name` likely is: an import left out, else a misspelling."""
    wanted = missing_import(name)
    if wanted:
        return f" (not imported? `{wanted}`)"
    close = close_name(name, tree)
    return f" (did you mean {close!r}?)" if close else ""


def missing_import(name: str) -> str | None:
    """The import that provides `name` when it is a standard-library module, or a public
    name of one of the modules in KNOWN_FROM: `from typing import Any`."""
    if name in sys.stdlib_module_names:
        return f"import {name}"
    return next((f"from {module} import {name}" for module in KNOWN_FROM
                 if name in _public(module)), None)


@functools.cache
def _public(module_name: str) -> frozenset[str]:
    module = stdlib_module(module_name)
    if module is None:
        return frozenset()
    return frozenset(getattr(module, "__all__", None)
                     or (n for n in vars(module) if not n.startswith("_")))


def stdlib_module(name: str) -> ModuleType | None:
    """The standard library's module `name` (`re`, `collections.abc`), imported quietly on
    the host; None for another module, one this platform lacks, or one whose import does
    something (NOT_IMPORTED). A module of the same name that a folder puts first on
    sys.path (`python -m healer debug` run inside it) is never imported."""
    top = name.split(".")[0]
    if top in NOT_IMPORTED or top.startswith("_") or top not in sys.stdlib_module_names:
        return None
    if name in sys.modules:
        return sys.modules[name]
    if not _in_stdlib(name):
        return None
    try:
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - whatever keeps it from importing, it is not there
        return None


def _in_stdlib(name: str) -> bool:
    """Whether importing `name` would load the standard library's own module."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.origin is None:
        return False
    if spec.origin in ("built-in", "frozen"):
        return True
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    return Path(spec.origin).resolve().is_relative_to(stdlib)


def close_name(name: str, tree: ast.AST) -> str | None:
    """A name the file defines (or a builtin) that `name` likely misspells, as Python's own
    NameError suggests: one that differs only in case, else a near-identical one."""
    known = sorted((defined_names(tree) | set(dir(builtins))) - {name})
    same = [other for other in known if other.lower() == name.lower()]
    if same:
        return same[0]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    return close[0] if close else None


def defined_names(tree: ast.AST, *, arguments: bool = True) -> set[str]:
    """Every name `tree` binds anywhere: functions, classes, assignments, imports and (with
    `arguments`) the names only a function or an except clause binds."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif arguments and isinstance(node, ast.arg):
            names.add(node.arg)
        elif arguments and isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def unavailable_imports(project: Path, trees: dict[Path, ast.AST]) -> list[Failure]:
    """Imports nothing provides: not the project, not the stdlib, not a declared dependency."""
    provided = provided_modules(project, declared_dependencies(project))
    failures = []
    for path, tree in trees.items():
        for module, line in imported_modules(tree):
            if module in provided:
                continue
            failures.append(Failure(
                check="imports",
                message=(
                    f"module {module!r} is imported but neither the project, the standard "
                    "library nor a declared dependency provides it (declare it in "
                    "requirements.txt or pyproject.toml, or do not use it)"
                ),
                file=_rel(project, path),
                line=line,
                excerpt=_source_lines(read_source(path), line, around=0),
            ))
    return failures


def invalid_json(project: Path) -> list[Failure]:
    failures = []
    for path in project_files(project, ".json"):
        text = read_source(path)
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            failures.append(Failure(
                check="json",
                message=f"invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})",
                file=_rel(project, path),
                line=exc.lineno,
                excerpt=_source_lines(text, exc.lineno),
            ))
    return failures


def _result(name: str, started: float, failures: list[Failure] | None, count: int) -> CheckResult:
    if failures is None:
        return CheckResult(name=name, passed=True, skipped=True, detail="pyflakes is not installed")
    return CheckResult(
        name=name,
        passed=not failures,
        failures=failures,
        skipped=count == 0,
        duration=time.monotonic() - started,
        detail=f"{count} file(s)",
    )


def static_checks(project: Path) -> list[CheckResult]:
    """Syntax, undefined names, unavailable imports and JSON validity, in that order."""
    started = time.monotonic()
    trees, syntax = parse_python(project)
    python_count = len(trees) + len(syntax)
    results = [_result("syntax", started, syntax, python_count)]
    steps: list[tuple[str, Callable[[], list[Failure] | None]]] = [
        ("undefined-names", lambda: undefined_names(project, trees)),
        ("imports", lambda: unavailable_imports(project, trees)),
    ]
    for name, step in steps:
        started = time.monotonic()
        results.append(_result(name, started, step(), python_count))
    started = time.monotonic()
    json_count = sum(1 for _ in project_files(project, ".json"))
    results.append(_result("json", started, invalid_json(project), json_count))
    return results
