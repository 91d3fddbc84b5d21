"""The edit format's parser: search/replace blocks (and fenced whole files) in a model's answer.

The normal format is one block per change, preceded by the file's path on its own line:

    path/to/file.py
    <<<<<<< SEARCH
    exact old lines
    =======
    new lines
    >>>>>>> REPLACE

A SEARCH section with no line at all rewrites (or creates) the whole file; one of only
blank lines is an error. As a fallback, a fenced code block preceded by a path line is a
whole-file rewrite.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterator

from healer.errors import ModelOutputError
from healer.models import Edit
from healer.paths import relative_path

log = logging.getLogger(__name__)

PLACEHOLDER_PREFIX = "path/to/"  # the example path in the edit format's instructions
_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\b.*$", re.IGNORECASE)
_DIVIDER = re.compile(r"^\s*={7}\s*$")  # exactly seven: "=====" underlines a heading
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\b.*$", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
_PATH_DECORATION = re.compile(r"^(?:#{1,6}\s*|//\s*|\*{1,2}|>\s*|[-+]\s+|\d+\.\s+)")
_PATH_LABEL = re.compile(r"^(?:file(?:name)?|path)\s*:\s*", re.IGNORECASE)
_PATH_WORD = re.compile(r"[\w@+\-./]+")
_COMMENT_LABEL = re.compile(r"^(?:#|//|/\*|<!--|--|;)\s*|\s*(?:\*/|-->)$")
_BARE_NAMES = {"Makefile", "Dockerfile", "Procfile", "LICENSE", "Gemfile", "Rakefile"}


def parse_edits(text: str) -> list[Edit]:
    """Every edit in a model's answer, in order; [] when it holds none.

    A fenced block under the path of a file that the same answer also edits with
    search/replace blocks is a quotation of the code, not a rewrite: it is left out.
    """
    parser = _Parser(text.splitlines())
    edits = list(parser.edits())
    quoted = {e.path for e in edits if id(e) not in parser.from_fences}
    kept = [e for e in edits if id(e) not in parser.from_fences or e.path not in quoted]
    if len(kept) < len(edits):
        log.info(
            "ignored %d fenced blocks quoting files edited by search/replace",
            len(edits) - len(kept),
        )
    return kept


def path_candidate(line: str) -> str | None:
    """The file path a line names on its own (`x.py`, "### x.py", "File: `x.py`"), else None."""
    text = line.strip()
    while True:
        stripped = _PATH_DECORATION.sub("", text, count=1).strip()
        if stripped == text:
            break
        text = stripped
    text = _PATH_LABEL.sub("", text).strip().strip("*`'\"").rstrip(":").strip("*`'\"")
    if not text or not _PATH_WORD.fullmatch(text) or text.endswith("."):
        return None
    if not re.search(r"[A-Za-z]", text):
        return None
    if "/" in text or "." in text or text in _BARE_NAMES:
        return text
    return None


def _fence_path(info: str) -> str | None:
    """A path given in a fence's info string ("```python app/x.py" or "```app/x.py")."""
    for word in re.split(r"[\s:]+", info):
        found = path_candidate(word)
        if found and ("/" in found or "." in found):
            return found
    return None


def _label_path(line: str) -> str | None:
    """A path that labels a fenced block from its first line: "# app.py", "// popup.js"."""
    found = path_candidate(_COMMENT_LABEL.sub("", line.strip()).strip())
    if found and re.search(r"\.[A-Za-z][A-Za-z0-9]{0,9}$", found):
        return found
    return None


class _Parser:
    """A single pass over the answer's lines; see `parse_edits`."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.i = 0
        self.last_path: str | None = None  # sticky: later blocks may omit a repeated path
        self.path_just_before = False  # the previous non-blank line was a path
        self.wrapper_fences = 0  # fences opened around search/replace blocks
        self.block_count = 0
        self.from_fences: set[int] = set()  # ids of whole-file edits read from fenced blocks
        self.closers = {char: _Closers(lines, char) for char in "`~"}
        self.markers = [0]  # search/replace marker lines before each line
        for line in lines:
            self.markers.append(self.markers[-1] + bool(_SEARCH.match(line) or _REPLACE.match(line)))

    def edits(self) -> Iterator[Edit]:
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if _SEARCH.match(line):
                yield self._search_replace()
            elif _REPLACE.match(line):
                raise ModelOutputError(
                    f"line {self.i + 1}: found '>>>>>>> REPLACE' without a '<<<<<<< SEARCH' "
                    "before it; start every block with '<<<<<<< SEARCH' on its own line"
                )
            elif fence := _FENCE.match(line):
                edit = self._fence(fence.group(1), fence.group(2))
                if edit is not None:
                    yield edit
                continue
            else:
                self._note_prose(line)
            self.i += 1

    def _note_prose(self, line: str) -> None:
        if not line.strip():
            return
        found = path_candidate(line)
        self.path_just_before = found is not None
        if found:
            self.last_path = found

    def _fence(self, ticks: str, info: str) -> Edit | None:
        """Handle a fence line at self.i; moves self.i past what it consumed."""
        end = self._closing_fence(ticks)
        body = self.lines[self.i + 1 : end] if end is not None else []
        info_path = _fence_path(info)
        if self.wrapper_fences and not info.strip():
            self.wrapper_fences -= 1  # closes a fence that wrapped search/replace blocks
            self.i += 1
            return None
        if end is None or self.markers[end] > self.markers[self.i + 1]:
            if info_path:
                self.last_path = info_path
            self.wrapper_fences += 1 if end is not None else 0
            self.i += 1  # step inside and read the blocks themselves
            return None
        path = info_path or (self.last_path if self.path_just_before else None)
        if path is None and body and (labelled := _label_path(body[0])):
            path, body = labelled, body[1:]
        self.i = end + 1
        self.path_just_before = False
        if path is None:
            return None
        edit = Edit(path=relative_path(path), search=None, replace=_join(body))
        self.from_fences.add(id(edit))
        return edit

    def _closing_fence(self, ticks: str) -> int | None:
        return self.closers[ticks[0]].after(self.i, len(ticks))

    def _search_replace(self) -> Edit:
        self.block_count += 1
        start = self.i
        where = f"search/replace block {self.block_count} (line {start + 1})"
        if self.last_path is None:
            raise ModelOutputError(
                f"{where} has no file path; put the file's path on its own line right before "
                "'<<<<<<< SEARCH'"
            )
        search = self._section(
            start + 1,
            _DIVIDER,
            f"{where} for {self.last_path}: the SEARCH section has no '=======' line; put "
            "'=======' on its own line between the old lines and the new lines",
        )
        replace = self._section(
            self.i + 1,
            _REPLACE,
            f"{where} for {self.last_path}: missing the closing '>>>>>>> REPLACE' line after "
            "the new lines",
        )
        self.path_just_before = False
        path = relative_path(self.last_path)
        if search and not any(line.strip() for line in search):
            raise ModelOutputError(
                f"{where} for {path}: the SEARCH section holds only blank lines; quote the "
                "existing lines to change, or leave SEARCH with no line at all to rewrite "
                "the whole file"
            )
        return Edit(path=path, search=_join(search) if search else None, replace=_join(replace))

    def _section(self, first: int, end_marker: re.Pattern[str], problem: str) -> list[str]:
        """Lines from `first` up to the end marker; self.i ends on the marker line."""
        for j in range(first, len(self.lines)):
            line = self.lines[j]
            if end_marker.match(line):
                self.i = j
                return self.lines[first:j]
            if _SEARCH.match(line) or (end_marker is _DIVIDER and _REPLACE.match(line)):
                break
        raise ModelOutputError(problem)


class _Closers:
    """The lines of an answer that only repeat one fence character, to find the one closing
    a fence without reading the rest of the answer again for every opener (a looping model
    writes thousands)."""

    def __init__(self, lines: list[str], char: str) -> None:
        self.where: list[int] = []
        self.size: list[int] = []
        for j, line in enumerate(lines):
            text = line.strip()
            if text and text == char * len(text):
                self.where.append(j)
                self.size.append(len(text))
        # the next bare fence that is longer: a walk for a long enough one skips the short
        self.longer = [len(self.size)] * len(self.size)
        stack: list[int] = []
        for k in range(len(self.size) - 1, -1, -1):
            while stack and self.size[stack[-1]] <= self.size[k]:
                stack.pop()
            if stack:
                self.longer[k] = stack[-1]
            stack.append(k)

    def after(self, line: int, size: int) -> int | None:
        """The first line after `line` that is a fence of this character at least `size` long."""
        k = bisect.bisect_right(self.where, line)
        while k < len(self.size) and self.size[k] < size:
            k = self.longer[k]
        return self.where[k] if k < len(self.size) else None


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)

