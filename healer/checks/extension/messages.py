"""Every message an extension sends by name must have a listener that handles that name.

A sent message is `chrome.runtime.sendMessage({type: 'NAME', ...})` (or tabs.sendMessage, with
the keys in NAME_KEYS). It is handled when 'NAME' appears as a string in a file, other than the
sender, that registers `onMessage.addListener`, or in a file such a listener file imports.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from healer.checks.extension.sources import import_closure, line_of, project_files, read_text
from healer.models import CheckResult, Failure

CHECK = "extension.messages"
NAME_KEYS = ("type", "action", "cmd", "command", "kind", "method", "name", "msg", "op", "event")

_SEND = re.compile(r"\b(?:chrome|browser)\.(?:runtime|tabs)\.sendMessage\s*\(")
_NAME = re.compile(r"\b(" + "|".join(NAME_KEYS) + r""")\s*:\s*(['"`])([^'"`$\n]+)\2""")
_LISTENER = re.compile(r"\bonMessage\s*\.\s*addListener\s*\(")
_CALL_SPAN = 300


@dataclass
class SentMessage:
    file: str
    line: int
    name: str
    code: str


def sent_messages(rel: str, text: str) -> list[SentMessage]:
    found = []
    for match in _SEND.finditer(text):
        span = text[match.end() : match.end() + _CALL_SPAN]
        brace = span.find("{")
        if brace < 0 or ")" in span[:brace]:
            continue  # the message is a variable, not a literal
        name = _NAME.search(span, brace)
        if name:
            code = text[match.start() : match.end() + name.end()].splitlines()[0]
            found.append(SentMessage(rel, line_of(text, match.start()), name.group(3), code))
    return found


def _handled_text(project: Path, listener_file: str) -> str:
    return "\n".join(read_text(project, rel) for rel in import_closure(project, [listener_file]))


def _handles(text: str, name: str) -> bool:
    return any(f"{q}{name}{q}" in text for q in ("'", '"', "`"))


def unhandled_messages(project: Path) -> list[Failure]:
    scripts = project_files(project, ".js")
    texts = {rel: read_text(project, rel) for rel in scripts}
    listeners = [rel for rel, text in texts.items() if _LISTENER.search(text)]
    handled = {rel: _handled_text(project, rel) for rel in listeners}
    failures = []
    for rel, text in texts.items():
        for sent in sent_messages(rel, text):
            receivers = [f for f in listeners if f != rel]
            if any(_handles(handled[f], sent.name) for f in receivers):
                continue
            where = ", ".join(receivers) if receivers else "no file registers onMessage.addListener"
            failures.append(
                Failure(
                    check=CHECK,
                    file=rel,
                    line=sent.line,
                    message=(
                        f"message {sent.name!r} is sent but no chrome.runtime.onMessage listener "
                        f"handles it (listeners: {where})"
                    ),
                    excerpt=sent.code,
                )
            )
    return failures


def messages_check(project: Path) -> CheckResult:
    started = time.monotonic()
    failures = unhandled_messages(project)
    return CheckResult(
        name=CHECK,
        passed=not failures,
        failures=failures,
        duration=time.monotonic() - started,
    )
