"""The codebase as the debugger sees it, bounded by the model's context budget.

Every text source file of the project is included in full when they all fit. When they do
not, files are ranked by evidence and the best ranked are shown in full, the rest as outlines
(signatures with line numbers) and, when even outlines do not fit, by name only.

Ranking, best first:
  0. files named by a failure (its file field, or a path in its message or log excerpt such
     as a traceback frame);
  1. files that import, or are imported by, the files of rank 0;
  2. files named in the plan;
  3. tests that mention a file of rank 0;
  4. everything else.

Tokens are estimated as characters / 4, rounded up: crude, tokenizer-free, and close enough
for source code with the tokenizers in common use.
"""

from __future__ import annotations

import ast
import logging
import posixpath
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from healer.llm.accounting import estimate_tokens
from healer.models import Failure, Value
from healer.secrets import is_secret_like

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 200 * 1024
SKIPPED_DIRS = {
    ".git",
    ".healer",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    ".cache",
}
LOCK_FILES = {
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "Pipfile.lock",
    "Cargo.lock",
    "composer.lock",
    "uv.lock",
    "Gemfile.lock",
    "npm-shrinkwrap.json",
}
OTHER_OUTLINE_LINES = 8
OUTLINE_LINE_CHARS = 120

RANK_EVIDENCE, RANK_NEIGHBOUR, RANK_PLAN, RANK_TEST, RANK_REST = range(5)

_LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "jsx",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".json": "json",
    ".html": "html",
    ".css": "css",
    ".md": "markdown",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".sh": "bash",
    ".txt": "text",
    ".cfg": "ini",
    ".ini": "ini",
    ".sql": "sql",
}
_JS_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx")
_JS_DECLARATION = re.compile(
    r"^\s*(?:export\s+(?:default\s+)?)?(?:"
    r"(?:async\s+)?function\b|class\b|"
    r"(?:const|let|var)\s+[\w$]+\s*=\s*(?:async\s*)?(?:function\b|\([^)]*\)\s*=>|[\w$]+\s*=>)"
    r")"
)
_QUOTED = re.compile(r"""["'`]([^"'`\s]{1,200})["'`]""")


class CodebaseContext(Value):
    """The rendered codebase and which files went in at which level of detail."""

    text: str
    full: list[str]
    outlined: list[str]
    omitted: list[str]
    skipped: list[str] = Field(default_factory=list)  # binary, lock or oversized files: never shown
    tokens: int = 0  # estimated tokens of `text`


def build_context(
    root: Path,
    failures: list[Failure],
    *,
    budget_tokens: int,
    plan_text: str = "",
    exclude: Collection[str] = (),
) -> CodebaseContext:
    """The project under `root` rendered as Markdown within `budget_tokens` (estimated);
    `exclude` leaves files out entirely."""
    files, skipped = collect_files(root)
    files = {path: f for path, f in files.items() if path not in exclude}
    ranks = rank_files(files, failures, plan_text=plan_text)
    ordered = sorted(files.values(), key=lambda f: (ranks[f.path], f.path))
    levels = _choose_levels(ordered, ranks, budget_tokens)
    text = _render(ordered, levels)
    context = CodebaseContext(
        text=text,
        full=[f.path for f in ordered if levels[f.path] == "full"],
        outlined=[f.path for f in ordered if levels[f.path] == "outline"],
        omitted=[f.path for f in ordered if levels[f.path] == "name"],
        skipped=skipped,
        tokens=estimate_tokens(text),
    )
    log.info(
        "codebase context: %d full, %d outlined, %d by name, ~%d of %d tokens",
        len(context.full),
        len(context.outlined),
        len(context.omitted),
        context.tokens,
        budget_tokens,
    )
    return context


# ---------------------------------------------------------------- collecting files


@dataclass
class SourceFile:
    path: str  # relative POSIX path
    text: str
    _outline: str | None = field(default=None, repr=False)

    @property
    def outline(self) -> str:
        if self._outline is None:
            self._outline = outline(self.path, self.text)
        return self._outline


def collect_files(root: Path) -> tuple[dict[str, SourceFile], list[str]]:
    """Text source files under `root` by relative path, and the files left out as non-source."""
    files: dict[str, SourceFile] = {}
    skipped: list[str] = []
    for path in _walk(root):
        rel = path.relative_to(root).as_posix()
        text = _read_source(path)
        if text is None:
            skipped.append(rel)
        else:
            files[rel] = SourceFile(rel, text)
    return files, skipped


def _walk(directory: Path) -> Iterable[Path]:
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.is_symlink():
            continue
        if entry.is_dir():
            if entry.name not in SKIPPED_DIRS:
                yield from _walk(entry)
        elif entry.is_file():
            yield entry


def _read_source(path: Path) -> str | None:
    """The file's text, or None for lock files, binaries and files over the size limit."""
    if path.name in LOCK_FILES or path.suffix == ".lock" or is_secret_like(path.name):
        return None
    if path.stat().st_size > MAX_FILE_BYTES:
        return None
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None


# ---------------------------------------------------------------- ranking


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
        elif _is_test(p) and _mentions_any(files[p].text, evidence):
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


def _is_test(path: str) -> bool:
    name = posixpath.basename(path)
    return (
        name.startswith("test_")
        or posixpath.splitext(name)[0].endswith("_test")
        or ".test." in name
        or ".spec." in name
        or path.startswith(("tests/", "test/", "__tests__/"))
        or "/tests/" in path
    )


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
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return set()
    package = posixpath.dirname(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found |= _module_files(alias.name.replace(".", "/"), paths)
        elif isinstance(node, ast.ImportFrom):
            base = (node.module or "").replace(".", "/")
            if node.level:
                parent = package
                for _ in range(node.level - 1):
                    parent = posixpath.dirname(parent)
                base = posixpath.join(parent, base) if base else parent
                found |= _module_files(base, paths, anchored=True)
            else:
                found |= _module_files(base, paths)
            for alias in node.names:
                found |= _module_files(posixpath.join(base, alias.name), paths, node.level > 0)
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
            for candidate in (base, *(base + s for s in _JS_SUFFIXES), base + "/index.js"):
                if candidate in paths:
                    found.add(candidate)
    return found


# ---------------------------------------------------------------- choosing detail


def _choose_levels(files: list[SourceFile], ranks: dict[str, int], budget: int) -> dict[str, str]:
    """ "full", "outline" or "name" for each file (given best ranked first).

    Files go in full in rank order when they fit beside what the files after them are
    guaranteed: evidence files only guarantee the others their names; other ranked files
    guarantee outlines to the ranked files after them; unranked files guarantee outlines to
    every file after them. What is left then buys outlines, again in rank order.
    """
    full_cost = {f.path: estimate_tokens(_full_section(f)) for f in files}
    if sum(full_cost.values()) + _frame_cost(len(files)) <= budget:
        return {f.path: "full" for f in files}
    outline_cost = {f.path: estimate_tokens(_outline_section(f)) for f in files}
    name_cost = {f.path: estimate_tokens(_name_line(f.path)) for f in files}

    def guaranteed(chooser: SourceFile, other: SourceFile) -> int:
        mine, theirs = ranks[chooser.path], ranks[other.path]
        outlined = mine != RANK_EVIDENCE and (mine == RANK_REST or theirs < RANK_REST)
        return outline_cost[other.path] if outlined else name_cost[other.path]

    levels = {f.path: "name" for f in files}
    left = budget - _frame_cost(len(files))
    for i, f in enumerate(files):
        reserve = sum(guaranteed(f, g) for g in files[i + 1 :])
        if full_cost[f.path] + reserve <= left:
            levels[f.path] = "full"
            left -= full_cost[f.path]
    left -= sum(name_cost[f.path] for f in files if levels[f.path] == "name")
    for f in files:
        extra = outline_cost[f.path] - name_cost[f.path]
        if levels[f.path] == "name" and extra <= left:
            levels[f.path] = "outline"
            left -= extra
    return levels


def _frame_cost(count: int) -> int:
    return estimate_tokens(_heading("full") + _heading("outline") + _heading("name")) + count


# ---------------------------------------------------------------- rendering


def _render(files: list[SourceFile], levels: dict[str, str]) -> str:
    parts: list[str] = []
    for level, render in (("full", _full_section), ("outline", _outline_section)):
        chosen = [f for f in files if levels[f.path] == level]
        if chosen:
            parts.append(_heading(level) + "".join(render(f) for f in chosen))
    names = [f.path for f in files if levels[f.path] == "name"]
    if names:
        parts.append(_heading("name") + "".join(_name_line(n) for n in names))
    return "".join(parts)


def _heading(level: str) -> str:
    return {
        "full": "## Files (full text)\n\n",
        "outline": "## Files (outline only: line numbers for orientation, not to quote)\n\n",
        "name": "## Other files (names only)\n\n",
    }[level]


def _full_section(f: SourceFile) -> str:
    return _fenced(f.path, f.text, _language(f.path))


def _outline_section(f: SourceFile) -> str:
    total = f.text.count("\n") + (0 if f.text.endswith("\n") else 1)
    return _fenced(f"{f.path} (outline of {total} lines)", f.outline, "")


def _name_line(path: str) -> str:
    return f"- {path}\n"


def _fenced(header: str, body: str, language: str) -> str:
    longest = max((len(m) for m in re.findall(r"^\s*(`{3,})", body, re.MULTILINE)), default=2)
    fence = "`" * max(3, longest + 1)
    if body and not body.endswith("\n"):
        body += "\n"
    return f"{header}\n{fence}{language}\n{body}{fence}\n\n"


def _language(path: str) -> str:
    return _LANGUAGES.get(posixpath.splitext(path)[1].lower(), "")


# ---------------------------------------------------------------- outlines


def outline(path: str, text: str) -> str:
    """A short, line-numbered summary of a file: signatures for code, first lines otherwise."""
    if path.endswith(".py"):
        lines = _python_outline(text)
    elif path.endswith(_JS_SUFFIXES):
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
