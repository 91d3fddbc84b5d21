"""Spec -> plan -> file list -> files, saved in the output folder with a commit per stage.

Everything a stage produces is kept in `.healer/` (see healer.state), so a run that stopped half-way resumes
where it was: a saved plan and file list of the same spec are reused, and only files not yet
written are generated.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from healer.errors import UsageError
from healer.events import NO_EVENTS, Events
from healer.models import FileList, GeneratedFile, Plan, Spec
from healer.pipeline.file_list import make_file_list, stated_file_list
from healer.pipeline.generate import generate_file, generate_files
from healer.pipeline.plan import make_plan
from healer.prompts import render
from healer.spec import acceptance_files
from healer.state import (
    forget_plan,
    load_file_list,
    load_plan,
    same_spec,
    save_file_list,
    save_plan,
    save_spec,
)
from healer.workspace import Workspace

if TYPE_CHECKING:
    from healer.llm.client import LLMClient



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
        forget_plan(ws)
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


def _plan(llm: LLMClient, spec: Spec, ws: Workspace, events: Events,
          stated: FileList | None) -> Plan:
    plan = load_plan(ws)
    if plan is None and needs_no_plan(llm.settings.plan, stated):
        events.stage("plan", "none needed: the spec names its one file and its interfaces")
        plan = Plan(text=render("plan_from_spec").strip())
        save_plan(ws, plan.text)
    elif plan is None:
        short = one_stated_file(llm.settings.plan == "short", stated)
        events.stage("plan", "short: the spec names its one file" if short else "")
        plan = make_plan(llm, spec, short=short)
        save_plan(ws, plan.text)
        ws.commit("plan: shared dependencies")
    return plan


def needs_no_plan(mode: str, stated: FileList | None) -> bool:
    """A plan says what the files share; a project of one file the spec names shares nothing."""
    return one_stated_file(mode == "auto", stated)


def one_stated_file(wanted: bool, stated: FileList | None) -> bool:
    return wanted and stated is not None and len(stated.files) == 1


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
        save_file_list(ws, file_list)
        ws.commit(f"file list: {len(file_list.files)} files")
    return file_list


class _Counter:
    def __init__(self, total: int) -> None:
        self.total, self.done, self._lock = total, 0, threading.Lock()

    def next(self) -> tuple[int, int]:
        with self._lock:
            self.done += 1
            return self.done, self.total
