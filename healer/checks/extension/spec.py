"""What a spec declares for exercising an extension: stub responses and popup smoke steps.

Syntax, inside the spec's Markdown:

    ## Stubs
    - `POST https://api.example.com/v1/*` 200
      ```json
      {"answer": "stubbed"}
      ```
    - `https://cdn.example.com/*.txt` -> `plain text body`

A stub is a list item holding a URL glob in backticks (optionally preceded by an HTTP method),
an optional status code, and a body: either inline after `->` or the fenced block that follows.
A `json` fence (or a body that parses as JSON) is served as application/json.

    ## Smoke
    1. type `#prompt` `What is this page about?`
    2. click `#ask`
    3. expect `#answer` `stubbed`

Steps run in the popup, in order: `click SELECTOR`, `type SELECTOR TEXT` (fills a field),
`expect SELECTOR TEXT` (the element's text contains TEXT; without TEXT: it is visible),
`wait MILLISECONDS`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from healer.errors import SpecError

Action = Literal["click", "type", "expect", "wait"]
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_STUB_HEAD = re.compile(r"^`(?:(?P<method>[A-Z]+)\s+)?(?P<pattern>[^`]+)`\s*(?P<rest>.*)$")
_STATUS = re.compile(r"^(?:status\s*)?(?P<status>[1-5]\d\d)\b", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)\s*$")
_ARGS_NEEDED = {"click": 1, "type": 2, "expect": 1, "wait": 1}


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stub(_Value):
    """A canned answer for requests whose URL matches `pattern` (a glob)."""

    pattern: str
    body: str = "{}"
    status: int = 200
    content_type: str = "application/json"
    method: str | None = None

    def matches(self, method: str, url: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(url, self.pattern) or fnmatch.fnmatchcase(
            url.split("?", 1)[0], self.pattern
        )


class SmokeStep(_Value):
    action: Action
    selector: str = ""
    text: str = ""

    def __str__(self) -> str:
        parts = [self.action] + [f"`{a}`" for a in (self.selector, self.text) if a]
        return " ".join(parts)


class ExtensionSpec(_Value):
    stubs: list[Stub] = Field(default_factory=list)
    smoke: list[SmokeStep] = Field(default_factory=list)

    def stub_map(self) -> dict[str, Stub]:
        """The stubs keyed by pattern, the shape `extension_checks(stubs=...)` takes."""
        return {(f"{s.method} " if s.method else "") + s.pattern: s for s in self.stubs}


def stub_from_value(pattern: str, value: object) -> Stub:
    """A Stub from a `stubs` mapping entry: a Stub, a JSON-able value or a text body."""
    if isinstance(value, Stub):
        return value
    method = None
    head = pattern.split(None, 1)
    if len(head) == 2 and head[0].isupper() and head[0].isalpha():
        method, pattern = head
    if isinstance(value, str):
        return Stub(pattern=pattern, method=method, body=value, content_type=_guess_type(value, ""))
    return Stub(pattern=pattern, method=method, body=json.dumps(value))


def _guess_type(body: str, language: str) -> str:
    if language in ("json", "jsonc"):
        return "application/json"
    if language == "html":
        return "text/html"
    if language:
        return "text/plain"
    try:
        json.loads(body)
    except ValueError:
        return "text/plain"
    return "application/json"


def _sections(markdown: str) -> dict[str, list[tuple[int, str]]]:
    """Lines (with 1-based numbers) under each heading, keyed by lower-cased heading text."""
    sections: dict[str, list[tuple[int, str]]] = {}
    current: list[tuple[int, str]] | None = None
    level = 0
    in_fence = False
    for number, line in enumerate(markdown.splitlines(), 1):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading and (current is None or len(heading.group(1)) <= level):
            key = heading.group(2).strip().lower()
            level = len(heading.group(1))
            current = (
                sections.setdefault(key, []) if key.split()[:1] in (["stubs"], ["smoke"]) else None
            )
            continue
        if current is not None:
            current.append((number, line))
    return sections


def _fenced_block(lines: list[tuple[int, str]], start: int) -> tuple[str, str, int] | None:
    """(body, language, next index) of a fenced block starting at or after `start`."""
    index = start
    while index < len(lines) and not lines[index][1].strip():
        index += 1
    if index >= len(lines):
        return None
    fence = _FENCE.match(lines[index][1])
    if not fence:
        return None
    marker, language = fence.group(1), fence.group(2).lower()
    body = []
    for end in range(index + 1, len(lines)):
        if lines[end][1].strip().startswith(marker):
            return "\n".join(body), language, end + 1
        body.append(lines[end][1])
    raise SpecError(f"line {lines[index][0]}: unterminated code block in the Stubs section")


def _dedent(body: str) -> str:
    indents = [len(line) - len(line.lstrip()) for line in body.splitlines() if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in body.splitlines()).strip()


def parse_stubs(lines: list[tuple[int, str]]) -> list[Stub]:
    stubs = []
    index = 0
    while index < len(lines):
        number, line = lines[index]
        index += 1
        item = _ITEM.match(line)
        head = _STUB_HEAD.match(item.group(1).strip()) if item else None
        if not head:
            continue
        rest = head.group("rest").strip()
        status = 200
        status_match = _STATUS.match(rest)
        if status_match:
            status = int(status_match.group("status"))
            rest = rest[status_match.end() :].strip()
        rest = rest.rstrip(":").strip()
        if rest.startswith("->"):
            body = rest[2:].strip().strip("`").strip()
            language = ""
        else:
            block = _fenced_block(lines, index)
            if block is None:
                raise SpecError(f"line {number}: stub {head.group('pattern')!r} has no body")
            body, language, index = block
            body = _dedent(body)
        stubs.append(
            Stub(
                pattern=head.group("pattern").strip(),
                method=head.group("method"),
                status=status,
                body=body,
                content_type=_guess_type(body, language),
            )
        )
    return stubs


def parse_step(text: str, where: str = "") -> SmokeStep:
    """One step from `click \\`#go\\``-style text."""
    words = text.strip().split(None, 1)
    action = words[0].lower() if words else ""
    if action == "fill":
        action = "type"
    if action not in _ARGS_NEEDED:
        raise SpecError(f"{where}unknown smoke step {text!r}; use click, type, expect or wait")
    rest = words[1] if len(words) > 1 else ""
    args = re.findall(r"`([^`]*)`", rest)
    if not args and rest:
        args = rest.split(None, 1)
        args = [a.strip().strip("'\"") for a in args]
    if len(args) < _ARGS_NEEDED[action]:
        raise SpecError(f"{where}smoke step {text!r} needs {_ARGS_NEEDED[action]} argument(s)")
    if action == "wait":
        if not args[0].isdigit():
            raise SpecError(f"{where}wait needs a number of milliseconds, got {args[0]!r}")
        return SmokeStep(action="wait", text=args[0])
    return SmokeStep(action=action, selector=args[0], text=args[1] if len(args) > 1 else "")


def parse_smoke(lines: list[tuple[int, str]]) -> list[SmokeStep]:
    steps = []
    for number, line in lines:
        item = _ITEM.match(line)
        if item:
            steps.append(parse_step(item.group(1), where=f"line {number}: "))
    return steps


def parse_extension_spec(markdown: str) -> ExtensionSpec:
    """The Stubs and Smoke sections of a spec; missing sections give empty lists."""
    stubs: list[Stub] = []
    smoke: list[SmokeStep] = []
    for heading, lines in _sections(markdown).items():
        if heading.startswith("stubs"):
            stubs += parse_stubs(lines)
        elif heading.startswith("smoke"):
            smoke += parse_smoke(lines)
    return ExtensionSpec(stubs=stubs, smoke=smoke)
