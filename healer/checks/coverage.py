"""No vacuous green: source files in a language healer has no checks for fail the build.

Without this, a project of Rust files passes every check by skipping them all. A language
is checked when the stack the project runs in has it (healer.stacks: Go, with its stack).
"""

from __future__ import annotations

from pathlib import Path

from healer.models import CheckResult, Failure
from healer.sandbox.project import EXCLUDED
from healer.stacks import languages_of, stack_for

NAME = "coverage"
UNCHECKED_LANGUAGES = {
    ".go": "Go", ".rs": "Rust", ".java": "Java", ".kt": "Kotlin", ".scala": "Scala",
    ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".cxx": "C++", ".hpp": "C++",
    ".cs": "C#", ".rb": "Ruby", ".php": "PHP", ".swift": "Swift", ".ts": "TypeScript",
    ".tsx": "TypeScript", ".hs": "Haskell", ".ex": "Elixir", ".exs": "Elixir", ".lua": "Lua",
    ".dart": "Dart", ".jl": "Julia", ".zig": "Zig", ".nim": "Nim", ".pl": "Perl", ".r": "R",
    ".m": "Objective-C", ".fs": "F#", ".clj": "Clojure", ".erl": "Erlang", ".ml": "OCaml",
}
SHOWN = 10


def unchecked_files(project: Path) -> list[tuple[str, str]]:
    """(path, language) of every project file in a language healer cannot check."""
    found = []
    checked = {suffix for stack in languages_of(stack_for(project))
               for suffix in stack.source_suffixes}
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project)
        if any(part in EXCLUDED for part in rel.parts) or path.is_symlink() or not path.is_file():
            continue
        language = UNCHECKED_LANGUAGES.get(path.suffix.lower())
        if language and path.suffix.lower() not in checked:
            found.append((rel.as_posix(), language))
    return found


def coverage_check(project: Path) -> CheckResult:
    found = unchecked_files(project)
    failures = [Failure(check=NAME, file=rel, message=f"healer has no checks for {rel} ({lang})")
                for rel, lang in found[:SHOWN]]
    if len(found) > SHOWN:
        failures[-1].message += f" (and {len(found) - SHOWN} more files healer cannot check)"
    if not found:
        return CheckResult(name=NAME, passed=True, skipped=True, detail="every file has checks")
    return CheckResult(name=NAME, passed=False, failures=failures,
                       detail=f"{len(found)} file(s) no check covers")
