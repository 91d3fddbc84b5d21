"""What the spec itself states, checked: the names and signatures it gives, the entry points
it runs, and the shell sessions it shows with their output.

Model-written tests agree with the model's own mistakes; these checks come from the user's
words, so they hold even when a spec has no acceptance tests.
- `spec-names` (static): every signature the spec gives inline (`name(x: int) -> str`, typed
  so that it is not an example call), and every `def`/`class` of its code blocks, is defined
  in the project's Python code, a stub function with as many positional parameters; every
  `python X.py` it names exists.
- `spec-examples` (sandbox): every `$ command` line of a code block runs, and prints the
  lines that follow it (when there are any) before the next prompt.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass
from pathlib import Path

from healer.checks.commands import output_of, run_failure
from healer.checks.static import defined_names, parse_python
from healer.models import CheckResult, Failure
from healer.sandbox.base import Sandbox

NAMES, EXAMPLES = "spec-names", "spec-examples"
_FENCE = re.compile(r"^\s*(```|~~~)")
_SIGNATURE = re.compile(r"^([A-Za-z_]\w*)\((.*)\)\s*(->.*)?$")
_DEFINITION = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)")
_INLINE = re.compile(r"`([^`\n]+)`")
_ENTRY = re.compile(r"^(?:\$\s*)?python3?\s+([\w./-]+\.py)\b")
_PROMPT = re.compile(r"^\s*\$\s+(.+)$")
MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Example:
    command: str
    expected: tuple[str, ...] | None  # None: the spec shows no output, only the exit status counts


def _code_blocks(markdown: str) -> list[list[str]]:
    blocks, current = [], None
    for line in markdown.splitlines():
        if _FENCE.match(line):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _prose(markdown: str) -> str:
    kept, inside = [], False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            inside = not inside
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def stated_names(markdown: str) -> list[str]:
    """Names the spec gives as signatures (`count_words(text)`) or defines in code blocks."""
    names = []
    for span in _INLINE.findall(_prose(markdown)):
        match = _SIGNATURE.match(span.strip())
        if match and (":" in match.group(2) or match.group(3)):  # typed: a signature, not a call
            names.append(match.group(1))
    for block in _code_blocks(markdown):
        names += [name for name, _ in _stub_names("\n".join(block))]
    return _kept(names)


def stated_top_level_names(markdown: str) -> list[str]:
    """The names of `stated_names` that the spec's code blocks declare at the top level of a
    module (stub functions and classes, not their methods): what `from module import name`
    must find."""
    names = [name for block in _code_blocks(markdown)
             for name, top in _stub_names("\n".join(block)) if top]
    return _kept(names)


def _kept(names: list[str]) -> list[str]:
    skip = set(dir(builtins))
    return [n for n in dict.fromkeys(names)
            if n not in skip and not n.startswith(("test", "__"))]


def _is_stub(body: list[ast.stmt]) -> bool:
    """`pass`, `...`, a docstring or `raise NotImplementedError`: an interface, not code."""
    for node in body:
        if isinstance(node, ast.Pass):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.Raise) and "NotImplementedError" in ast.unparse(node):
            continue
        return False
    return True


def _stub_names(code: str) -> list[tuple[str, bool]]:
    """Names a code block declares as an interface, each with whether it is declared at the
    top level: its stub functions and classes, and their methods (a block of working example
    code declares nothing)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return []
    names = []
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, functions) and _is_stub(node.body):
            names.append((node.name, True))
        elif isinstance(node, ast.ClassDef):
            methods = [m for m in node.body if isinstance(m, functions)]
            if all(_is_stub(m.body) for m in methods):
                names += [(node.name, True), *((m.name, False) for m in methods)]
    return names


def stated_entry_points(markdown: str) -> list[str]:
    """Scripts the spec runs with `python X.py ...`."""
    spans = _INLINE.findall(_prose(markdown))
    lines = [line.strip() for block in _code_blocks(markdown) for line in block]
    found = [m.group(1) for text in [*spans, *lines] if (m := _ENTRY.match(text.strip()))]
    return list(dict.fromkeys(found))


def stated_examples(markdown: str) -> list[Example]:
    """`$ command` lines of code blocks, each with the output lines shown after it."""
    examples = []
    for block in _code_blocks(markdown):
        command, output = None, []
        for line in [*block, "$ "]:
            prompt = _PROMPT.match(line)
            if prompt or line.strip() == "$":
                if command:
                    shown = tuple(output[:len(output) - _trailing_blanks(output)])
                    examples.append(Example(command, shown or None))
                command, output = (prompt.group(1).strip() if prompt else None), []
            elif command is not None:
                output.append(line.rstrip())
    return examples[:MAX_EXAMPLES]


def _trailing_blanks(lines: list[str]) -> int:
    count = 0
    for line in reversed(lines):
        if line.strip():
            break
        count += 1
    return count


def _modules(project: Path, skip: set[str]) -> dict[str, ast.AST]:
    """The project's Python modules that parse (within the host-side checks' size cap), by
    path, but those in `skip`."""
    trees, _ = parse_python(project)
    return {rel: tree for path, tree in trees.items()
            if (rel := path.relative_to(project).as_posix()) not in skip}


def _top_level_names(tree: ast.AST) -> set[str]:
    """The names a module binds outside its functions and classes (`try`, `if` and `with`
    blocks included): those `from module import name` finds."""
    names: set[str] = set()
    pending: list[ast.stmt] = list(getattr(tree, "body", []))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                pending.append(child)
            elif isinstance(child, ast.excepthandler):
                pending.extend(child.body)
            else:  # assignment targets, import aliases, `with ... as` names
                names |= defined_names(child, arguments=False)
    return names


def _nested_definition(modules: dict[str, ast.AST], name: str) -> tuple[str, str, int] | None:
    """Where a class or function holds a definition of `name`: (file, holder, line)."""
    holders = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for rel, tree in modules.items():
        for holder in ast.walk(tree):
            if not isinstance(holder, holders):
                continue
            for node in holder.body:
                if isinstance(node, holders) and node.name == name:
                    return rel, holder.name, node.lineno
    return None


def _is_python_spec(markdown: str) -> bool:
    return any(s.strip().endswith(".py") for s in _INLINE.findall(markdown)) or any(
        _DEFINITION.match(line) for block in _code_blocks(markdown) for line in block)


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    return [a.arg for a in [*args.posonlyargs, *args.args]]


def stub_signatures(markdown: str) -> dict[str, list[str]]:
    """Top-level stub functions of the spec's code blocks: name -> positional parameters."""
    found: dict[str, list[str]] = {}
    for block in _code_blocks(markdown):
        try:
            tree = ast.parse("\n".join(block))
        except (SyntaxError, ValueError, RecursionError):
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_stub(node.body):
                found.setdefault(node.name, _parameters(node))
    return found


def _top_level_functions(project: Path, skip: set[str]) -> dict[str, tuple[str, list[str]]]:
    found: dict[str, tuple[str, list[str]]] = {}
    for rel, tree in _modules(project, skip).items():
        for node in tree.body:  # type: ignore[attr-defined]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.setdefault(node.name, (rel, _parameters(node)))
    return found


def _signature_failures(project: Path, markdown: str, skip: set[str]) -> list[Failure]:
    """A stub the spec gives as `def rows(row_count)` must keep its number of positional
    parameters where the project defines it as a function."""
    defined = _top_level_functions(project, skip)
    failures = []
    for name, wanted in stub_signatures(markdown).items():
        if name in defined and len(defined[name][1]) != len(wanted):
            rel, got = defined[name]
            failures.append(Failure(
                check=NAMES, file=rel, message=f"the spec gives `{name}({', '.join(wanted)})`, "
                f"but {rel} defines `{name}({', '.join(got)})`"))
    return failures


def names_check(project: Path, markdown: str, *, tests: list[str] = ()) -> CheckResult:
    """The static half: stated names are defined, stated scripts exist."""
    if not markdown.strip() or not _is_python_spec(markdown):
        return CheckResult(name=NAMES, passed=True, skipped=True, detail="no Python spec")
    wanted, scripts = stated_names(markdown), stated_entry_points(markdown)
    if not wanted and not scripts:
        return CheckResult(name=NAMES, passed=True, skipped=True, detail="the spec names nothing")
    modules = _modules(project, set(tests))
    defined = {n for tree in modules.values() for n in defined_names(tree, arguments=False)}
    failures = [Failure(check=NAMES, message=f"the spec gives `{name}(...)`, which no module of "
                        "the project defines") for name in wanted if name not in defined]
    top = {n for tree in modules.values() for n in _top_level_names(tree)}
    for name in stated_top_level_names(markdown):
        nested = _nested_definition(modules, name) if name in defined and name not in top \
            else None
        if nested:
            rel, holder, line = nested
            failures.append(Failure(
                check=NAMES, file=rel, line=line, message=f"the spec gives `{name}(...)` at the "
                f"top level of a module, but the project defines it only inside `{holder}` "
                f"({rel}:{line}); define it at the top level"))
    failures += [Failure(check=NAMES, file=script, message=f"the spec runs `python {script}`, "
                         "which does not exist") for script in scripts
                 if not (project / script).is_file()]
    failures += _signature_failures(project, markdown, set(tests))
    return CheckResult(name=NAMES, passed=not failures, failures=failures,
                       detail=f"{len(wanted)} name(s), {len(scripts)} script(s)")


def _normalised(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    return lines[:len(lines) - _trailing_blanks(lines)]


def examples_check(project: Path, sandbox: Sandbox, markdown: str, *,
                   timeout: float) -> CheckResult:
    """The sandbox half: the shell sessions the spec shows, run and compared."""
    examples = stated_examples(markdown)
    if not examples:
        return CheckResult(name=EXAMPLES, passed=True, skipped=True, detail="no `$ ` examples")
    failures, duration = [], 0.0
    for example in examples:
        command = re.sub(r"^python\s", "python3 ", example.command)
        result = sandbox.run(project, command, timeout=timeout)
        duration += result.duration
        if not result.ok:
            failures.append(run_failure(EXAMPLES, example.command, result))
        elif example.expected is not None and _normalised(result.stdout) != list(example.expected):
            got = "\n".join(_normalised(result.stdout)[:20])
            want = "\n".join(example.expected[:20])
            failures.append(Failure(
                check=EXAMPLES, message=f"`{example.command}` printed other output than the spec "
                "shows", excerpt=f"expected:\n{want}\n\ngot:\n{got}\n\n{output_of(result)[-800:]}"))
    return CheckResult(name=EXAMPLES, passed=not failures, duration=duration, failures=failures,
                       detail=f"{len(examples)} example(s)")
