"""A sandbox with no container and no process, for fast tests of the loop's own logic.

`FakeSandbox(judge)` answers the checks' commands the way healer's parsers read them: compile,
import and CLI probes pass, and the project's pytest run is a JUnit report made from
`judge(files)`, which gets the project's text files and says, per test id, None (passed) or
the failure's traceback text (its last line is the message). Nothing of the project runs. It cannot sign an acceptance report (only
healer's plugin inside a real sandbox can), so a spec with acceptance tests is never green
here: the loop tests that need those use the real sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from healer.checks.pytest_report import MARKER
from healer.models import RunResult

Judge = Callable[[dict[str, str]], dict[str, str | None]]


def _files(project: Path) -> dict[str, str]:
    return {p.relative_to(project).as_posix(): p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(project.rglob("*")) if p.is_file() and ".healer" not in p.parts
            and ".git" not in p.parts}


def junit(verdicts: dict[str, str | None]) -> str:
    cases = []
    for test_id, problem in verdicts.items():
        file, _, name = test_id.partition("::")
        classname = file[:-3].replace("/", ".")
        body = (f"<failure message={quoteattr(problem.splitlines()[-1])}>"
                f"{escape(problem)}</failure>" if problem else "")
        cases.append(f'<testcase classname="{classname}" name="{name}" file="{file}" '
                     f'line="0">{body}</testcase>')
    failed = sum(1 for p in verdicts.values() if p)
    return (f'<testsuites><testsuite name="pytest" tests="{len(verdicts)}" failures="{failed}" '
            f'errors="0" skipped="0">{"".join(cases)}</testsuite></testsuites>')


class FakeSandbox:
    """The Sandbox protocol, answered by `judge` (see the module docstring)."""

    name = "fake"

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self.commands: list[str] = []

    def prepare(self, project: Path, *, timeout: float | None = None) -> RunResult | None:
        return None

    def run(self, project: Path, command: str, *, timeout: float,
            network: bool = False) -> RunResult:
        self.commands.append(command)
        if MARKER not in command:  # compile, import, --help: nothing to fail here
            return RunResult(exit_code=0, stdout="")
        verdicts = self.judge(_files(Path(project)))
        failed = [t for t, p in verdicts.items() if p]
        log = "\n".join(f"{t} {'FAILED' if verdicts[t] else 'PASSED'}" for t in verdicts)
        return RunResult(exit_code=1 if failed else (0 if verdicts else 5),
                         stdout=f"{log}\n{MARKER}\n{junit(verdicts)}\n")

    def close(self) -> None:
        pass
