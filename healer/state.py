"""What healer keeps in a folder's `.healer/`, read and written here only: the spec it was
built from (its text, hash and whole value), the shared plan, the file list, the acceptance
contract, the run report (JSON for machines, Markdown for people) and the changes asked for
since. The folder's own mechanics (git, copies of replaced files, screenshots) are the
Workspace's.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from pydantic import ValidationError

from healer.checks.acceptance import Contract
from healer.models import FileList, Plan, RunReport, Spec
from healer.workspace import FILE_LIST, Workspace

log = logging.getLogger(__name__)

PLAN = "plan.md"
SPEC = "spec.md"
SPEC_HASH = "spec.sha256"
SPEC_VALUE = "spec.json"
CONTRACT = "acceptance.json"
REPORT_JSON = "report.json"
REPORT_MARKDOWN = "report.md"
CHANGES = "changes.md"


# ---------------------------------------------------------------- the spec


def spec_hash(spec: Spec) -> str:
    payload = json.dumps([spec.text, spec.file_specs, spec.acceptance_tests], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def save_spec(ws: Workspace, spec: Spec) -> None:
    """The spec the folder is built from: its text (read by people), hash and whole value."""
    ws.state.mkdir(parents=True, exist_ok=True)
    (ws.state / SPEC).write_text(spec.text, encoding="utf-8")
    (ws.state / SPEC_HASH).write_text(spec_hash(spec) + "\n")
    (ws.state / SPEC_VALUE).write_text(spec.model_dump_json(indent=2) + "\n")


def saved_spec(ws: Workspace) -> Spec | None:
    """The spec of the folder's last build, or None (not healer's, or built before it was
    kept whole)."""
    path = ws.state / SPEC_VALUE
    return Spec.model_validate_json(path.read_text()) if path.is_file() else None


def saved_spec_text(root: Path) -> str:
    """The text of the spec a folder was built from ("" when healer did not build it)."""
    path = Workspace(root).state / SPEC  # a state folder holding links is refused
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def same_spec(ws: Workspace, spec: Spec) -> bool:
    saved = ws.state / SPEC_HASH
    return saved.is_file() and saved.read_text().strip() == spec_hash(spec)


# ---------------------------------------------------------------- plan and file list


def load_plan(ws: Workspace) -> Plan | None:
    path = ws.state / PLAN
    return Plan(text=path.read_text(encoding="utf-8")) if path.is_file() else None


def save_plan(ws: Workspace, text: str) -> None:
    (ws.state / PLAN).write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def load_file_list(ws: Workspace) -> FileList | None:
    path = ws.state / FILE_LIST
    return FileList.model_validate_json(path.read_text()) if path.is_file() else None


def save_file_list(ws: Workspace, file_list: FileList) -> None:
    (ws.state / FILE_LIST).write_text(file_list.model_dump_json(indent=2) + "\n")


def forget_plan(ws: Workspace) -> None:
    """The plan and file list of an earlier spec: gone, to be made again."""
    for stale in (PLAN, FILE_LIST):
        (ws.state / stale).unlink(missing_ok=True)


# ---------------------------------------------------------------- acceptance contract


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


# ---------------------------------------------------------------- report


def save_report(ws: Workspace, report: RunReport) -> None:
    from healer.report import render_markdown, report_data

    ws.state.mkdir(parents=True, exist_ok=True)
    tmp = ws.state / (REPORT_JSON + ".tmp")
    tmp.write_text(json.dumps(report_data(report), indent=2) + "\n")
    tmp.replace(ws.state / REPORT_JSON)
    (ws.state / REPORT_MARKDOWN).write_text(render_markdown(report), encoding="utf-8")


def load_report(ws: Workspace) -> RunReport | None:
    return read_report(ws.root)


def read_report(project: Path) -> RunReport | None:
    """The report a run left in `project`, or None when there is none (or it is unreadable)."""
    path = Workspace(project).state / REPORT_JSON  # a state folder holding links is refused
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        data.pop("usage", None)
        return RunReport.model_validate(data)
    except (ValueError, ValidationError) as exc:
        log.warning("ignoring an unreadable report %s: %s", path, exc)
        return None


# ---------------------------------------------------------------- changes asked for


def add_request(ws: Workspace, text: str) -> None:
    with (ws.state / CHANGES).open("a", encoding="utf-8") as handle:
        handle.write(f"- {text}\n")


def requests(ws: Workspace) -> str:
    """The changes asked for since the first build, as a Markdown list ("" for none)."""
    path = ws.state / CHANGES
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""
