"""What each CLI command does, as plain functions a library user can call too."""

from __future__ import annotations

import difflib
import shutil
import tempfile
from pathlib import Path

from healer.budget import Budget
from healer.checks import run_checks
from healer.config import Settings
from healer.errors import UsageError
from healer.events import NO_EVENTS, Events
from healer.generation import SPEC, generate_project, load_contract, regenerate_one
from healer.llm.accounting import price_of
from healer.loop import Session, build
from healer.models import CheckResult, RunReport, Value
from healer.pipeline.context import build_context
from healer.pipeline.debug import choose_format, converse, format_instructions
from healer.pipeline.edits import apply_edits
from healer.pipeline.messages import chat
from healer.runtime import open_checks_sandbox, open_llm
from healer.secrets import private_files
from healer.spec import load_spec, sections_of
from healer.workspace import STATE_DIR, Workspace

SCRATCH_IGNORE = shutil.ignore_patterns(".git", "node_modules", "__pycache__", ".venv")


def run_generate(spec_arg: str, output: Path, settings: Settings, *, only_file: str | None = None,
                 tests: list[str] | None = None, events: Events = NO_EVENTS,
                 into_existing: bool = False) -> dict:
    spec = load_spec(spec_arg, tests=tests)
    ws = Workspace(output, adopt=into_existing)
    ws.init()
    with open_llm(settings, events) as llm:
        if only_file:
            files = [regenerate_one(llm, spec, ws, only_file).path]
        else:
            files = generate_project(llm, spec, ws, workers=settings.concurrency, events=events)
        usage = llm.ledger.total
    return {"output": str(ws.root), "files": files, "usage": usage.model_dump(mode="json")}


def run_build(spec_arg: str, output: Path, settings: Settings, budget: Budget, *,
              tests: list[str] | None = None, unsafe_local: bool = False,
              events: Events = NO_EVENTS, into_existing: bool = False) -> RunReport:
    spec = load_spec(spec_arg, tests=tests)
    _check_cost_budget(settings, budget)
    workspace = Workspace(output, adopt=into_existing)
    workspace.init()  # a folder healer did not create is refused before any model call
    with open_checks_sandbox(settings, unsafe_local=unsafe_local) as sandbox, \
            open_llm(settings, events) as llm:
        where = "the bundled model" if settings.uses_local_model else llm.endpoint
        events.stage("using", f"model {llm.model} at {where}; checks in the {sandbox.name} sandbox")
        # the settings of the endpoint in use: the bundled model's context, not a hosted one's
        session = Session(llm=llm, sandbox=sandbox, settings=llm.settings, events=events)
        return build(spec, workspace, session, budget)


def _check_cost_budget(settings: Settings, budget: Budget) -> None:
    """`--max-cost` needs a price: a cost budget that could never be counted is refused."""
    if budget.max_cost is None or settings.uses_local_model:
        return
    if price_of(settings.model or "", settings.prices) is None:
        raise UsageError(
            f"--max-cost needs the price of model {settings.model!r}, which healer does not know",
            hint="set price_input_per_mtok and price_output_per_mtok (dollars per million "
                 "tokens) in healer.toml or as HEALER_PRICE_INPUT_PER_MTOK and "
                 "HEALER_PRICE_OUTPUT_PER_MTOK",
        )


def run_check(folder: Path, settings: Settings, *, unsafe_local: bool = False) -> list[CheckResult]:
    """The folder's checks, with what its spec declares when healer generated it."""
    root = folder.resolve()
    saved = root / STATE_DIR / SPEC
    spec_text = saved.read_text(encoding="utf-8") if saved.is_file() else ""
    declared = [*sections_of(spec_text).get("checks", []), *settings.checks]
    contract = load_contract(Workspace(root)) if (root / STATE_DIR).is_dir() else None
    with open_checks_sandbox(settings, unsafe_local=unsafe_local) as sandbox:
        return run_checks(root, sandbox, declared=declared, timeout=settings.check_timeout,
                          spec_text=spec_text, contract=contract)


class DebugResult(Value):
    diagnosis: str
    diff: str
    changed: list[str]
    applied: bool
    error: str = ""


def run_debug(error: str, folder: Path, settings: Settings, *, apply: bool,
              events: Events = NO_EVENTS) -> DebugResult:
    """Diagnose `error`, try the edits on a scratch copy, and apply them for real on request."""
    root = folder.resolve()
    private = private_files(root)  # secret-like or git-ignored: never shown to the model
    with tempfile.TemporaryDirectory() as tmp, open_llm(settings, events) as llm:
        scratch = Path(tmp) / "project"
        shutil.copytree(root, scratch, ignore=SCRATCH_IGNORE, symlinks=True)
        for rel in private:
            (scratch / rel).unlink(missing_ok=True)
        context = build_context(scratch, [], budget_tokens=settings.context_budget())
        fmt = choose_format(settings.edit_format, llm.profile.small, scratch, context.full)
        example = context.full[0] if context.full else "app.py"
        messages = chat("debug_error", codebase=context.text, error=error.strip()[:8000],
                        edit_format=format_instructions(fmt, example))
        result = converse(llm, scratch, messages, protected=[], edit_format=fmt, example=example)
        diff = _diff(root, scratch, result.changed)
    applied = False
    if apply and not result.error and result.changed:
        touched = {e.path for e in result.edits}
        if touched & private:
            raise UsageError("the proposed edits touch files healer keeps private: "
                             + ", ".join(sorted(touched & private)))
        apply_edits(root, result.edits)
        if (root / ".git").exists():  # only the files healer changed, nothing else of yours
            Workspace(root).commit_paths(result.changed, f"healer debug: {result.diagnosis[:200]}")
        applied = True
    return DebugResult(diagnosis=result.diagnosis, diff=diff, changed=result.changed,
                       applied=applied, error=result.error)


def _diff(before: Path, after: Path, paths: list[str]) -> str:
    chunks = []
    for rel in paths:
        old = (before / rel).read_text(encoding="utf-8") if (before / rel).is_file() else ""
        new = (after / rel).read_text(encoding="utf-8")
        chunks.extend(difflib.unified_diff(old.splitlines(keepends=True),
                                           new.splitlines(keepends=True),
                                           fromfile=f"a/{rel}", tofile=f"b/{rel}"))
    return "".join(chunks)


def run_prompt(folder: Path, settings: Settings) -> str:
    """A spec that could regenerate the codebase in `folder` (reverse of `generate`)."""
    context = build_context(folder.resolve(), [], budget_tokens=settings.context_budget())
    if not context.full and not context.outlined:
        raise UsageError(f"no source files found in {folder}")
    with open_llm(settings) as llm:
        answer = llm.complete(chat("spec_from_code", codebase=context.text), stage="prompt")
    return answer.text.strip() + "\n"
