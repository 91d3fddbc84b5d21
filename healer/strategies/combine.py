"""Evidence across candidates: two versions that pass different acceptance tests, merged.

When one version of the code (a candidate or a round) passes tests that the best one fails,
a `combine` candidate merges the two. First, with no model call, it checks *splices*: the best
version with one top-level function or class of the other put in (or one method of a class
both define), with the helpers and imports that version has and the best one lacks; one that
passes more tests than the best is the candidate. When none does, it shows the model the best
version whole and, of the other, the parts that differ (for Python, the top-level functions
and classes whose source differs), names the tests only the other passes, and asks for the
file that passes both. It is one candidate of a repair round (see `portfolio`), checked and
ranked like the others, so a merge that passes fewer tests is simply not kept. Off unless
`combine = true`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from healer.models import CheckResult, Failure, GeneratedFile, Plan, Round, Spec, verdict
from healer.paths import confined
from healer.pipeline.answer_size import rewrite_limit, whole_file
from healer.pipeline.codebase import fence_language
from healer.pipeline.context import build_context
from healer.pipeline.debug import protected_note
from healer.pipeline.failures import implicated_files
from healer.pipeline.fences import file_from_answer
from healer.pipeline.messages import chat
from healer.pipeline.name_fixes import modules_in
from healer.spec import acceptance_files, prompt_text
from healer.strategies.variety import implementation, write_files

if TYPE_CHECKING:
    from healer.llm.client import LLMClient
    from healer.pipeline.policy import EditPolicy
    from healer.workspace import Workspace

STAGE = "combine"
SHOWN_TESTS = 12  # test ids named in the prompt
MAX_FILES = 2  # files merged by one candidate
MAX_SPLICES = 8  # splices checked before the model is asked (each is one sandbox check)


@dataclass(frozen=True)
class Version:
    """Code the build has checked: where it is committed and which acceptance tests it passed."""

    commit: str
    passed: frozenset[str]
    label: str


def versions(rounds: list[Round]) -> list[Version]:
    """Every checked version of the build: each round's candidates, or the round itself."""
    found = []
    for rnd in rounds:
        if rnd.candidates:
            found += [_version(c.commit, c.passed_tests, c.tests_passed, c.branch)
                      for c in rnd.candidates if c.status == "checked"]
        else:
            found.append(version_of(rnd))
    return [v for v in found if v is not None]


def version_of(rnd: Round) -> Version | None:
    check = rnd.acceptance
    if check is None:
        return None
    return _version(rnd.commit, check.passed_tests, check.tests_passed, f"round {rnd.index}")


def _version(commit: str | None, passed: list[str], count: int | None,
             label: str) -> Version | None:
    """None without a commit, or when the ids passed were not recorded (an older report)."""
    if not commit or len(passed) != (count or 0):
        return None
    return Version(commit, frozenset(passed), label)


def pair(base: Round, rounds: list[Round]) -> tuple[Version, Version] | None:
    """`base` and the version of the build that best complements it, if one does."""
    mine = version_of(base)
    other = complement(mine, versions(rounds)) if mine is not None else None
    return (mine, other) if mine is not None and other is not None else None


def complement(base: Version, pool: list[Version]) -> Version | None:
    """The version passing the most tests that `base` fails (ties: the most tests in all);
    None when no version passes a test `base` fails."""
    scored = [(len(v.passed - base.passed), len(v.passed), v) for v in pool
              if v.commit != base.commit and v.passed - base.passed]
    if not scored:
        return None
    return max(scored, key=lambda s: (s[0], s[1]))[2]


def differing_parts(path: str, mine: str, theirs: str) -> str:
    """Of `theirs`, what differs from `mine`: for Python the top-level definitions whose
    source differs or that `mine` lacks; otherwise (or when either does not parse) the whole
    file. Fenced."""
    parts = _python_parts(mine, theirs) if path.endswith(".py") else None
    fence = fence_language(path)
    if parts is None:
        return f"```{fence}\n{theirs.rstrip()}\n```"
    if not parts:
        return "(the same definitions; they differ only outside functions and classes)\n" \
               f"```{fence}\n{theirs.rstrip()}\n```"
    return f"```{fence}\n" + "\n\n".join(parts) + "\n```"


def _python_parts(mine: str, theirs: str) -> list[str] | None:
    try:
        ours, other = _definitions(mine), _definitions(theirs)
    except SyntaxError:
        return None
    return [source for name, source in other.items() if ours.get(name) != source]


def _definitions(text: str) -> dict[str, str]:
    tree = ast.parse(text)
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = ast.get_source_segment(text, node) or ""
    return found


def splices(mine: str, theirs: str) -> list[tuple[str, str]]:
    """Python `mine` with one definition of `theirs` put in: (name, text) for each top-level
    function or class of `theirs` whose source differs from `mine`'s or that `mine` lacks, and,
    of a class both define, for each method that differs (`Class.method`). Top-level imports
    of `theirs` that `mine` lacks go in too. No model call: each one is checked, and a splice
    passing tests that neither version passes alone is the cheapest merge there is. Empty
    when either does not parse."""
    try:
        ours, other = ast.parse(mine), ast.parse(theirs)
    except SyntaxError:
        return []
    missing = _missing_imports(ours, other, theirs)
    found = []
    for name, text in _put_in(mine, ours.body, theirs, other.body, ""):
        found.append((name, _with_imports(text, missing)))
    return found


def _put_in(mine: str, body: list[ast.stmt], theirs: str, their_body: list[ast.stmt],
            prefix: str) -> list[tuple[str, str]]:
    """`mine` with each definition of `their_body` that differs put in place of its namesake
    in `body`, with every definition `body` lacks (helpers the new one may call) added after
    its last statement; classes in both, method by method too. When `body` lacks some, one
    splice adds only those."""
    lines, their_lines = mine.splitlines(keepends=True), theirs.splitlines(keepends=True)
    ours = {node.name: node for node in body if isinstance(node, _DEFINITIONS)}
    theirs_defs = [node for node in their_body if isinstance(node, _DEFINITIONS)]

    def source(node: ast.stmt) -> str:
        start, end = _span(node)
        return "".join(their_lines[start:end])

    lacking = [n for n in theirs_defs if n.name not in ours]
    tail = _span(body[-1])[1] if body else len(lines)
    added = "".join("\n" + ("" if prefix else "\n") + source(n) for n in lacking)

    def spliced(at: int, to: int, new: str) -> str:
        return "".join(lines[:at]) + new + "".join(lines[to:tail]) + added + "".join(lines[tail:])

    found = [(prefix + ", ".join(n.name for n in lacking), spliced(tail, tail, ""))] \
        if lacking else []
    for node in theirs_defs:
        namesake = ours.get(node.name)
        if namesake is None:
            continue
        at, to = _span(namesake)
        if "".join(lines[at:to]) == source(node):
            continue
        found.append((prefix + node.name, spliced(at, to, source(node))))
        if isinstance(node, ast.ClassDef) and isinstance(namesake, ast.ClassDef):
            found += _put_in(mine, namesake.body, theirs, node.body, f"{node.name}.")
    return found


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _span(node: ast.stmt) -> tuple[int, int]:
    """0-based [start, end) lines of a definition, its decorators included."""
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno] + [d.lineno for d in decorators])
    return first - 1, node.end_lineno or node.lineno


def _missing_imports(ours: ast.Module, other: ast.Module, theirs: str) -> list[str]:
    have = {ast.dump(node) for node in ours.body if isinstance(node, (ast.Import, ast.ImportFrom))}
    return [ast.get_source_segment(theirs, node) or "" for node in other.body
            if isinstance(node, (ast.Import, ast.ImportFrom)) and ast.dump(node) not in have
            and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]


def _with_imports(text: str, imports: list[str]) -> str:
    """`text` with `imports` after its last top-level import (at the top when it has none,
    after a docstring)."""
    if not imports:
        return text
    tree = ast.parse(text)
    anchor = 0
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
                node is tree.body[0] and isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            anchor = node.end_lineno or node.lineno
    lines = text.splitlines(keepends=True)
    return "".join(lines[:anchor]) + "".join(i + "\n" for i in imports) + "".join(lines[anchor:])


def checked_splices(ws: Workspace, tree: Path, two: tuple[Version, Version], *,
                    protected: list[str], check: Callable[[], list[CheckResult]],
                    policy: EditPolicy | None = None, limit: int | None = None,
                    ) -> Iterator[tuple[str, str, str, list[CheckResult]]]:
    """Each splice of the second version into the checkout `tree` (holding the first), up to
    `limit`: written, checked by `check`, and taken out again; (path, name, text, checks).
    A splice `policy` refuses (a protected or infrastructure file) is never written."""
    _, other = two
    mine = implementation(tree, protected)
    tried: list[tuple[str, str, str]] = []
    for path, text in mine.items():
        theirs = ws.file_at(other.commit, path) if path.endswith(".py") else None
        if theirs is not None and theirs != text:
            tried += [(path, name, spliced) for name, spliced in splices(text, theirs)
                      if policy is None or policy.refusal(path, text, spliced) is None]
    for path, name, spliced in tried[:limit]:
        target = confined(tree, path)
        target.write_text(spliced, encoding="utf-8")
        try:
            checks = check()
        finally:
            target.write_text(mine[path], encoding="utf-8")
        yield path, name, spliced, checks


def tests_passed(checks: list[CheckResult]) -> int:
    acceptance = Round(index=0, checks=checks).acceptance
    return (acceptance.tests_passed or 0) if acceptance is not None else 0


def splice_into(ws: Workspace, tree: Path, two: tuple[Version, Version], *,
                protected: list[str], check: Callable[[], list[CheckResult]],
                policy: EditPolicy | None = None,
                limit: int = MAX_SPLICES) -> tuple[list[str], str] | None:
    """The checkout `tree` (the first version) with the splice of the second that passes the
    most acceptance tests, when one passes more than the first: the file written and a
    diagnosis. None, with `tree` as it was, when none does. `check` checks `tree`."""
    base, other = two
    best, kept = len(base.passed), None
    for path, name, spliced, checks in checked_splices(ws, tree, two, protected=protected,
                                                       check=check, policy=policy, limit=limit):
        if tests_passed(checks) > best:
            best, kept = tests_passed(checks), (path, name, spliced)
            if verdict(checks):
                break
    if kept is None:
        return None
    path, name, spliced = kept
    confined(tree, path).write_text(spliced, encoding="utf-8")
    return [path], (f"`{name}` of {other.label} spliced into {path}: {best} acceptance tests "
                    f"pass, {len(base.passed)} before")


def combine_file(llm: LLMClient, root: Path, spec: Spec, plan: Plan, path: str, *,
                 mine: str, theirs: str, base: Version, other: Version,
                 protected: list[str], budget_tokens: int,
                 temperature: float | None = None) -> GeneratedFile:
    """`path` written to pass both `base`'s tests (whose text is `mine`) and `other`'s."""
    context = build_context(root, [], budget_tokens=budget_tokens, plan_text=plan.text,
                            exclude=[path, *acceptance_files(spec)])  # the spec shows those
    only = sorted(other.passed - base.passed)
    named = "\n".join(f"- {t}" for t in only[:SHOWN_TESTS])
    if len(only) > SHOWN_TESTS:
        named += f"\n- ... and {len(only) - SHOWN_TESTS} more"
    messages = chat(
        "combine", spec=prompt_text(spec), plan=plan.text, codebase=context.text, path=path,
        a_count=str(len(base.passed)), b_only=named,
        version_a=f"```{fence_language(path)}\n{mine.rstrip()}\n```",
        version_b=differing_parts(path, mine, theirs), protected_note=protected_note(protected),
    )
    answer = llm.complete(messages, stage=STAGE, temperature=temperature,
                          at_most=rewrite_limit(max(mine, theirs, key=len)))
    return file_from_answer(whole_file(answer, path), path, modules_in(root))


def combine_into(llm: LLMClient, ws: Workspace, tree: Path, spec: Spec, plan: Plan,
                 two: tuple[Version, Version], *, failures: list[Failure],
                 policy: EditPolicy, budget_tokens: int,
                 temperature: float | None = None) -> tuple[list[str], str]:
    """The checkout `tree` (the first version) with its files that differ from the second
    merged; the files written and a diagnosis."""
    base, other = two
    protected = list(policy.protected)
    mine = implementation(tree, protected)
    theirs = {p: ws.file_at(other.commit, p) for p in mine}
    differ = [p for p, text in theirs.items() if text is not None and text != mine[p]]
    written = []
    for path in list(dict.fromkeys(implicated_files(failures, set(differ)) + differ))[:MAX_FILES]:
        new = combine_file(llm, tree, spec, plan, path, mine=mine[path], theirs=theirs[path] or "",
                           base=base, other=other, protected=protected,
                           budget_tokens=budget_tokens, temperature=temperature)
        if policy.refusal(path, mine[path], new.content) is None and new.content != mine[path]:
            write_files(tree, [new], spec.keep)
            written.append(path)
    gained = len(other.passed - base.passed)
    return written, (f"{', '.join(written) or 'nothing'} combined with {other.label}, which "
                     f"passes {gained} acceptance tests the base fails")
