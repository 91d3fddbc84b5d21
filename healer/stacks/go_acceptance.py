"""Go acceptance tests: the user's `_test.go` files, run alone and judged by their ids.

Code under test runs before any test in the same process (package `init`), so it could print
`--- PASS` lines and exit, and `go test -json` would report passes. A run therefore proves it
ran the test to its end: healer adds a sentinel test with a fresh random name to each
package, after the user's (a file named to sort last), runs each test in a process of its own
with the sentinel selected by a pattern (the command line never holds its name), and an id
passes only when its run reports it passed once, never failed, then the sentinel passed. The run also
checks the user's files are unchanged, leaves out every other `_test.go` of the project, and
is void when the project's Go code replaces standard output or reaches into the runtime.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from healer.errors import PathEscapeError
from healer.hostread import read_source
from healer.models import CheckResult, Failure, RunResult
from healer.paths import confined
from healer.stacks.base import source_files

NAME = "acceptance"
_TEST = re.compile(r"^func\s+(Test[A-Z_0-9]\w*|Test)\s*\(\s*\w+\s+\*testing\.T\s*\)", re.MULTILINE)
_PACKAGE = re.compile(r"^\s*package\s+(\w+)", re.MULTILINE)
CHANGED = "=====healer-go-acceptance-changed"
RUN_MARKER = "=====healer-go-acceptance-run"
SENTINEL = "TestHealerSentinel"
# signs, in the code the acceptance tests run with, of a run being rewired
TAMPER = {
    "os.Stdout =": "replaces standard output", "os.Stderr =": "replaces standard error",
    "syscall.Dup": "duplicates file descriptors", "unix.Dup": "duplicates file descriptors",
    "go:linkname": "links to the runtime's private symbols", '"unsafe"': "imports unsafe",
    "/proc/": "reads process information", "func TestMain(": "defines TestMain",
    "testing.M": "drives the test binary", "debug/elf": "reads its own binary",
    "debug/gosym": "reads its own binary", "os.Executable": "finds its own binary",
}
SHOWN = 8


def module_path(project: Path) -> str:
    from healer.stacks.go import module_path as read

    return read(project)


class GoAcceptance:
    def owns(self, rel: str) -> bool:
        return rel.endswith("_test.go")

    def ids(self, rel: str, source: str) -> list[str]:
        return [f"{rel}::{m.group(1)}" for m in _TEST.finditer(source)]

    def prepare(self, project: Path, files: dict[str, str]) -> GoRun:
        return GoRun(project, files)


@dataclass
class GoRun:
    project: Path
    files: dict[str, str]  # acceptance test path -> the sha256 of the user's file
    sentinel: str = field(default_factory=lambda: f"{SENTINEL}{secrets.token_hex(8)}")

    @property
    def folders(self) -> list[str]:
        return sorted({str(PurePosixPath(rel).parent) for rel in self.files})

    def _package(self, folder: str) -> str:
        """The package the sentinel joins: the external test package (`x_test`) when one of
        the folder's files is in it, since its tests run after the package's own."""
        names = []
        for rel in sorted(self.files):
            if str(PurePosixPath(rel).parent) == folder:
                match = _PACKAGE.search(self._text(rel))
                names.append(match.group(1) if match else "main")
        return next((n for n in names if n.endswith("_test")), names[0])

    def tests(self) -> list[tuple[str, str]]:
        """(file, test name) of every test of the acceptance files, in order."""
        runner = GoAcceptance()
        return [(rel, test_id.split("::", 1)[1]) for rel in sorted(self.files)
                for test_id in runner.ids(rel, self._text(rel))]

    def _text(self, rel: str) -> str:
        """An acceptance file's text: only a plain file inside the project is read (the
        folder's contract may name a link out of it, or a FIFO that would hang the read)."""
        try:
            path = confined(self.project, rel)
        except PathEscapeError:
            return ""
        return "" if path.is_symlink() or not path.is_file() else read_source(path)

    @property
    def command(self) -> str:
        """Checks the user's files, leaves out every other test file, adds the sentinels, then
        runs each test in a process of its own (a test that panics ends only its own run),
        with the sentinel selected by a pattern, not by its name."""
        keep = " ".join(f"! -path {shlex.quote('./' + rel)}" for rel in sorted(self.files))
        steps = [f"if ! printf '%s  %s\\n' {shlex.quote(digest)} {shlex.quote(rel)} | "
                 f"sha256sum -c --quiet >/dev/null 2>&1; then echo '{CHANGED}' "
                 f"{shlex.quote(rel)}; exit 1; fi" for rel, digest in sorted(self.files.items())]
        steps.append(f"find . -name '*_test.go' {keep} -type f -delete")
        for folder in self.folders:
            source = (f"package {self._package(folder)}\n\nimport \"testing\"\n\n"
                      f"func {self.sentinel}(t *testing.T) {{}}\n")
            path = f"{folder}/zzzz_healer_sentinel_test.go"
            steps.append(f"printf '%s' {shlex.quote(source)} > {shlex.quote(path)}")
        steps.append("status=0")
        for rel, name in self.tests():
            folder = str(PurePosixPath(rel).parent)
            package = shlex.quote(f"./{folder}" if folder != "." else ".")
            pattern = shlex.quote(f"^({name}|{SENTINEL}[0-9a-f]+)$")
            steps.append(f"echo {shlex.quote(f'{RUN_MARKER} {rel}::{name}')}")
            steps.append(f"go test -json -count=1 -run {pattern} {package} || status=1")
        steps.append("exit $status")
        return "\n".join(steps)

    def judge(self, ids: Sequence[str], result: RunResult) -> CheckResult:
        check = CheckResult(name=NAME, passed=False, command="go test -json (acceptance tests)",
                            exit_code=result.exit_code, duration=result.duration,
                            tests_total=len(ids), tests_passed=0)
        problems = self._tamper() + self._changed(result.stdout)
        runs = _runs(result.stdout)
        verdicts = {i: self._verdict(i, runs.get(i, [])) for i in ids}
        passed = [i for i, v in verdicts.items() if v == "passed"]
        if problems or result.timed_out or result.oom_killed:
            passed = []
        check.tests_passed, check.passed_tests = len(passed), passed
        check.passed = len(passed) == len(ids) and result.exit_code == 0 and not problems
        check.failures = [*(Failure(check=NAME, message=f"the acceptance run was tampered "
                                    f"with: {p}; no test of this run counts") for p in problems),
                          *self._failures(verdicts, result)]
        check.detail = f"acceptance tests passed: {check.tests_passed} of {len(ids)}"
        return check

    def _verdict(self, test_id: str, events: list[dict]) -> str:
        """From the events of the test's own run: passed once, never failed, then the
        sentinel passed."""
        name = test_id.partition("::")[2]
        ends = [(n, e["Action"]) for n, e in enumerate(events)
                if e.get("Test") == name and e.get("Action") in ("pass", "fail", "skip")]
        sentinel = [n for n, e in enumerate(events)
                    if e.get("Test") == self.sentinel and e.get("Action") == "pass"]
        if not ends:
            return "not run"
        if [a for _, a in ends] != ["pass"]:
            return "failed" if any(a == "fail" for _, a in ends) else \
                "skipped" if len(ends) == 1 else "reported twice"
        if not sentinel or sentinel[0] < ends[0][0]:
            return "not proven: the run ended before healer's sentinel test"
        return "passed"

    def _tamper(self) -> list[str]:
        """Signs in any of the project's Go code but the tests (every package the tests
        import, at any depth, runs its `init` in the same process)."""
        found = []
        for path in sorted(source_files(self.project, (".go",))):
            rel = path.relative_to(self.project).as_posix()
            if rel.endswith("_test.go"):  # the user's, or left out of the run
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{rel} {what}" for sign, what in TAMPER.items() if sign in text]
        return found

    def _changed(self, stdout: str) -> list[str]:
        return [f"{line.split(' ', 1)[-1]} is not the user's file any more"
                for line in stdout.splitlines() if line.startswith(CHANGED)]

    def _failures(self, verdicts: dict[str, str], result: RunResult) -> list[Failure]:
        from healer.stacks.go import located, test_failures

        module = module_path(self.project)
        failures, _ = test_failures(result.stdout, module)
        failures = [f.model_copy(update={"check": NAME}) for f in failures]
        if not any(e.get("Test") for e in _events(result.stdout)) and not result.ok:
            failures += [f.model_copy(update={"check": NAME})  # it did not build
                         for f in located(result.stdout + result.stderr, NAME)]
        missing = {i: v for i, v in verdicts.items() if v not in ("passed", "failed")}
        if missing:
            shown = ", ".join(f"{i} ({v})" for i, v in list(missing.items())[:SHOWN])
            failures.append(Failure(check=NAME, file=next(iter(missing)).split("::")[0],
                                    message=f"acceptance tests that did not pass: {shown}",
                                    excerpt=(result.stdout + result.stderr)[-1500:]))
        return failures[:50]


def _runs(stdout: str) -> dict[str, list[dict]]:
    """The events of each test's own run, by the id its marker line names."""
    runs: dict[str, list[str]] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith(RUN_MARKER + " "):
            current = runs.setdefault(line[len(RUN_MARKER) + 1:].strip(), [])
        elif current is not None:
            current.append(line)
    return {test_id: _events("\n".join(lines)) for test_id, lines in runs.items()}


def _events(stdout: str) -> list[dict]:
    found = []
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and isinstance(event.get("Action"), str):
            found.append(event)
    return found


GO_ACCEPTANCE = GoAcceptance()
