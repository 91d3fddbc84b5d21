"""The debugger stage: codebase + failures -> diagnosis + edits that apply."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pydantic import Field

from healer.errors import ContextOverflowError, EditError, ModelOutputError, PathEscapeError
from healer.models import Edit, Failure, Plan, Spec, Value
from healer.paths import confined
from healer.pipeline.answer_size import rewrite_limit
from healer.pipeline.context import build_context
from healer.pipeline.edits import ApplyResult, EditsNotApplied, apply_edits
from healer.pipeline.failures import format_failures, implicated_files
from healer.pipeline.formats import EDIT_FORMATS, WHOLE_FILE
from healer.pipeline.messages import chat
from healer.pipeline.policy import PROTECTED_REASON, EditPolicy
from healer.prompts import render
from healer.secrets import is_secret_like
from healer.spec import acceptance_files, prompt_text

if TYPE_CHECKING:
    from healer.llm.client import LLMClient

log = logging.getLogger(__name__)
STAGE = "debug"
ATTEMPTS = 3
RETHINK_TEMPERATURE = 0.8
CHECKS_ARE_RIGHT = " The checks are right: change the code so that they pass"
UNCHANGED_REASON = ("your answer leaves every file exactly as it was, so the same checks would"
                    " fail again." + CHECKS_ARE_RIGHT)
SET_BACK_REASON = ("your answer only changes in {files} what healer puts back as slips (a name"
                   " the code does not define, an import it needs); put back, every file is"
                   " exactly as it was, so the same checks would fail again." + CHECKS_ARE_RIGHT)
WHOLE_FILE_MAX_LINES = 200  # the bundled small model repairs small files better in full


class Repair(Value):
    """What one debugger turn produced."""

    diagnosis: str
    edits: list[Edit] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    error: str = ""  # why no edit could be applied, when none was


def repair(
    llm: LLMClient,
    root: Path,
    spec: Spec,
    plan: Plan,
    failures: list[Failure],
    *,
    protected: list[str],
    budget_tokens: int,
    temperature: float | None = None,
    edit_format: str = "auto",
    policy: EditPolicy | None = None,
) -> Repair:
    """Ask for a diagnosis and edits, apply them; a failed edit goes back to the model."""
    return _ask(llm, root, spec, plan, failures, "debug", {}, protected=protected,
                budget_tokens=budget_tokens, temperature=temperature, edit_format=edit_format,
                policy=policy)


def change(llm: LLMClient, root: Path, spec: Spec, plan: Plan, request: str,
           failures: list[Failure], *, users_files: list[str], protected: list[str],
           budget_tokens: int, edit_format: str = "auto", policy: EditPolicy | None = None,
           ) -> Repair:
    """Ask for the edits a requested change (a request, or a diff of the spec) needs, with
    the checks failing now; files the user edited by hand are named as theirs."""
    note = render("users_files_note", names=", ".join(f"`{p}`" for p in users_files)) \
        if users_files else ""
    return _ask(llm, root, spec, plan, failures, "change",
                {"request": request.strip(), "users_note": note}, protected=protected,
                budget_tokens=budget_tokens, edit_format=edit_format, policy=policy)


def _ask(llm: LLMClient, root: Path, spec: Spec, plan: Plan, failures: list[Failure],
         prompt: str, extra: dict[str, str], *, protected: list[str], budget_tokens: int,
         temperature: float | None = None, edit_format: str = "auto",
         policy: EditPolicy | None = None) -> Repair:
    context = build_context(root, failures, budget_tokens=budget_tokens, plan_text=plan.text,
                            exclude=acceptance_files(spec))  # the spec shows them in full
    likely = [p for p in implicated_files(failures, set(context.full)) if p not in protected]
    fmt = choose_format(edit_format, llm.profile.small, context.lines, likely or context.full)
    example = next((p for p in [*likely, *context.full] if p not in protected), "app.py")
    messages = chat(
        prompt, spec=prompt_text(spec), plan=plan.text, codebase=context.text,
        failures=format_failures(failures) if failures else "(none)",
        protected_note=protected_note(protected),
        edit_format=format_instructions(fmt, example), **extra,
    )
    return converse(llm, root, messages, protected=protected, temperature=temperature,
                    edit_format=fmt, example=example, policy=policy,
                    rewritable=[p for p in context.full if p not in protected])


def format_instructions(edit_format: str, example_path: str) -> str:
    """How to write edits in `edit_format`, with a real path of the project as the example."""
    return EDIT_FORMATS.get(edit_format).instructions(example_path)


def choose_format(setting: str, small_model: bool, lines: dict[str, int], shown: list[str]) -> str:
    """The edit format to ask for: `auto` means whole files for a small model when the files
    it would rewrite (those the failures implicate, else all it is shown) are small. `lines`
    are the files' line counts, from the codebase as the prompt was made of it."""
    if setting != "auto":
        return setting
    total = sum(lines.get(p, 0) for p in shown)
    return WHOLE_FILE.name if small_model and total <= WHOLE_FILE_MAX_LINES else "search-replace"


def converse(
    llm: LLMClient,
    root: Path,
    messages: list[dict[str, str]],
    *,
    protected: list[str],
    temperature: float | None = None,
    edit_format: str = "search-replace",
    example: str = "app.py",
    policy: EditPolicy | None = None,
    rewritable: list[str] | None = None,
) -> Repair:
    """Up to ATTEMPTS answers; each one that cannot be applied is answered with the reason.

    The last retry asks for whole files, the format that cannot fail to match. Given the
    files the answer may rewrite (those shown in full), an answer is stopped at a few times
    their size (`rewrite_limit`).
    """
    at_most = None if rewritable is None else rewrite_limit(*_texts(root, rewritable))
    diagnosis, reason, edits = "", "", []
    asked, base = edit_format, messages
    shown = "\n".join(m["content"] for m in base)
    repeated = False  # an answer already left every file as it was
    for attempt in range(ATTEMPTS):
        try:
            answer = llm.complete(messages, stage=STAGE, temperature=temperature,
                                  at_most=at_most)
        except ContextOverflowError:
            if attempt == 0:
                raise
            return Repair(diagnosis=diagnosis, edits=edits,
                          error=f"{reason}; the retry did not fit the model's context")
        diagnosis = extract_diagnosis(answer.text) or diagnosis
        edits, changed, reason, unchanged = _apply(root, answer.text, asked, example,
                                                   protected, policy)
        if changed:
            said = f"{diagnosis} [{reason}]" if reason else diagnosis
            return Repair(diagnosis=said, edits=edits, changed=changed)
        if unchanged:
            # At a low temperature the same prompt brings the same answer back: one retry,
            # sampled hotter; a second unchanged answer ends the turn (the loop moves on).
            if repeated:
                break
            repeated, temperature = True, RETHINK_TEMPERATURE
            log.info("the answer changed no file; asking again at temperature %s", temperature)
        asked = WHOLE_FILE.name if attempt == ATTEMPTS - 2 else edit_format
        retry = render("edit_retry", reason=reason, files=_current_files(root, edits, shown),
                       edit_format=format_instructions(asked, example))
        # only the latest exchange is kept: the history would outgrow a small model's context
        messages = [*base, {"role": "assistant", "content": answer.text},
                    {"role": "user", "content": retry}]
    return Repair(diagnosis=diagnosis, edits=edits, error=reason)


def _apply(root: Path, text: str, edit_format: str, example: str, protected: list[str],
           policy: EditPolicy | None) -> _Applied:
    """The answer's edits, the files they changed, and why none changed (when some did: ""
    or what of the answer was left out).

    Edits of protected tests are refused; when the answer's other edits all apply, those are
    written without them: a small model often "fixes" the test beside the code, and the
    code's change still deserves its check.
    """
    edits: list[Edit] = []
    try:
        edits = EDIT_FORMATS.get(edit_format).parse(text, example)
        if not edits:
            raise ModelOutputError("the answer holds no edit in the format asked for")
        result = apply_edits(root, edits, protected=protected, policy=policy)
    except EditsNotApplied as exc:
        refused = [p for p in exc.problems if p.reason == PROTECTED_REASON]
        rest = [e for i, e in enumerate(edits, 1) if i not in {p.index for p in refused}]
        if len(refused) < len(exc.problems) or not rest:
            return _Applied(edits, [], str(exc))
        try:
            result = apply_edits(root, rest, protected=protected, policy=policy)
        except EditError:
            return _Applied(edits, [], str(exc))
        tests = ", ".join(dict.fromkeys(p.path for p in refused))
        log.info("the answer's edits of %s were refused; its other edits applied", tests)
        if result.changed:
            return _Applied(rest, result.changed, f"its edits of {tests} were refused (protected)")
        return _unchanged(rest, result)
    except (EditError, ModelOutputError, PathEscapeError) as exc:
        return _Applied(edits, [], str(exc))
    return _Applied(edits, result.changed, "") if result.changed else _unchanged(edits, result)


class _Applied(NamedTuple):
    edits: list[Edit]
    changed: list[str]
    reason: str
    unchanged: bool = False  # the edits applied, and left every file as it was


def _unchanged(edits: list[Edit], result: ApplyResult) -> _Applied:
    """Edits that all applied and changed no file, and why."""
    reason = SET_BACK_REASON.format(files=", ".join(f"`{p}`" for p in result.set_back)) \
        if result.set_back else UNCHANGED_REASON
    return _Applied(edits, [], reason, unchanged=True)


def _texts(root: Path, paths: list[str]) -> list[str]:
    return [(root / p).read_text(encoding="utf-8", errors="replace") for p in paths
            if (root / p).is_file()]


def _current_files(root: Path, edits: list[Edit], shown: str) -> str:
    """The files the edits meant to change, except those the first prompt shows in full (a
    retry that repeats them could outgrow a small model's context)."""
    parts = []
    for path in dict.fromkeys(e.path for e in edits):
        try:
            target = confined(root, path)
        except PathEscapeError:
            parts.append(f"{path}: not a file of the project")
            continue
        if is_secret_like(path):
            parts.append(f"{path}: looks like a file of secrets, never shown")
            continue
        if not target.is_file():
            parts.append(f"{path}: does not exist yet")
            continue
        text = target.read_text(encoding="utf-8", errors="replace")
        if text.strip() and text.strip() in shown:
            parts.append(f"{path}: as shown above")
        else:
            parts.append(f"{path}\n```\n{text}```")
    return "\n\n".join(parts) or "(as shown above)"


def extract_diagnosis(text: str) -> str:
    match = re.search(r"Diagnosis:\s*(.+?)(?:\n\s*\n|\n\S+\n<{5,}|$)", text, re.DOTALL | re.IGNORECASE)
    if match:
        return " ".join(match.group(1).split())[:600]
    first = text.strip().split("\n\n", 1)[0]
    return "" if "<<<<<<<" in first else " ".join(first.split())[:600]


def protected_note(protected: list[str]) -> str:
    if not protected:
        return ""
    names = ", ".join(f"`{p}`" for p in protected)
    return render("protected_note", names=names).rstrip("\n")
