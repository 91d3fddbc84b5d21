"""How often a fuzzy SEARCH match lands on the wrong lines, by size of SEARCH and margin.

Windows of real Python files (the standard library) are quoted with one slip of the kind
models make: one character changed, one token changed, one line left out. Each misquote is
matched against its file the way the edit matcher does (same-sized windows, stripped lines);
a match "applies" when its ratio passes the threshold, it is ahead of the next-best separate
place by the margin, and the SEARCH has enough non-blank lines. Printed per rule: how many
misquotes apply at the right place, how many at a wrong one, how many are refused.

    python -m benchmarks fuzzy-margins [--files 300] [--seed 1]
"""

from __future__ import annotations

import random
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from healer.pipeline.edit_match import _window_ratios

SIZES = (1, 2, 3, 5, 8)
THRESHOLD = 0.9
MARGINS = (0.0, 0.02, 0.05, 0.1)
MIN_LINES = (1, 2, 3)
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+|[-+*/<>=!%]")


@dataclass
class Trial:
    size: int
    true_start: int  # -1: the quoted lines are gone from the file (a stale SEARCH)
    best: tuple[float, int] | None  # (ratio, start)
    second: float  # ratio of the next-best place that does not overlap the best


def _slip(lines: list[str], rng: random.Random) -> list[str] | None:
    out = list(lines)
    kind = rng.choice(("char", "token", "drop"))
    if kind == "drop" and len(out) > 2:
        del out[rng.randrange(len(out))]
        return out
    i = rng.randrange(len(out))
    tokens = list(_TOKEN.finditer(out[i]))
    if not tokens:
        return None
    tok = rng.choice(tokens)
    if kind == "char" or not tok.group().isidentifier():
        pos = rng.randrange(tok.start(), tok.end())
        new = out[i][:pos] + rng.choice("abcxyz+-*") + out[i][pos + 1:]
    else:
        new = out[i][:tok.start()] + rng.choice(("value", "result", "x", "self")) + out[i][tok.end():]
    if new == out[i]:
        return None
    out[i] = new
    return out


def _match(lines: list[str], quoted: list[str], size: int, start: int) -> Trial:
    ratios = sorted(((r, i) for i, r in _window_ratios(lines, quoted)), reverse=True)
    if not ratios:
        return Trial(size, start, None, 0.0)
    best = ratios[0]
    second = next((r for r, i in ratios[1:] if abs(i - best[1]) >= len(quoted)), 0.0)
    return Trial(size, start, best, second)


def _trials(lines: list[str], size: int, rng: random.Random) -> list[Trial]:
    """A misquote of lines that are there, and a quote of lines since rewritten (stale)."""
    starts = [i for i in range(len(lines) - size + 1)
              if all(line.strip() for line in lines[i:i + size])]
    if not starts:
        return []
    start = rng.choice(starts)
    window = lines[start:start + size]
    found = []
    quoted = _slip(window, rng)
    if quoted is not None and quoted != window:
        found.append(_match(lines, quoted, size, start))
    rest = lines[:start] + lines[start + size:]
    if window not in (rest[i:i + size] for i in range(len(rest))):
        found.append(_match(rest, window, size, -1))
    return found


def _applies(t: Trial, margin: float | None, min_lines: int) -> bool:
    """margin None: the earlier rule, one place above the threshold and no other."""
    if t.best is None or t.size < min_lines:
        return False
    if margin is None:
        return t.best[0] >= THRESHOLD and t.second < THRESHOLD
    return t.best[0] >= THRESHOLD and t.best[0] - t.second >= margin


def measure(files: int = 300, seed: int = 1) -> list[Trial]:
    rng = random.Random(seed)
    sources = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    rng.shuffle(sources)
    trials = []
    for path in sources[:files]:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[:400]
        for size in SIZES:
            trials += _trials(lines, size, rng)
    return trials


def _right(t: Trial) -> bool:
    """At the quoted place; a dropped line may shift the window by up to two lines."""
    return t.true_start >= 0 and abs(t.best[1] - t.true_start) <= 2


def table(trials: list[Trial]) -> str:
    rows = [("| min lines | margin | misquote: right place | misquote: wrong place | misquote: "
            "refused | stale: applied (wrong) | stale: refused |"), "|---|---|---|---|---|---|---|"]
    for min_lines, margin in [(1, None), *((n, m) for n in MIN_LINES for m in MARGINS)]:
        counts = dict.fromkeys(("right", "wrong", "refused", "stale", "stale_refused"), 0)
        for t in trials:
            applied = _applies(t, margin, min_lines)
            if t.true_start < 0:
                counts["stale" if applied else "stale_refused"] += 1
            else:
                counts["refused" if not applied else "right" if _right(t) else "wrong"] += 1
        shown = "only one place above the threshold" if margin is None else f"{margin:.2f}"
        rows.append(f"| {min_lines} | {shown} | " + " | ".join(map(str, counts.values())) + " |")
    return "\n".join(rows)


def main(files: int = 300, seed: int = 1) -> str:
    trials = measure(files, seed)
    slips = [t for t in trials if t.true_start >= 0]
    by_size = {s: sum(1 for t in slips if t.size == s) for s in SIZES}
    head = (f"{len(slips)} misquoted SEARCH texts and {len(trials) - len(slips)} stale ones "
            f"(lines since rewritten) from {files} standard-library files; misquotes per SEARCH "
            f"size {by_size}; threshold {THRESHOLD}")
    return head + "\n\n" + table(trials)
