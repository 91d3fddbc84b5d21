"""Changes to a built folder: a request in the user's words (`healer improve`), or an edit of
the spec (`healer build` again). Either goes through the repair loop as new evidence, from the
folder as it is: nothing is generated anew, and only the files the change needs are edited.

The plan is edited for the change (search/replace blocks against it), not written anew. The
user's own edits since healer's last commit are theirs: they are committed on their own
first ("your edits"), so every change healer makes after them is a diff the user can see, and
the model is told which files they are. Requests are kept in `.healer/changes.md` and shown
with the spec in every later prompt, so a later repair does not undo them.
"""

from __future__ import annotations

import difflib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from healer.errors import EditError
from healer.models import Spec
from healer.pipeline.edit_parser import parse_edits
from healer.pipeline.edits import apply_edits
from healer.pipeline.messages import chat
from healer.prompts import render
from healer.state import add_request, load_plan, requests, save_plan
from healer.workspace import Workspace

if TYPE_CHECKING:
    from healer.llm.client import LLMClient

log = logging.getLogger(__name__)

PLAN_FILE = "plan.md"  # the name the model edits the plan under
HEADING = "## Changes asked for after the first build"


@dataclass(frozen=True)
class Change:
    request: str  # what the model is asked to do
    summary: str  # one line for commits and the report
    from_spec: bool = False  # the spec's own diff: the spec holds it, nothing to keep aside


def request(text: str) -> Change:
    return Change(request=text.strip(), summary=text.strip().splitlines()[0][:120])


def spec_edit(old: Spec, new: Spec) -> Change:
    """The spec changed: the change is its diff (and of the per-file specs)."""
    def lines(spec: Spec) -> list[str]:
        parts = [spec.text, *(f"\n## File spec: {p}\n{t}" for p, t in sorted(spec.file_specs.items()))]
        return "\n".join(parts).splitlines(keepends=True)

    diff = "".join(difflib.unified_diff(lines(old), lines(new), "spec (before)", "spec (now)"))
    return Change(request=render("spec_changed", diff=diff), summary="the spec changed",
                  from_spec=True)


def keep_users_edits(ws: Workspace) -> list[str]:
    """Commit the user's edits since healer's last commit on their own; their files."""
    files = ws.changed_files()
    if files:
        ws.commit(f"your edits, kept: {', '.join(files[:10])}")
    return files


def record(ws: Workspace, change: Change) -> None:
    if not change.from_spec:
        add_request(ws, change.request)


def with_requests(ws: Workspace, spec: Spec) -> Spec:
    """The spec as prompts show it: with the requests made since the first build."""
    asked = requests(ws)
    if not asked:
        return spec
    return spec.model_copy(update={"text": f"{spec.text.rstrip()}\n\n{HEADING}\n{asked}\n"})


def update_plan(llm: LLMClient, ws: Workspace, change: Change) -> bool:
    """Edit the shared plan for `change`; whether it changed. An answer whose edits do not
    apply leaves the plan as it was."""
    plan = load_plan(ws)
    if plan is None or not plan.text.strip():
        return False
    answer = llm.complete(chat("plan_change", plan=plan.text.strip(), request=change.request),
                          stage="plan")
    edits = [e for e in parse_edits(answer.text) if e.path == PLAN_FILE]
    if not edits:
        return False
    with tempfile.TemporaryDirectory(prefix="healer-plan-") as scratch:
        (Path(scratch) / PLAN_FILE).write_text(plan.text, encoding="utf-8")
        try:
            apply_edits(Path(scratch), edits)
        except EditError as exc:
            log.warning("the plan's edits for the change did not apply: %s", exc)
            return False
        new = (Path(scratch) / PLAN_FILE).read_text(encoding="utf-8")
    if new == plan.text:
        return False
    save_plan(ws, new)
    return True
