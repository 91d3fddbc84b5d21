"""Benchmark cases: one spec to build each, from Exercism exercises or healer's examples.

An Exercism exercise folder holds `instructions.md`, the stub `<module>.py`, the official
`<module>_test.py` and `meta.json`. It becomes a spec in a work folder: the instructions, the
stub's signatures and a `## Tests` section naming the copied official tests, so the model reads
them but never changes them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from healer.spec import sections_of

REPO_ROOT = Path(__file__).resolve().parent.parent
EXERCISM_ENV = "HEALER_EXERCISM_DIR"
EXAMPLES_DIR = REPO_ROOT / "examples"
SUITES = ("exercism", "examples", "all")
# A spec section that makes healer check an example against its spec.
ACCEPTANCE_HEADINGS = ("tests", "acceptance tests", "checks", "smoke")


@dataclass(frozen=True)
class Case:
    """One benchmark spec: where it comes from and how to lay it out for a build."""

    name: str
    suite: str  # "exercism" or "examples"
    source: Path  # the exercise or example folder
    difficulty: int | None = None

    def prepare(self, work: Path) -> Path:
        """Write (or find) the spec file to build; returns its path."""
        if self.suite == "examples":
            return self.source / "spec.md"
        return write_exercism_spec(self.source, work / self.name)


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


def default_exercism_dir() -> Path:
    """`$HEALER_EXERCISM_DIR`, else `../shared/benchmarks/exercism` beside the repository."""
    env = os.environ.get(EXERCISM_ENV)
    return Path(env) if env else REPO_ROOT.parent / "shared" / "benchmarks" / "exercism"


# ---------------------------------------------------------------- Exercism


def _meta(folder: Path) -> dict:
    return json.loads((folder / "meta.json").read_text(encoding="utf-8"))


def exercism_cases(root: Path) -> list[Case]:
    if not root.is_dir():
        return []
    cases = []
    for folder in sorted(p for p in root.iterdir() if (p / "meta.json").is_file()):
        difficulty = _meta(folder).get("difficulty")
        cases.append(Case(folder.name, "exercism", folder, difficulty))
    return cases


def write_exercism_spec(exercise: Path, target: Path) -> Path:
    """Lay out `spec.md` and the official tests beside it; returns the spec's path."""
    meta = _meta(exercise)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for test in meta["test"]:
        shutil.copy2(exercise / test, target / test)
    spec = exercism_spec_text(exercise, meta)
    (target / "spec.md").write_text(spec, encoding="utf-8")
    return target / "spec.md"


def exercism_spec_text(exercise: Path, meta: dict) -> str:
    solution = meta["solution"][0]
    stub = (exercise / solution).read_text(encoding="utf-8").rstrip()
    instructions = _demote_headings((exercise / "instructions.md").read_text(encoding="utf-8"))
    tests = meta["test"]
    lines = [
        f"# {meta.get('slug', exercise.name)}",
        "",
        instructions.strip(),
        "",
        "## Module",
        (f"The project is exactly one file: the Python module `{solution}` at the top level of "
        "the project (not inside a folder or package), using only the standard library. The "
        f"tests beside it import from it (`from {Path(solution).stem} import ...`); they are "
        "given, so write no test files. Keep these names and signatures:"),
        "",
        "```python",
        stub,
        "```",
        "",
        "## Tests",
        *[f"- {name}" for name in tests],
        "",
    ]
    return "\n".join(lines)


def _demote_headings(markdown: str) -> str:
    """Instructions' own headings one level down, so they never open a section healer reads."""
    out, in_code = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        if not in_code and re.match(r"^#{1,5}\s", line):
            line = "#" + line
            if re.match(r"^#+\s+(tests|acceptance tests|checks|keep)\s*$", line, re.IGNORECASE):
                line += " (from the exercise)"
        out.append(line)
    return "\n".join(out)


# ---------------------------------------------------------------- examples


def has_acceptance_checks(spec: Path) -> bool:
    text = spec.read_text(encoding="utf-8")
    if sections_of(text).get("tests") or sections_of(text).get("checks"):
        return True
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.MULTILINE)
    return any(h.strip().lower().rstrip(":") in ACCEPTANCE_HEADINGS for h in headings)


def example_cases(root: Path = EXAMPLES_DIR) -> tuple[list[Case], list[Skipped]]:
    cases, skipped = [], []
    for folder in sorted(p for p in root.iterdir() if (p / "spec.md").is_file()):
        if has_acceptance_checks(folder / "spec.md"):
            cases.append(Case(folder.name, "examples", folder))
        else:
            skipped.append(Skipped(folder.name, "its spec declares no acceptance checks"))
    return cases, skipped


# ---------------------------------------------------------------- selection


def select(cases: list[Case], *, only: list[str] | None = None, skip: list[str] | None = None,
           difficulty_max: int | None = None, limit: int | None = None) -> list[Case]:
    """Filter by name and difficulty (examples have none and always pass that filter), easiest
    first, then keep the first `limit`."""
    chosen = [c for c in cases if not only or c.name in only]
    chosen = [c for c in chosen if c.name not in (skip or [])]
    if difficulty_max is not None:
        chosen = [c for c in chosen if c.difficulty is None or c.difficulty <= difficulty_max]
    chosen.sort(key=lambda c: (c.difficulty if c.difficulty is not None else 0, c.suite, c.name))
    return chosen[:limit] if limit is not None else chosen


def discover(suite: str, exercism_dir: Path, examples_dir: Path = EXAMPLES_DIR
             ) -> tuple[list[Case], list[Skipped]]:
    cases: list[Case] = []
    skipped: list[Skipped] = []
    if suite in ("exercism", "all"):
        cases += exercism_cases(exercism_dir)
    if suite in ("examples", "all"):
        found, skipped = example_cases(examples_dir)
        cases += found
    return cases, skipped
