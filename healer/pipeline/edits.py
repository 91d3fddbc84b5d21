"""The repair edit format: parse search/replace blocks from a model's answer and apply them.

The normal format is one block per change, preceded by the file's path on its own line:

    path/to/file.py
    <<<<<<< SEARCH
    exact old lines
    =======
    new lines
    >>>>>>> REPLACE

A SEARCH section with no line at all rewrites (or creates) the whole file; one of only
blank lines is an error. As a fallback, a fenced code
block preceded by a path line is a whole-file rewrite. Applying is all-or-nothing: every new
content is computed in memory first and nothing is written unless every edit applies.

Matching a SEARCH section against a file goes from strict to lenient and stops at the first
level that finds anything: exact lines; trailing whitespace ignored; a uniform indentation
offset (the replacement is re-indented by the same offset); blank lines ignored; and last a
fuzzy match of a same-sized window of lines, only for a SEARCH of three lines or more and
only when one region is clearly closer than any other. Two equally
good matches at any level are refused: the model must quote more context.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from healer.errors import EditError, ModelOutputError, PathEscapeError
from healer.models import Edit, Value
from healer.paths import confined, relative_path
from healer.pipeline.policy import PROTECTED_REASON, EditPolicy

log = logging.getLogger(__name__)

FUZZY_THRESHOLD = 0.9
FUZZY_MARGIN = 0.05  # the best place must be this far ahead of the next-best one
FUZZY_MIN_LINES = 3  # non-blank SEARCH lines below which nothing is matched fuzzily
PLACEHOLDER_PREFIX = "path/to/"  # the example path in the edit format's instructions

_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\b.*$", re.IGNORECASE)
_DIVIDER = re.compile(r"^\s*={7}\s*$")  # exactly seven: "=====" underlines a heading
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\b.*$", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
_PATH_DECORATION = re.compile(r"^(?:#{1,6}\s*|//\s*|\*{1,2}|>\s*|[-+]\s+|\d+\.\s+)")
_PATH_LABEL = re.compile(r"^(?:file(?:name)?|path)\s*:\s*", re.IGNORECASE)
_PATH_WORD = re.compile(r"[\w@+\-./]+")
_SKIPPED_DIRS = {".git", ".healer", "node_modules", "__pycache__", ".venv", "venv"}
_COMMENT_LABEL = re.compile(r"^(?:#|//|/\*|<!--|--|;)\s*|\s*(?:\*/|-->)$")
_BARE_NAMES = {"Makefile", "Dockerfile", "Procfile", "LICENSE", "Gemfile", "Rakefile"}


# ---------------------------------------------------------------- parsing


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
        if end is None or any(_SEARCH.match(b) or _REPLACE.match(b) for b in body):
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
        char, size = ticks[0], len(ticks)
        for j in range(self.i + 1, len(self.lines)):
            text = self.lines[j].strip()
            if text and set(text) == {char} and len(text) >= size:
                return j
        return None

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


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------- applying


class ApplyResult(Value):
    """Which files an application of edits rewrote."""

    changed: list[str]


@dataclass(frozen=True)
class EditProblem:
    index: int  # 1-based position of the edit in the list given
    path: str
    reason: str

    def describe(self) -> str:
        return f"edit {self.index} ({self.path}): {self.reason}"


class EditsNotApplied(EditError):
    """Some edits did not apply, so none were written; `problems` says which and why."""

    def __init__(self, problems: list[EditProblem], total: int) -> None:
        lines = [f"{len(problems)} of {total} edits could not be applied; no file was changed:"]
        lines += [f"- {p.describe()}" for p in problems]
        super().__init__("\n".join(lines))
        self.problems = problems


class _NoMatch(Exception):
    pass


def apply_edits(root: Path, edits: list[Edit], *, protected: Collection[str] = (),
                policy: EditPolicy | None = None) -> ApplyResult:
    """Apply every edit or none: raise EditsNotApplied (an EditError) naming each failure.

    `policy` says what edits may not do (see EditPolicy); `protected` alone is a policy that
    only keeps those paths (or globs) unchanged.
    """
    if policy is None:
        policy = EditPolicy(protected=tuple(_normalised(p) for p in protected))
    state = _Workspace(root, policy)
    problems: list[EditProblem] = []
    for index, edit in enumerate(edits, 1):
        try:
            state.apply(edit)
        except (_NoMatch, PathEscapeError) as exc:
            problems.append(EditProblem(index, edit.path, str(exc)))
    if problems:
        raise EditsNotApplied(problems, len(edits))
    return state.write()


class _Workspace:
    """The files edits touch, held in memory until every edit has applied."""

    def __init__(self, root: Path, policy: EditPolicy) -> None:
        self.root = root
        self.policy = policy
        self.original: dict[str, str | None] = {}
        self.current: dict[str, str | None] = {}
        self.crlf: dict[str, bool] = {}
        self.listing: list[str] | None = None

    def apply(self, edit: Edit) -> None:
        rel = self._resolve(relative_path(edit.path), whole_file=edit.search is None)
        if self.policy.is_protected(rel):
            raise _NoMatch(PROTECTED_REASON)
        content = self._load(rel)
        if edit.search is None:
            new = edit.replace
        elif content is None:
            raise _NoMatch(self._missing(rel))
        else:
            new = replace_once(content, edit.search, edit.replace)
        refusal = self.policy.refusal(rel, self.original[rel], new)
        if refusal:
            raise _NoMatch(refusal)
        self.current[rel] = new

    def _resolve(self, rel: str, *, whole_file: bool) -> str:
        """The project file a model meant when the path it gave does not exist.

        The prompt's own example prefix ("path/to/") is dropped. An edit that quotes existing
        lines may also name its file by a longer or shorter path ("src/app.py" for "app.py",
        or the reverse) when exactly one existing file fits.
        """
        if self._exists(rel):
            return rel
        if rel.startswith(PLACEHOLDER_PREFIX) and rel != PLACEHOLDER_PREFIX:
            stripped = rel[len(PLACEHOLDER_PREFIX) :]
            if whole_file or self._exists(stripped):
                return stripped
        if whole_file:
            return rel
        fits = [f for f in self._files() if rel.endswith("/" + f) or f.endswith("/" + rel)]
        if len(fits) == 1:
            log.info("edit for missing %s applied to %s", rel, fits[0])
            return fits[0]
        return rel

    def _missing(self, rel: str) -> str:
        name = rel.rsplit("/", 1)[-1]
        alike = [f for f in self._files() if f.rsplit("/", 1)[-1] == name]
        known = f" Files with that name: {', '.join(alike[:5])}." if alike else ""
        return (
            "file does not exist; to create it, leave the SEARCH section empty and put the "
            f"whole file in the REPLACE section.{known}"
        )

    def _exists(self, rel: str) -> bool:
        if rel in self.current:
            return self.current[rel] is not None
        return confined(self.root, rel).is_file()

    def _files(self) -> list[str]:
        if self.listing is None:
            self.listing = sorted(
                set(_project_files(self.root))
                | {p for p, text in self.current.items() if text is not None}
            )
        return self.listing

    def _load(self, rel: str) -> str | None:
        if rel in self.current:
            return self.current[rel]
        target = confined(self.root, rel)
        content: str | None = None
        if target.is_dir():
            raise _NoMatch("is a directory, not a file")
        if target.is_file():
            try:
                raw = target.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                raise _NoMatch("not a UTF-8 text file; it cannot be edited") from None
            self.crlf[rel] = "\r\n" in raw
            content = raw.replace("\r\n", "\n")
        self.original[rel] = self.current[rel] = content
        return content

    def write(self) -> ApplyResult:
        changed = []
        for rel, content in self.current.items():
            if content is None or content == self.original[rel]:
                continue
            _write_file(confined(self.root, rel), content, crlf=self.crlf.get(rel, False))
            changed.append(rel)
        log.info("edits applied: %d of %d files changed", len(changed), len(self.current))
        return ApplyResult(changed=changed)


def _project_files(root: Path) -> Iterator[str]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        for name in names:
            yield Path(folder, name).relative_to(root).as_posix()


def _normalised(pattern: str) -> str:
    try:
        return relative_path(pattern)
    except PathEscapeError:
        return pattern


def _write_file(target: Path, content: str, *, crlf: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    data = content.replace("\n", "\r\n") if crlf else content
    temporary = target.with_name(f".{target.name}.healer-tmp")
    temporary.write_bytes(data.encode("utf-8"))
    if target.exists():
        os.chmod(temporary, target.stat().st_mode & 0o7777)
    os.replace(temporary, target)


# ---------------------------------------------------------------- matching


@dataclass(frozen=True)
class _Match:
    start: int  # first file line replaced
    end: int  # one past the last file line replaced
    indent: str = ""  # whitespace to add to (or remove from) the replacement's lines
    remove: bool = False


def replace_once(content: str, search: str, replace: str) -> str:
    """`content` with the one region matching `search` replaced; _NoMatch says why not."""
    lines, final_newline = _split(content)
    wanted, _ = _split(search)
    if not any(line.strip() for line in wanted):
        raise _NoMatch("the SEARCH section holds only blank lines; quote existing lines")
    match = find_match(lines, wanted)
    new = _reindented(_split(replace)[0], match)
    result = lines[: match.start] + new + lines[match.end :]
    if not result:
        return ""
    return "\n".join(result) + ("\n" if final_newline or match.end == len(lines) else "")


def _split(text: str) -> tuple[list[str], bool]:
    if not text:
        return [], False
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), text.endswith("\n")


def find_match(lines: list[str], wanted: list[str]) -> _Match:
    """The unique region of `lines` that `wanted` quotes, trying ever more lenient levels."""
    levels: list[tuple[str, Callable[[list[str], list[str]], list[_Match]]]] = [
        ("exact", _exact),
        ("trailing whitespace ignored", _trailing),
        ("indentation ignored", _indented),
        ("blank lines ignored", _blank_tolerant),
        ("fuzzy", _fuzzy),
    ]
    for name, level in levels:
        found = level(lines, wanted)
        if len(found) == 1:
            if name != "exact":
                log.info("search text matched with %s at line %d", name, found[0].start + 1)
            return found[0]
        if len(found) > 1:
            where = ", ".join(str(m.start + 1) for m in sorted(found, key=lambda m: m.start)[:5])
            raise _NoMatch(
                f"the SEARCH text matches {len(found)} places (lines {where}); quote more "
                "surrounding lines so that it matches exactly one place"
            )
    raise _NoMatch("the SEARCH text was not found in the file. " + _closest_hint(lines, wanted))


def _exact(lines: list[str], wanted: list[str]) -> list[_Match]:
    size = len(wanted)
    return [
        _Match(i, i + size) for i in range(len(lines) - size + 1) if lines[i : i + size] == wanted
    ]


def _trailing(lines: list[str], wanted: list[str]) -> list[_Match]:
    return _exact([line.rstrip() for line in lines], [line.rstrip() for line in wanted])


def _indented(lines: list[str], wanted: list[str]) -> list[_Match]:
    size = len(wanted)
    found = []
    for i in range(len(lines) - size + 1):
        offset = _uniform_offset(lines[i : i + size], wanted)
        if offset is not None:
            found.append(_Match(i, i + size, indent=offset[0], remove=offset[1]))
    return found


def _uniform_offset(have: list[str], wanted: list[str]) -> tuple[str, bool] | None:
    """(prefix, remove?) when `have` is `wanted` shifted by one constant whitespace prefix."""
    offset: tuple[str, bool] | None = None
    for got, want in zip(have, wanted, strict=True):
        got, want = got.rstrip(), want.rstrip()
        if not got and not want:
            continue
        if not got or not want:
            return None
        if len(got) >= len(want):
            prefix, remove = got[: len(got) - len(want)], False
            if got[len(prefix) :] != want:
                return None
        else:
            prefix, remove = want[: len(want) - len(got)], True
            if want[len(prefix) :] != got:
                return None
        if prefix.strip():
            return None
        if offset is None:
            offset = (prefix, remove)
        elif offset != (prefix, remove):
            return None
    return offset


def _blank_tolerant(lines: list[str], wanted: list[str]) -> list[_Match]:
    kept = [i for i, line in enumerate(lines) if line.strip()]
    dense_wanted = [line for line in wanted if line.strip()]
    dense = [lines[i] for i in kept]
    found = []
    for m in _indented(dense, dense_wanted):
        found.append(_Match(kept[m.start], kept[m.end - 1] + 1, m.indent, m.remove))
    return found


def _fuzzy(lines: list[str], wanted: list[str]) -> list[_Match]:
    """The one window clearly closest to `wanted`, or none.

    A fuzzy match applies only to a SEARCH of FUZZY_MIN_LINES non-blank lines or more whose
    best place is at least FUZZY_MARGIN ahead of the next-best separate place (measured in
    benchmarks/results/fuzzy_margins.md: with these, no misquote landed on the wrong lines,
    and a quote of lines since rewritten applied elsewhere less than half as often). A
    near miss that does not qualify goes back to the model with the candidate places.
    """
    size = len(wanted)
    if len(lines) < size:
        return []
    ranked = sorted(((ratio, i) for i, ratio in _window_ratios(lines, wanted)),
                    key=lambda pair: (-pair[0], pair[1]))
    regions: list[tuple[float, int]] = []
    for ratio, i in ranked:
        if all(abs(i - j) >= size for _, j in regions):
            regions.append((ratio, i))
        if len(regions) == 3:
            break
    if not regions or regions[0][0] < FUZZY_THRESHOLD:
        return []
    best = regions[0][0]
    second = regions[1][0] if len(regions) > 1 else 0.0
    dense = sum(1 for line in wanted if line.strip())
    if dense >= FUZZY_MIN_LINES and best - second >= FUZZY_MARGIN:
        return [_fuzzy_match(lines, wanted, regions[0][1])]
    why = (f"it has fewer than {FUZZY_MIN_LINES} non-blank lines" if dense < FUZZY_MIN_LINES
           else "no place is clearly closer than the others")
    places = "\n".join(f"- lines {i + 1}-{i + size} ({ratio:.0%} similar):\n```\n"
                       + "\n".join(lines[i:i + size]) + "\n```" for ratio, i in regions
                       if ratio >= FUZZY_THRESHOLD - 0.1)
    raise _NoMatch(f"the SEARCH text is not in the file exactly, and a near match is not "
                   f"applied because {why}. Candidate places:\n{places}\nQuote the lines you "
                   "mean exactly as the file has them.")


def _fuzzy_match(lines: list[str], wanted: list[str], start: int) -> _Match:
    window = lines[start : start + len(wanted)]
    got = next((line for line in window if line.strip()), "")
    want = next((line for line in wanted if line.strip()), "")
    got_indent = got[: len(got) - len(got.lstrip())]
    want_indent = want[: len(want) - len(want.lstrip())]
    if got_indent.startswith(want_indent):
        return _Match(start, start + len(wanted), got_indent[len(want_indent) :], False)
    if want_indent.startswith(got_indent):
        return _Match(start, start + len(wanted), want_indent[len(got_indent) :], True)
    return _Match(start, start + len(wanted))


def _window_ratios(lines: list[str], wanted: list[str]) -> Iterator[tuple[int, float]]:
    size = len(wanted)
    target = "\n".join(line.strip() for line in wanted)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    stripped = [line.strip() for line in lines]
    for i in range(max(len(lines) - size + 1, 1)):
        matcher.set_seq1("\n".join(stripped[i : i + size]))
        if matcher.real_quick_ratio() < 0.5 or matcher.quick_ratio() < 0.5:
            continue
        yield i, matcher.ratio()


def _closest_hint(lines: list[str], wanted: list[str]) -> str:
    best = max(_window_ratios(lines, wanted), key=lambda pair: pair[1], default=None)
    if best is None or best[1] < 0.5:
        return "No similar region exists; quote lines exactly as they appear in the file."
    start, ratio = best
    end = min(start + len(wanted), len(lines))
    region = "\n".join(lines[start:end])
    return (
        f"The closest region is lines {start + 1}-{end} ({ratio:.0%} similar):\n"
        f"```\n{region}\n```\nQuote the file's current lines exactly."
    )


def _reindented(new: list[str], match: _Match) -> list[str]:
    if not match.indent:
        return new
    if not match.remove:
        return [match.indent + line if line.strip() else line for line in new]
    size = len(match.indent)
    return [line[size:] if line.startswith(match.indent) else line.lstrip() for line in new]
