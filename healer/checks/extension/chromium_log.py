"""Reading Chromium's own log (--enable-logging): extension load errors and script errors."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENTRY = re.compile(r"^\[\d+:\d+:[\d/.]+:(?P<level>[A-Z]+):(?P<origin>[^\]]*)\]\s?", re.MULTILINE)
_CONSOLE = re.compile(
    r'^"(?P<message>.*)", source: (?P<source>\S*) \((?P<line>\d+)\)\s*$', re.DOTALL
)
_EXTENSION_URL = re.compile(
    r"chrome-extension://[a-p]{32}/(?P<path>[^\s:?#)\"']+)(?::(?P<line>\d+))?"
)
_JSON_POSITION = re.compile(r"line (?P<line>\d+)(?:,)? column (?P<column>\d+)")
_LOAD_FILE = re.compile(r"Could not load (?:javascript|css|icon|file)? ?'(?P<file>[^']*)'")
ERROR_PREFIXES = (
    "Uncaught",
    "Error in event handler",
    "Unchecked runtime.lastError",
    "Error handling response",
    "Service worker registration failed",
)


@dataclass
class LogEntry:
    level: str
    origin: str
    text: str


@dataclass
class LogError:
    message: str
    file: str | None
    line: int | None
    excerpt: str


def parse_log(text: str) -> list[LogEntry]:
    entries = []
    matches = list(_ENTRY.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        entries.append(LogEntry(match.group("level"), match.group("origin"), body))
    return entries


def extension_file(url: str) -> tuple[str | None, int | None]:
    """(relative path, line) of the first chrome-extension:// location in a text."""
    match = _EXTENSION_URL.search(url)
    if not match:
        return None, None
    line = match.group("line")
    return match.group("path"), int(line) if line else None


def load_errors(entries: list[LogEntry], service_worker: str | None) -> list[LogError]:
    """'Extension error: Failed to load extension ...' lines, pointed at the file at fault."""
    errors = []
    for entry in entries:
        if "Extension error" not in entry.text and "load_error_reporter" not in entry.origin:
            continue
        message = entry.text.replace("Extension error: ", "", 1)
        file, line = "manifest.json", None
        position = _JSON_POSITION.search(message)
        missing = _LOAD_FILE.search(message)
        if "not valid JSON" in message and position:
            line = int(position.group("line"))
        elif "background script" in message and service_worker:
            file = service_worker
        elif missing and missing.group("file"):
            file = missing.group("file")
        errors.append(LogError(message=message, file=file, line=line, excerpt=entry.text))
    return errors


def script_errors(entries: list[LogEntry]) -> list[LogError]:
    """Uncaught errors and failed event handlers reported by any extension context."""
    errors = []
    for entry in entries:
        if not entry.origin.startswith("CONSOLE"):
            continue
        console = _CONSOLE.match(entry.text)
        if not console:
            continue
        message = console.group("message")
        if not message.startswith(ERROR_PREFIXES):
            continue
        file, line = extension_file(message)
        if file is None:
            file, _ = extension_file(console.group("source"))
            line = int(console.group("line")) or None
        errors.append(
            LogError(message=message.splitlines()[0], file=file, line=line, excerpt=message)
        )
    return errors
