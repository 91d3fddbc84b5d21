"""Where a SEARCH section is in a file: from strict to lenient, stopping at the first level
that finds anything: exact lines; trailing whitespace ignored; a uniform indentation offset
(the replacement is re-indented by the same offset); blank lines ignored; and last a fuzzy
match of a same-sized window of lines, only for a SEARCH of three lines or more and only when
one region is clearly closer than any other. Two equally good matches at any level are
refused: the model must quote more context.

`place_fragment` is for the answer that sends one changed line as if it were the whole file:
the one line it clearly rewrites.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)

FUZZY_THRESHOLD = 0.9
FUZZY_MARGIN = 0.05  # the best place must be this far ahead of the next-best one
FUZZY_MIN_LINES = 3  # non-blank SEARCH lines below which nothing is matched fuzzily
# file lines x SEARCH lines squared above which no near match is looked for: each window is
# a comparison quadratic in the SEARCH (a 100-line SEARCH that matched nothing in a 400-line
# file took 8 s, 200 lines in 800: 59 s); an 8-line SEARCH in a 3,000-line file stays in
FUZZY_BUDGET = 1_000_000
# non-blank lines a fragment sent as a whole file may have: a region of more lines may have
# had more or fewer lines before the change, and a window of the fragment's size would leave
# some behind (in candidates-full, every such answer was one line)
FRAGMENT_MAX_LINES = 1
FRAGMENT_THRESHOLD = 0.6  # a changed line is less like its place than a quoted one


class NoMatch(Exception):
    """A SEARCH section that is not in the file, or is there more than once."""


@dataclass(frozen=True)
class _Match:
    start: int  # first file line replaced
    end: int  # one past the last file line replaced
    indent: str = ""  # whitespace to add to (or remove from) the replacement's lines
    remove: bool = False


def replace_once(content: str, search: str, replace: str) -> str:
    """`content` with the one region matching `search` replaced; NoMatch says why not."""
    lines, final_newline = _split(content)
    wanted, _ = _split(search)
    if not any(line.strip() for line in wanted):
        raise NoMatch("the SEARCH section holds only blank lines; quote existing lines")
    match = find_match(lines, wanted)
    new = _reindented(_split(replace)[0], match)
    result = lines[: match.start] + new + lines[match.end :]
    if not result:
        return ""
    return "\n".join(result) + ("\n" if final_newline or match.end == len(lines) else "")


def place_fragment(content: str, fragment: str) -> str:
    """`content` with the one line that `fragment`, a changed line a model sent as the whole
    file, rewrites: one that starts with the same word (`return`, `def`, `self.total`), at least
    FRAGMENT_THRESHOLD alike and FUZZY_MARGIN closer than any other. NoMatch when no line is
    clearly the one."""
    lines, final_newline = _split(content)
    new = _split(fragment.strip("\n") + "\n")[0]
    dense = [line for line in new if line.strip()]
    if not dense or len(dense) > FRAGMENT_MAX_LINES or len(lines) < len(new):
        raise NoMatch("not one line of the file")
    head = _first_word(dense[0])
    ranked = sorted(((ratio, i) for i, ratio in _window_ratios(lines, new)
                     if lines[i].strip() and _first_word(lines[i]) == head),
                    key=lambda pair: (-pair[0], pair[1]))
    if not ranked or ranked[0][0] < FRAGMENT_THRESHOLD:
        raise NoMatch("no line of the file is like it")
    ratio, start = ranked[0]
    others = [r for r, i in ranked[1:] if abs(i - start) >= len(new)]
    if others and ratio - others[0] < FUZZY_MARGIN:
        raise NoMatch("more than one line of the file is like it")
    match = _fuzzy_match(lines, new, start)
    log.info("a one-line answer for the whole file placed at line %d (%.0f%% alike)",
             start + 1, ratio * 100)
    result = lines[:start] + _reindented(new, match) + lines[match.end:]
    return "\n".join(result) + ("\n" if final_newline else "")


def _first_word(line: str) -> str:
    """`return` of `    return x`, `@property` of a decorator, `self.total` of an assignment."""
    return re.match(r"[@\w.]*", line.strip()).group()  # type: ignore[union-attr]


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
            raise NoMatch(
                f"the SEARCH text matches {len(found)} places (lines {where}); quote more "
                "surrounding lines so that it matches exactly one place"
            )
    raise NoMatch("the SEARCH text was not found in the file. " + _closest_hint(lines, wanted))


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
    raise NoMatch(f"the SEARCH text is not in the file exactly, and a near match is not "
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
    if _too_costly(lines, wanted):
        return
    target = "\n".join(line.strip() for line in wanted)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    stripped = [line.strip() for line in lines]
    for i in range(max(len(lines) - size + 1, 1)):
        matcher.set_seq1("\n".join(stripped[i : i + size]))
        if matcher.real_quick_ratio() < 0.5 or matcher.quick_ratio() < 0.5:
            continue
        yield i, matcher.ratio()


def _too_costly(lines: list[str], wanted: list[str]) -> bool:
    return len(lines) * len(wanted) ** 2 > FUZZY_BUDGET


def _closest_hint(lines: list[str], wanted: list[str]) -> str:
    if _too_costly(lines, wanted):
        return ("It is too long to look for a near match in this file: quote fewer lines, "
                "exactly as they appear.")
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
