"""Trim long logs around their errors, never blindly.

A log is split into lines, noise (ANSI colours, progress bars, pip's download chatter) is
dropped, then the lines that matter are kept whole: Python tracebacks from their header to
the exception line, pytest failure sections with their assertion diffs, and error lines with
a little context. Whatever is left out is replaced by an explicit "[... N lines ...]" marker.
"""

from __future__ import annotations

import re

MAX_CHARS = 4000
CONTEXT = 2

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NOISE = re.compile(
    r"^\s*(Collecting |Downloading |Using cached |Requirement already satisfied|"
    r"Installing collected packages|Obtaining |Preparing metadata|Building wheel|"
    r"Created wheel|Stored in directory|Getting requirements|npm (WARN|notice) |"
    r"added \d+ packages|up to date, audited)"
    r"|[━─█▌▏▎▍▋▊▉|#=\- ]{10,}.*(\d+%|MB/s|kB/s|eta)"
)
_ERROR = re.compile(
    r"(Error|Exception|error:|ERROR|FAILED|FAIL\b|Traceback|^E\s|\bfailed\b|"
    r"^\s*\^+\s*$|Uncaught|panic|assert)",
    re.IGNORECASE,
)
_SECTION = re.compile(r"^_{3,} .+ _{3,}$")  # pytest: "____ test_name ____"
_RULE = re.compile(r"^={3,}.*={3,}$")  # pytest: "==== short test summary info ===="


def clean(text: str) -> list[str]:
    """Lines without colours, carriage-return progress updates or installer chatter."""
    lines = []
    for raw in _ANSI.sub("", text).split("\n"):
        line = raw.rsplit("\r", 1)[-1].rstrip()
        if not _NOISE.search(line):
            lines.append(line)
    return lines


def _traceback_end(lines: list[str], start: int) -> int:
    """Index after the exception line that closes the traceback starting at `start`."""
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line and not line[0].isspace() and not line.startswith("Traceback"):
            if line.startswith(("During handling", "The above exception")):
                continue
            return i + 1
    return len(lines)


def _section_end(lines: list[str], start: int) -> int:
    for i in range(start + 1, len(lines)):
        if _SECTION.match(lines[i]) or _RULE.match(lines[i]):
            return i
    return len(lines)


def blocks(lines: list[str]) -> list[tuple[int, int]]:
    """[start, end) spans worth keeping whole, in order, merged where they touch."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("Traceback (most recent call last)"):
            end = _traceback_end(lines, i)
        elif _SECTION.match(line):
            end = _section_end(lines, i)
        elif _ERROR.search(line):
            spans.append((max(0, i - CONTEXT), min(len(lines), i + CONTEXT + 1)))
            i += 1
            continue
        else:
            i += 1
            continue
        spans.append((i, end))
        i = max(end, i + 1)
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _gap(count: int) -> str:
    return f"[... {count} line{'s' if count != 1 else ''} ...]"


def _shorten_block(block: list[str], budget: int) -> list[str]:
    """A block too long for the budget keeps its head and its tail (where the error is)."""
    head: list[str] = []
    tail: list[str] = []
    used = 0
    for line in reversed(block):
        if used + len(line) + 1 > budget * 2 // 3:
            break
        tail.insert(0, line)
        used += len(line) + 1
    for line in block[: len(block) - len(tail)]:
        if used + len(line) + 1 > budget - 40:
            break
        head.append(line)
        used += len(line) + 1
    omitted = len(block) - len(head) - len(tail)
    return head + ([_gap(omitted)] if omitted else []) + tail


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def trim(text: str, max_chars: int = MAX_CHARS) -> str:
    """The log reduced to what explains its failure, at most about `max_chars` characters."""
    lines = clean(text)
    if _size(lines) <= max_chars:
        return "\n".join(lines).strip("\n")
    spans = blocks(lines) or [(max(0, len(lines) - 40), len(lines))]
    chosen = _fit(spans, lines, max_chars)
    out: list[str] = []
    cursor = 0
    for start, end, body in chosen:
        if start > cursor:
            out.append(_gap(start - cursor))
        out.extend(body)
        cursor = end
    if cursor < len(lines):
        out.append(_gap(len(lines) - cursor))
    return "\n".join(out)


def _fit(spans: list[tuple[int, int]], lines: list[str], max_chars: int):
    """Keep the first and the last blocks first (the cause and the outcome), then others."""
    order = [0, len(spans) - 1] + list(range(1, len(spans) - 1)) if len(spans) > 1 else [0]
    budget = max_chars
    kept: dict[int, list[str]] = {}
    for index in order:
        if index in kept:
            continue
        start, end = spans[index]
        body = lines[start:end]
        if _size(body) > budget:
            if budget < 200 and kept:
                continue
            body = _shorten_block(body, max(budget, 200))
        kept[index] = body
        budget -= _size(body) + 20
        if budget <= 0:
            break
    return [(spans[i][0], spans[i][1], kept[i]) for i in sorted(kept)]
