"""The codebase as the debugger sees it, bounded by the model's context budget.

Every text source file of the project is included in full when they all fit. When they do
not, files are ranked by evidence and the best ranked are shown in full, the rest as outlines
(signatures with line numbers) and, when even outlines do not fit, by name only.

The files come from codebase, their ranks from ranking, outlines from outline.

Tokens are estimated as characters / 4, rounded up: crude, tokenizer-free, and close enough
for source code with the tokenizers in common use.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from pathlib import Path

from pydantic import Field

from healer.llm.accounting import estimate_tokens
from healer.models import Failure, Value
from healer.pipeline.codebase import SourceFile, collect_files, fence_language
from healer.pipeline.ranking import RANK_EVIDENCE, RANK_REST, rank_files

log = logging.getLogger(__name__)



class CodebaseContext(Value):
    """The rendered codebase and which files went in at which level of detail."""

    text: str
    full: list[str]
    outlined: list[str]
    omitted: list[str]
    skipped: list[str] = Field(default_factory=list)  # binary, lock or oversized files: never shown
    tokens: int = 0  # estimated tokens of `text`
    lines: dict[str, int] = Field(default_factory=dict)  # lines of every file read, shown or not


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
    # ranked beside the files it leaves out: a failing test shown elsewhere (the spec shows
    # the acceptance tests) still makes the modules it imports the first files to look at
    ranks = rank_files(files, failures, plan_text=plan_text)
    files = {path: f for path, f in files.items() if path not in exclude}
    ordered = sorted(files.values(), key=lambda f: (ranks[f.path], _hidden(f.path), f.path))
    levels = _choose_levels(ordered, ranks, budget_tokens)
    text = _render(ordered, levels)
    context = CodebaseContext(
        text=text,
        full=[f.path for f in ordered if levels[f.path] == "full"],
        outlined=[f.path for f in ordered if levels[f.path] == "outline"],
        omitted=[f.path for f in ordered if levels[f.path] == "name"],
        skipped=skipped,
        tokens=estimate_tokens(text),
        lines={f.path: len(f.text.splitlines()) for f in ordered},
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


def _hidden(path: str) -> bool:
    """A dotfile (`.gitignore`): after the project's other files of the same rank."""
    return any(part.startswith(".") for part in path.split("/"))


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
    return fence_language(path)

