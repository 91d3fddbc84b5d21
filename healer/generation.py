"""Spec -> plan -> file list -> files, saved in the output folder with a commit per stage.

Everything a stage produces is kept in `.healer/`, so a run that stopped half-way resumes
where it was: a saved plan and file list of the same spec are reused, and only files not yet
written are generated.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import TYPE_CHECKING

from healer.checks.acceptance import Contract
from healer.errors import UsageError
from healer.events import NO_EVENTS, Events
from healer.models import FileList, GeneratedFile, Plan, Spec
from healer.pipeline.file_list import make_file_list, stated_file_list
from healer.pipeline.generate import generate_file, generate_files
from healer.pipeline.plan import make_plan
from healer.prompts import render
from healer.spec import acceptance_files
from healer.workspace import FILE_LIST, Workspace

if TYPE_CHECKING:
    from healer.llm.client import LLMClient

PLAN = "plan.md"
SPEC = "spec.md"
SPEC_HASH = "spec.sha256"
SPEC_VALUE = "spec.json"
CONTRACT = "acceptance.json"


def spec_hash(spec: Spec) -> str:
    payload = json.dumps([spec.text, spec.file_specs, spec.acceptance_tests], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def save_spec(ws: Workspace, spec: Spec) -> None:
    """The spec the folder is built from: its text (read by people), hash and whole value."""
    (ws.state / SPEC).write_text(spec.text, encoding="utf-8")
    (ws.state / SPEC_HASH).write_text(spec_hash(spec) + "\n")
    (ws.state / SPEC_VALUE).write_text(spec.model_dump_json(indent=2) + "\n")


def saved_spec(ws: Workspace) -> Spec | None:
    """The spec of the folder's last build, or None (not healer's, or built before it was
    kept whole)."""
    path = ws.state / SPEC_VALUE
    return Spec.model_validate_json(path.read_text()) if path.is_file() else None


def same_spec(ws: Workspace, spec: Spec) -> bool:
    saved = ws.state / SPEC_HASH
    return saved.is_file() and saved.read_text().strip() == spec_hash(spec)


def generate_project(
    llm: LLMClient, spec: Spec, ws: Workspace, *, workers: int = 8, events: Events = NO_EVENTS
) -> list[str]:
    """Generate (or finish generating) the project; returns the paths written by this call."""
    plan, file_list, todo = prepare_project(llm, spec, ws, events)
    events.stage("generate", f"{len(todo)} files")
    done = _Counter(len(todo))
    files = generate_files(
        llm, spec, plan, file_list, only=todo, workers=workers,
        on_file=lambda f: (ws.write([f], keep=spec.keep), events.file_done(f.path, *done.next())),
    )
    ws.commit(f"round 0: generate {len(files)} files")
    return [f.path for f in files]


def prepare_project(llm: LLMClient, spec: Spec, ws: Workspace, events: Events = NO_EVENTS
                    ) -> tuple[Plan, FileList, list[str]]:
    """The plan, the file list and the acceptance tests in place; with the files still to
    write (all of them, unless a run of the same spec stopped half-way)."""
    ws.init()
    resume = same_spec(ws, spec)
    if not resume:
        for stale in (PLAN, FILE_LIST):
            (ws.state / stale).unlink(missing_ok=True)
        save_spec(ws, spec)
    stated = stated_file_list(spec)
    plan = _plan(llm, spec, ws, events, stated)
    file_list = _file_list(llm, spec, ws, plan, events, stated)
    install_acceptance_tests(spec, ws)
    todo = [f.path for f in file_list.files
            if not (resume and (ws.root / f.path).is_file())]
    return plan, file_list, todo


def regenerate_one(llm: LLMClient, spec: Spec, ws: Workspace, path: str) -> GeneratedFile:
    """Regenerate one planned file from the saved plan (`healer generate --file PATH`)."""
    plan, file_list = load_plan(ws), load_file_list(ws)
    if plan is None or file_list is None:
        raise UsageError(f"no saved plan in {ws.root}: run `healer generate` there first")
    if path not in file_list.paths:
        raise UsageError(f"{path} is not in the saved file list: {', '.join(file_list.paths)}")
    existing = ws.text_files()
    generated = generate_file(llm, spec, plan, file_list, path, existing=existing)
    ws.write([generated])
    ws.commit(f"regenerate {path}")
    return generated


def install_acceptance_tests(spec: Spec, ws: Workspace) -> list[str]:
    """Copy the user's acceptance tests into the project (again), as the user wrote them."""
    for rel, source in acceptance_files(spec).items():
        ws.install(source, rel)
    return list(acceptance_files(spec))


def load_contract(ws: Workspace) -> Contract | None:
    """The acceptance contract collected for this folder, None if absent or unreadable."""
    path = ws.state / CONTRACT
    try:
        return Contract.model_validate_json(path.read_text()) if path.is_file() else None
    except ValueError:
        return None


def save_contract(ws: Workspace, contract: Contract) -> None:
    ws.state.mkdir(parents=True, exist_ok=True)
    (ws.state / CONTRACT).write_text(contract.model_dump_json(indent=2) + "\n")


def load_plan(ws: Workspace) -> Plan | None:
    path = ws.state / PLAN
    return Plan(text=path.read_text(encoding="utf-8")) if path.is_file() else None


def load_file_list(ws: Workspace) -> FileList | None:
    path = ws.state / FILE_LIST
    return FileList.model_validate_json(path.read_text()) if path.is_file() else None


def _plan(llm: LLMClient, spec: Spec, ws: Workspace, events: Events,
          stated: FileList | None) -> Plan:
    plan = load_plan(ws)
    if plan is None and needs_no_plan(llm.settings.plan, stated):
        events.stage("plan", "none needed: the spec names its one file and its interfaces")
        plan = Plan(text=render("plan_from_spec").strip())
        (ws.state / PLAN).write_text(plan.text + "\n", encoding="utf-8")
    elif plan is None:
        events.stage("plan")
        plan = make_plan(llm, spec)
        (ws.state / PLAN).write_text(plan.text + "\n", encoding="utf-8")
        ws.commit("plan: shared dependencies")
    return plan


def needs_no_plan(mode: str, stated: FileList | None) -> bool:
    """A plan says what the files share; a project of one file the spec names shares nothing."""
    return mode == "auto" and stated is not None and len(stated.files) == 1


def _file_list(llm: LLMClient, spec: Spec, ws: Workspace, plan: Plan, events: Events,
               stated: FileList | None) -> FileList:
    file_list = load_file_list(ws)
    if file_list is None:
        file_list = stated
        if file_list is not None:
            events.stage("file list", f"as the spec names it: {', '.join(file_list.paths)}")
        else:
            events.stage("file list")
            file_list = make_file_list(llm, spec, plan)
        (ws.state / FILE_LIST).write_text(file_list.model_dump_json(indent=2) + "\n")
        ws.commit(f"file list: {len(file_list.files)} files")
    return file_list


class _Counter:
    def __init__(self, total: int) -> None:
        self.total, self.done, self._lock = total, 0, threading.Lock()

    def next(self) -> tuple[int, int]:
        with self._lock:
            self.done += 1
            return self.done, self.total
