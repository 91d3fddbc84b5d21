"""Stage 2: the list of files to write, as structured output with a forgiving parser."""

from __future__ import annotations

import json
import logging
import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from healer.errors import ModelOutputError, PathEscapeError
from healer.models import FileList, Plan, PlannedFile, Spec
from healer.paths import relative_path
from healer.pipeline.layout import align_with_tests
from healer.pipeline.messages import chat
from healer.pipeline.policy import EditPolicy
from healer.prompts import render
from healer.spec import (
    FILE_NAME,
    acceptance_files,
    file_purposes,
    named_files,
    prompt_text,
    sections_of_files,
)

if TYPE_CHECKING:
    from healer.llm.client import LLMClient

log = logging.getLogger(__name__)
STAGE = "file_list"
ATTEMPTS = 3
MAX_FILES = 200  # files of one planned project (a list longer than that is a model rambling)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "purpose": {"type": "string"}},
                "required": ["path"],
            },
        }
    },
    "required": ["files"],
}
PATH_LIKE = re.compile(r"^[\w./-]*\w\.[A-Za-z0-9]+$|^(Makefile|Dockerfile|LICENSE|Procfile)$")


def stated_file_list(spec: Spec) -> FileList | None:
    """The file list the spec already gives, so that no model call is spent asking for it:
    the files of its `## Files` section (and those with per-file specs), or the one file a spec names
    when it names exactly one (as "a single module `wordfreq.py`" does). None otherwise."""
    fixed = set(acceptance_files(spec)) | set(spec.keep)
    if sections_of_files(spec):
        named = [p for p in named_files(spec) if p not in fixed]
    else:
        mentioned = {m for m in re.findall(r"`([^`\s]+)`", spec.text) if FILE_NAME.match(m)}
        named = sorted(mentioned - fixed - {PurePosixPath(p).name for p in fixed})
        if len(named) != 1:
            return None
    policy, purposes = EditPolicy.for_spec(spec), file_purposes(spec)
    files = [PlannedFile(path=p, purpose=purposes.get(p) or "named in the spec") for p in named
             if policy.may_create(p)]
    return FileList(files=files) if files else None


def make_file_list(llm: LLMClient, spec: Spec, plan: Plan) -> FileList:
    """Ask for the file list; a prose or malformed answer is retried, never crashes the run."""
    fixed = set(acceptance_files(spec)) | set(spec.keep)
    exclude = ""
    if fixed:
        exclude = "\n" + render("exclude_note", names=", ".join(sorted(fixed))).strip()
    messages = chat("file_list", spec=prompt_text(spec), plan=plan.text, exclude_note=exclude)
    reason = ""
    for attempt in range(ATTEMPTS):
        answer = llm.complete(messages, stage=STAGE, json_schema=SCHEMA,
                              temperature=None if attempt == 0 else 0.4)
        try:
            files = parse_file_list(answer.text)
        except ModelOutputError as exc:
            reason = str(exc)
            messages = [*messages, {"role": "assistant", "content": answer.text},
                        {"role": "user", "content": render("file_list_retry", reason=reason)}]
            continue
        policy = EditPolicy.for_spec(spec)  # no test infrastructure the spec does not name
        wanted = [f for f in files if f.path not in fixed and policy.may_create(f.path)]
        kept = align_with_tests(FileList(files=wanted), acceptance_files(spec))
        kept = with_named_files(kept, [p for p in named_files(spec) if p not in fixed])
        if kept.files:
            return kept
        reason = "it lists no file to write"
    raise ModelOutputError(f"no usable file list after {ATTEMPTS} answers: {reason}")


def with_named_files(file_list: FileList, named: list[str]) -> FileList:
    """Add the files the spec names that the model left out (a small model drops some)."""
    planned = {f.path for f in file_list.files}
    missing = [path for path in named if path not in planned]
    if missing:
        log.info("adding files the spec names but the file list left out: %s", ", ".join(missing))
    return FileList(files=[*file_list.files,
                           *(PlannedFile(path=p, purpose="named in the spec") for p in missing)])


def parse_file_list(text: str) -> list[PlannedFile]:
    """JSON (object, list of objects or strings) anywhere in the text, else path-like lines."""
    data = _find_json(text)
    raw = _entries(data) if data is not None else _path_lines(text)
    files: dict[str, PlannedFile] = {}
    for path, purpose in raw:
        try:
            clean = relative_path(path)
        except PathEscapeError as exc:
            raise ModelOutputError(f"unsafe path in the file list: {exc}") from exc
        if clean.endswith("/"):
            continue
        if any(_nests(clean, other) or _nests(other, clean) for other in files):
            log.info("file list: %s left out (a file and a folder of one name)", clean)
            continue
        files.setdefault(clean, PlannedFile(path=clean, purpose=purpose))
    if not files:
        raise ModelOutputError("no file paths found in the answer")
    if len(files) > MAX_FILES:
        raise ModelOutputError(f"the file list names {len(files)} files; healer writes at most "
                               f"{MAX_FILES} in one build (split the spec)")
    return list(files.values())


def _nests(folder: str, path: str) -> bool:
    return path.startswith(folder + "/")


def _find_json(text: str) -> Any | None:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        except RecursionError:  # nested hundreds deep: no file list, whatever follows
            return None
        if isinstance(value, (dict, list)):
            return value
    return None


def _entries(data: Any) -> list[tuple[str, str]]:
    if isinstance(data, dict):
        for key in ("files", "file_list", "paths", "filepaths"):
            if key in data:
                return _entries(data[key])
        return [(k, str(v)) for k, v in data.items() if isinstance(k, str) and PATH_LIKE.match(k)]
    entries = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, str):
            entries.append((item, ""))
        elif isinstance(item, dict):
            path = item.get("path") or item.get("file") or item.get("name") or item.get("filename")
            if isinstance(path, str):
                entries.append((path, str(item.get("purpose") or item.get("description") or "")))
    return entries


def _path_lines(text: str) -> list[tuple[str, str]]:
    entries = []
    for line in text.splitlines():
        match = re.match(r"^\s*(?:[-*+]|\d+[.)])?\s*`?([\w./-]+)`?\s*(?:[:\-–—]\s*(.*))?$", line)
        if match and PATH_LIKE.match(match.group(1)):
            entries.append((match.group(1), (match.group(2) or "").strip()))
    return entries
