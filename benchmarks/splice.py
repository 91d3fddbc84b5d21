"""Would splicing merge candidates? Measured on finished builds, with no model call.

For each round of a build, the version it kept (A) and the version of the build so far that
best complements it (B: passing the most acceptance tests A fails, as `combine` picks it) are
spliced: A with one function, class or method of B put in, for each that differs
(`healer.strategies.combine.checked_splices`, as the `combine` candidate makes them). Each
splice is checked in the sandbox, on a copy of the build folder, and the table shows whether
one passes more acceptance tests than A and B each.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from healer.state import read_report
from healer.strategies.combine import (
    Version,
    checked_splices,
    complement,
    tests_passed,
    version_of,
    versions,
)
from healer.workspace import Workspace


@dataclass(frozen=True)
class Row:
    build: str
    round: int
    base: Version
    other: Version
    spliced: dict[str, int]  # definition put in -> acceptance tests passed
    total: int | None

    @property
    def best(self) -> int:
        return max(self.spliced.values(), default=0)

    @property
    def gains(self) -> bool:
        return self.best > max(len(self.base.passed), len(self.other.passed))


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                          text=True).stdout


def measure(build: Path, work: Path) -> list[Row]:
    """The splices of each round of `build`, checked on a copy of it under `work`."""
    from healer import api

    report = read_report(build)
    if report is None:
        raise SystemExit(f"{build} holds no healer report")
    copy = work / build.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(build, copy, symlinks=True)
    rows = []
    for i, rnd in enumerate(report.rounds):
        base = version_of(rnd)  # what the next round starts from, and what it knows by then:
        other = complement(base, versions(report.rounds[:i + 1])) if base is not None else None
        if base is None or other is None:
            continue
        _git(copy, "checkout", "-q", "-f", base.commit)
        spliced = {f"{path}:{name}": tests_passed(checks) for path, name, _, checks in
                   checked_splices(Workspace(copy), copy, (base, other), protected=[],
                                   check=lambda: api.check(copy))}
        total = rnd.acceptance.tests_total if rnd.acceptance else None
        rows.append(Row(build.name, rnd.index, base, other, spliced, total))
    shutil.rmtree(copy, ignore_errors=True)
    return rows


def table(rows: list[Row]) -> str:
    lines = [("| build | round | A (kept) passes | B passes | both | best splice passes | "
             "spliced definitions |"), "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        union = len(r.base.passed | r.other.passed)
        detail = ", ".join(f"{name} {n}" for name, n in r.spliced.items()) or "(none differ)"
        lines.append(f"| {r.build} | {r.round} | {len(r.base.passed)}/{r.total} | "
                     f"{len(r.other.passed)} | {union} | {r.best}"
                     f"{' (more than each)' if r.gains else ''} | {detail} |")
    gained = sum(r.gains for r in rows)
    lines += ["", (f"{len(rows)} pairs; a splice passed more tests than both versions in "
                  f"{gained}.")]
    return "\n".join(lines) + "\n"
