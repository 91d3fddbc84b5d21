"""`healer debug`: a pasted error diagnosed and fixed in a folder that already exists.

The edits are tried on a scratch copy first (secret-like and git-ignored files are left out
of it and never shown to the model), and applied for real, as one commit of the changed files
only, on request. With `check`, the folder's checks then run in the sandbox, and their
failures go back to the model as the next error until the checks pass or the rounds run out.
The codebase shown is ranked by the frames of the error. A folder that healer built brings
its spec and plan into the prompt, and its acceptance tests may not be edited.
"""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path

from pydantic import Field

from healer.checks.locations import locate
from healer.config import Settings
from healer.errors import UsageError
from healer.events import NO_EVENTS, Events
from healer.llm.client import LLMClient
from healer.models import CheckResult, Failure, Value, verdict
from healer.pipeline.context import build_context
from healer.pipeline.debug import Repair, choose_format, converse, format_instructions
from healer.pipeline.edits import apply_edits
from healer.pipeline.failures import format_failures
from healer.pipeline.messages import chat
from healer.prompts import render
from healer.runtime import open_llm
from healer.sandbox.project import copy_project
from healer.secrets import private_files
from healer.state import load_contract, load_plan, saved_spec_text
from healer.workspace import Workspace

MAX_ERROR_CHARS = 8000


class DebugRound(Value):
    diagnosis: str
    changed: list[str]
    checks: list[CheckResult] = Field(default_factory=list)


class DebugResult(Value):
    diagnosis: str
    diff: str
    changed: list[str]
    applied: bool
    error: str = ""
    rounds: list[DebugRound] = Field(default_factory=list)  # with `check`: edits, then checks
    green: bool | None = None  # with `check`: whether the last checks passed


class _Folder:
    """The folder being debugged, and what healer knows of it."""

    def __init__(self, folder: Path) -> None:
        self.root = folder.resolve()
        self.private = private_files(self.root)  # never shown to the model
        workspace = Workspace(self.root)
        plan = load_plan(workspace)
        self.spec = saved_spec_text(self.root)
        self.plan = plan.text if plan else ""
        contract = load_contract(workspace) if workspace.state.is_dir() else None
        self.protected = sorted(contract.files) if contract is not None else []

    def built(self) -> str:
        if not self.spec:
            return ""
        return render("debug_built", spec=self.spec.strip(), plan=self.plan.strip() or "(none)")


def run_debug(error: str, folder: Path, settings: Settings, *, apply: bool, check: bool = False,
              max_rounds: int = 3, events: Events = NO_EVENTS, unsafe_local: bool = False
              ) -> DebugResult:
    """Diagnose `error` and propose edits; apply them on request; with `check` (which applies),
    run the checks and repair from their failures for up to `max_rounds` more rounds."""
    target = _Folder(folder)
    with open_llm(settings, events) as llm:
        first, diff = _propose(llm, target, settings, error, evidence(error))
        result = DebugResult(diagnosis=first.diagnosis, diff=diff, changed=first.changed,
                             applied=False, error=first.error)
        if not (apply or check) or first.error or not first.changed:
            return result
        _apply(target, first)
        result.applied = True
        if check:
            _check_until_green(llm, target, settings, result, first, max_rounds, events,
                               unsafe_local)
    return result


def evidence(error: str) -> list[Failure]:
    """The pasted error as a failure record: the codebase shown is ranked by its frames."""
    file, line = locate(error)
    lines = error.strip().splitlines()
    return [Failure(check="reported error", message=lines[-1][:500] if lines else "",
                    file=file, line=line, excerpt=error[-MAX_ERROR_CHARS:])]


def _check_until_green(llm: LLMClient, target: _Folder, settings: Settings, result: DebugResult,
                       last: Repair, max_rounds: int, events: Events, unsafe_local: bool) -> None:
    from healer.commands import run_check

    for number in range(max_rounds + 1):
        events.stage("check", f"after debug round {number + 1}")
        checks = run_check(target.root, settings, unsafe_local=unsafe_local)
        result.rounds.append(DebugRound(diagnosis=last.diagnosis, changed=last.changed,
                                        checks=checks))
        result.green = verdict(checks)
        if result.green or number == max_rounds:
            return
        failures = [f for c in checks if not c.passed and not c.skipped for f in c.failures]
        events.stage("debug", f"round {number + 2}: {len(failures)} failure(s)")
        last, _ = _propose(llm, target, settings, format_failures(failures), failures)
        if last.error or not last.changed:
            result.rounds.append(DebugRound(diagnosis=last.diagnosis or last.error, changed=[]))
            return
        _apply(target, last)
        result.changed = sorted({*result.changed, *last.changed})


def _propose(llm: LLMClient, target: _Folder, settings: Settings, error: str,
             failures: list[Failure]) -> tuple[Repair, str]:
    """The model's edits for `error`, applied to a scratch copy; with their diff."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "project"
        copy_project(target.root, scratch)  # as the sandbox sees it: no FIFO, no device
        for rel in target.private:
            (scratch / rel).unlink(missing_ok=True)
        context = build_context(scratch, failures, budget_tokens=settings.context_budget(),
                                plan_text=target.plan)
        shown = [p for p in context.full if p not in target.protected]
        fmt = choose_format(settings.edit_format, llm.profile.small, context.lines, shown)
        example = shown[0] if shown else "app.py"
        messages = chat("debug_error", built=target.built(), codebase=context.text,
                        error=error.strip()[:MAX_ERROR_CHARS],
                        edit_format=format_instructions(fmt, example))
        repair = converse(llm, scratch, messages, protected=target.protected, edit_format=fmt,
                          example=example, rewritable=shown)
        return repair, _diff(target.root, scratch, repair.changed)


def _apply(target: _Folder, repair: Repair) -> None:
    touched = {e.path for e in repair.edits} | set(repair.changed)  # as given, as resolved
    if touched & target.private:
        raise UsageError("the proposed edits touch files healer keeps private: "
                         + ", ".join(sorted(touched & target.private)))
    apply_edits(target.root, repair.edits)
    if (target.root / ".git").exists():  # only the files healer changed, nothing else of yours
        Workspace(target.root).commit_paths(repair.changed,
                                            f"healer debug: {repair.diagnosis[:200]}")


def _diff(before: Path, after: Path, paths: list[str]) -> str:
    chunks = []
    for rel in paths:
        old = (before / rel).read_text(encoding="utf-8") if (before / rel).is_file() else ""
        new = (after / rel).read_text(encoding="utf-8")
        chunks.extend(difflib.unified_diff(old.splitlines(keepends=True),
                                           new.splitlines(keepends=True),
                                           fromfile=f"a/{rel}", tofile=f"b/{rel}"))
    return "".join(chunks)
