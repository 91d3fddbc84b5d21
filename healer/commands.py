"""What each CLI command does, as plain functions a library user can call too."""

from __future__ import annotations

from pathlib import Path

from healer import changes
from healer.budget import Budget
from healer.checks import run_checks
from healer.checks.acceptance.contract import file_digest
from healer.config import Settings
from healer.errors import UsageError
from healer.events import NO_EVENTS, Events
from healer.generation import generate_project, regenerate_one
from healer.llm.accounting import price_of
from healer.loop import Session, build
from healer.models import CheckResult, RunReport, Spec
from healer.pipeline.context import build_context
from healer.pipeline.messages import chat
from healer.review import Reviewer
from healer.runtime import open_checks_sandbox, open_llm
from healer.spec import acceptance_files, load_spec, sections_of
from healer.state import load_contract, saved_spec, saved_spec_text
from healer.workspace import STATE_DIR, Workspace


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
              events: Events = NO_EVENTS, into_existing: bool = False,
              review: Reviewer | None = None) -> RunReport:
    spec = load_spec(spec_arg, tests=tests)
    _check_cost_budget(settings, budget)
    workspace = Workspace(output, adopt=into_existing)
    workspace.init()  # a folder healer did not create is refused before any model call
    return _run_loop(spec, workspace, settings, budget, unsafe_local=unsafe_local,
                     events=events, review=review)


def run_improve(request: str, folder: Path, settings: Settings, budget: Budget, *,
                unsafe_local: bool = False, events: Events = NO_EVENTS,
                review: Reviewer | None = None) -> RunReport:
    """Change a folder healer built as `request` asks, then check and repair it; the user's
    own edits in it are kept (committed first, on their own)."""
    if not request.strip():
        raise UsageError("the change request is empty", hint='healer improve "what to change"')
    workspace = Workspace(folder)
    spec = saved_spec(workspace) if (folder / STATE_DIR).is_dir() else None
    if spec is None:
        raise UsageError(f"{folder} is not a folder healer built (no {STATE_DIR}/spec.json)",
                         hint="build it first: healer build SPEC -o FOLDER")
    _check_saved_tests(workspace, spec)
    _check_cost_budget(settings, budget)
    return _run_loop(spec, workspace, settings, budget, unsafe_local=unsafe_local,
                     events=events, change=changes.request(request), review=review)


def _check_saved_tests(workspace: Workspace, spec: Spec) -> None:
    """The folder's saved spec names its acceptance tests by their paths on this machine, and
    the folder is untrusted: each must be the file the build collected (same digest as in
    its contract), or a folder could have healer copy any host file into the project and
    show it to the model."""
    contract = load_contract(workspace)
    collected = contract.files if contract is not None else {}
    for rel, source in acceptance_files(spec).items():
        if rel not in collected or not source.is_file() or file_digest(source) != collected[rel]:
            raise UsageError(
                f"the acceptance tests of {workspace.root} are not the ones its build collected "
                f"({source})", hint="run `healer build SPEC -o FOLDER`: it checks changed tests")


def _run_loop(spec: Spec, workspace: Workspace, settings: Settings, budget: Budget, *,
              unsafe_local: bool, events: Events, change: changes.Change | None = None,
              review: Reviewer | None = None) -> RunReport:
    if review is not None and settings.candidates > 1:
        raise UsageError("--ask reviews one edit a round; it cannot be used with --candidates")
    with open_checks_sandbox(settings, unsafe_local=unsafe_local) as sandbox, \
            open_llm(settings, events) as llm:
        where = "the bundled model" if settings.uses_local_model else llm.endpoint
        engine = getattr(sandbox, "engine", None)
        on = f" on the engine at {engine}" if engine else ""
        events.stage("using", f"model {llm.model} at {where}; checks in the {sandbox.name} "
                     f"sandbox{on}")
        # the settings of the endpoint in use: the bundled model's context, not a hosted one's
        session = Session(llm=llm, sandbox=sandbox, settings=llm.settings, events=events,
                          review=review)
        return build(spec, workspace, session, budget, change=change)


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
    spec_text = saved_spec_text(root)
    declared = [*sections_of(spec_text).get("checks", []), *settings.checks]
    contract = load_contract(Workspace(root)) if (root / STATE_DIR).is_dir() else None
    with open_checks_sandbox(settings, unsafe_local=unsafe_local) as sandbox:
        return run_checks(root, sandbox, declared=declared, timeout=settings.check_timeout,
                          spec_text=spec_text, contract=contract)


def run_prompt(folder: Path, settings: Settings) -> str:
    """A spec that could regenerate the codebase in `folder` (reverse of `generate`)."""
    context = build_context(folder.resolve(), [], budget_tokens=settings.context_budget())
    if not context.full and not context.outlined:
        raise UsageError(f"no source files found in {folder}")
    with open_llm(settings) as llm:
        answer = llm.complete(chat("spec_from_code", codebase=context.text), stage="prompt")
    return answer.text.strip() + "\n"
