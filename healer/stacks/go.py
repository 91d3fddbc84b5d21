"""The Go stack: Debian's Go toolchain; `go mod download` fetches go.mod's requirements from
the Go module proxy into /deps/go; the checks are `go build`, `go vet` and `go test -json`,
each failure placed at its file and line."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from healer.hostread import project_text
from healer.models import CheckResult, Failure
from healer.sandbox.base import Sandbox
from healer.sandbox.project import DEPS, SRC
from healer.stacks.base import Evidence, Stack, source_files
from healer.stacks.go_acceptance import GO_ACCEPTANCE

MODULE_CACHE = f"{DEPS}/go/mod"
PROXY = "https://proxy.golang.org"  # modules by path from the proxy only: never a VCS fetch
DEFAULT_MODULE = "healer.local/project"  # a project without go.mod yet is checked as this
# "./calc.go:7:2: undefined: x", "calc_test.go:12: got 1, want 2"
_LOCATION = re.compile(r"^\s*(?:\./)?([\w./@+-]+\.go):(\d+)(?::\d+)?:\s*(.*)$")
_PANIC = re.compile(r"^\s*panic: (.+)$", re.MULTILINE)
# a goroutine's frame in the project: "\t/work/calc.go:7 +0x1d" (the toolchain's start with /)
_FRAME = re.compile(r"^\s+(?:/work/)?(?!/)([\w.@+-][\w./@+-]*\.go):(\d+)(?: \+0x[0-9a-f]+)?$",
                    re.MULTILINE)
_REQUIRE = re.compile(r"^\s*require\b", re.MULTILINE)
_LOCAL_REPLACE = re.compile(r"=>\s*(\.{1,2}/|/)\S*")
EXCERPT_LINES = 30


def module_path(project: Path) -> str:
    text = project_text(project / "go.mod") or ""
    match = re.search(r"^\s*module\s+(\S+)", text, re.MULTILINE)
    return match.group(1).strip('"') if match else DEFAULT_MODULE


def module_proxy() -> str:
    """The host's GOPROXY (a company's module mirror), its https proxies only: never `direct`
    (a fetch from the module's own repository) nor a `file://` one; else the Go proxy."""
    kept = [part for part in re.split(r"[,|]", os.environ.get("GOPROXY", ""))
            if part.startswith("https://")]
    return ",".join(kept) or PROXY


def located(output: str, check: str, folder: str = "") -> list[Failure]:
    """One failure per `file.go:line: message` line of a go tool's output."""
    failures = []
    for line in output.splitlines():
        match = _LOCATION.match(line)
        if match:
            path = f"{folder}/{match.group(1)}" if folder and "/" not in match.group(1) \
                else match.group(1)
            failures.append(Failure(check=check, file=path, line=int(match.group(2)),
                                    message=match.group(3).strip() or line.strip(),
                                    excerpt=line.strip()))
    return failures


def test_failures(stdout: str, module: str) -> tuple[list[Failure], dict[str, int]]:
    """Failures of `go test -json`: one per failing test, at the line its output names, and
    the counts of passed, failed and skipped tests."""
    output: dict[tuple[str, str], list[str]] = {}
    failures, counts = [], {"pass": 0, "fail": 0, "skip": 0}
    for raw in stdout.splitlines():
        try:
            event = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if not isinstance(event, dict) or not event.get("Test"):
            continue
        key = (str(event.get("Package", "")), str(event["Test"]))
        action = event.get("Action")
        if action == "output":
            output.setdefault(key, []).append(str(event.get("Output", "")))
        elif action in counts:
            counts[action] += 1
            if action == "fail":
                failures.append(_test_failure(key, output.get(key, []), module))
    return failures, counts


def _test_failure(key: tuple[str, str], lines: list[str], module: str) -> Failure:
    package, test = key
    folder = package[len(module) + 1:] if package.startswith(module + "/") else ""
    said = [line.rstrip() for line in lines if line.strip() and not line.startswith(("=== ", "--- "))]
    text = "\n".join(said)
    where = located(text, "go-test", folder)
    first = where[0] if where else _panic(text)
    message = f"{test}: {first.message}" if first else f"{test} failed"
    return Failure(check="go-test", message=f"{package} {message}",
                   file=first.file if first else None, line=first.line if first else None,
                   excerpt="\n".join(said[-EXCERPT_LINES:]))


def _panic(text: str) -> Failure | None:
    """A test that panicked: the panic's message, at the first frame in the project's code."""
    panic = _PANIC.search(text)
    if panic is None:
        return None
    frame = _FRAME.search(text, panic.end())
    return Failure(check="go-test", message=f"panic: {panic.group(1).strip()}",
                   file=frame.group(1) if frame else None,
                   line=int(frame.group(2)) if frame else None)


class GoStack(Stack):
    name = "go"
    priority = 40
    check_names = ("go-build", "go-vet", "go-test")
    dependency_files = ("go.mod", "go.sum")
    source_suffixes = (".go",)
    test_patterns = ("*_test.go",)
    fence = "go"
    acceptance = GO_ACCEPTANCE

    def detect(self, project: Path) -> Evidence:
        if (project / "go.mod").is_file() or any(True for _ in source_files(project, (".go",))):
            return Evidence.FOUND
        return Evidence.NONE

    def environment(self) -> dict[str, str]:
        return {"GOPATH": "/tmp/go", "GOCACHE": "/tmp/go-cache", "GOMODCACHE": MODULE_CACHE,
                "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOSUMDB": "off",
                "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOTELEMETRY": "off"}

    def setup(self) -> str:
        return f"[ -f go.mod ] || go mod init {DEFAULT_MODULE} >/dev/null 2>&1 || true"

    def install(self, project: Path, *, wheels_only: bool) -> list[str]:
        if not _REQUIRE.search(project_text(project / "go.mod") or ""):
            return []
        copy = f"cp {SRC}/go.mod /tmp/gomod/ && if [ -f {SRC}/go.sum ]; then cp {SRC}/go.sum /tmp/gomod/; fi"
        return [(f"mkdir -p /tmp/gomod {MODULE_CACHE} && {copy} && cd /tmp/gomod && "
                f"GOPROXY={shlex.quote(module_proxy())} GOSUMDB=sum.golang.org go mod download")]

    def dependency_problems(self, project: Path) -> list[str]:
        gomod = project / "go.mod"
        text = project_text(gomod)
        if text is None:
            return ["go.mod is a link, or not a plain file under 1 MB"] \
                if os.path.lexists(gomod) else []
        return [f"go.mod line {number}: `{line.strip()[:80]}`"
                for number, line in enumerate(text.splitlines(), 1)
                if _LOCAL_REPLACE.search(line)]

    def checks(self, project: Path, sandbox: Sandbox, timeout: float, *,
               ignore: Sequence[str] = ()) -> list[CheckResult]:
        build = self._tool_check("go-build", "go build ./...", project, sandbox, timeout)
        if not build.passed:
            why = "the build failed"
            return [build, *(CheckResult(name=n, passed=True, skipped=True, detail=why)
                             for n in ("go-vet", "go-test"))]
        return [build, self._tool_check("go-vet", "go vet ./...", project, sandbox, timeout),
                self._test_check(project, sandbox, timeout, ignore)]

    def _tool_check(self, name: str, command: str, project: Path, sandbox: Sandbox,
                    timeout: float) -> CheckResult:
        from healer.checks.commands import to_check

        result = sandbox.run(project, command, timeout=timeout)
        check = to_check(name, command, result)
        if not result.ok and not result.timed_out and not result.oom_killed:
            check.failures = located(result.stdout + result.stderr, name) or check.failures
        return check

    def _test_check(self, project: Path, sandbox: Sandbox, timeout: float,
                    ignore: Sequence[str]) -> CheckResult:
        """The project's own tests: the acceptance tests (`ignore`) run apart."""
        from healer.checks.commands import to_check

        ignored = set(ignore)
        own = [p for p in source_files(project, (".go",)) if fnmatch.fnmatch(p.name, "*_test.go")
               and p.relative_to(project).as_posix() not in ignored]
        if not own:
            return CheckResult(name="go-test", passed=True, skipped=True, detail="no test files")
        drop = " ".join(shlex.quote(rel) for rel in sorted(ignored) if rel.endswith(".go"))
        command = (f"rm -f {drop} && " if drop else "") + "go test -json ./..."
        result = sandbox.run(project, command, timeout=timeout)
        check = to_check("go-test", command, result)
        failures, counts = test_failures(result.stdout, module_path(project))
        check.detail = ", ".join(f"{n} {word}" for word, n in
                                 zip(("passed", "failed", "skipped"), counts.values()) if n)
        if not result.ok and not result.timed_out and not result.oom_killed:
            # a package that does not compile fails before any test: its errors are on stderr
            check.failures = failures or located(result.stderr, "go-test") or check.failures
        return check


STACK = GoStack()
