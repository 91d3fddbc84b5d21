"""Sandbox checks for JavaScript: `node --check` on every .js file, `npm test` if declared."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from healer.checks.commands import command_check, to_check
from healer.checks.locations import project_path
from healer.checks.logs import trim
from healer.checks.static import project_files
from healer.hostread import project_text
from healer.models import CheckResult, Failure
from healer.sandbox.base import Sandbox

FILE_MARKER = "=====healer-node-check====="
NPM_DEFAULT_TEST = 'echo "Error: no test specified" && exit 1'
_LOCATION = re.compile(r"^(\S+\.[cm]?js):(\d+)$", re.MULTILINE)


def _syntax_failures(output: str) -> list[Failure]:
    failures = []
    for chunk in output.split(FILE_MARKER)[1:]:
        name, _, log = chunk.strip().partition("\n")
        if not log.strip():
            continue
        match = _LOCATION.search(log)
        line = int(match.group(2)) if match else None
        error = next((l for l in log.splitlines() if "Error" in l), log.strip().splitlines()[-1])
        failures.append(Failure(check="node-syntax", message=error.strip(),
                                file=project_path(name.strip()), line=line, excerpt=trim(log)))
    return failures


def syntax_check(project: Path, sandbox: Sandbox, timeout: float) -> CheckResult:
    files = [p.relative_to(project).as_posix() for p in project_files(project, ".js")]
    if not files:
        return CheckResult(name="node-syntax", passed=True, skipped=True, detail="no .js files")
    loop = " ".join(shlex.quote(f) for f in files)
    command = (f"status=0; for f in {loop}; do out=$(node --check \"$f\" 2>&1) || "
               f"{{ status=1; echo '{FILE_MARKER}' \"$f\"; echo \"$out\"; }}; done; exit $status")
    result = sandbox.run(project, command, timeout=timeout)
    check = to_check("node-syntax", "node --check *.js", result)
    check.detail = f"{len(files)} file(s)"
    if not result.ok and not result.timed_out:
        check.failures = _syntax_failures(result.stdout + result.stderr) or check.failures
    return check


def test_script(project: Path) -> str | None:
    try:
        scripts = json.loads(project_text(project / "package.json") or "{}").get("scripts", {})
    except (json.JSONDecodeError, AttributeError):
        return None
    script = scripts.get("test") if isinstance(scripts, dict) else None
    return script if isinstance(script, str) and script.strip() != NPM_DEFAULT_TEST else None


def npm_test_check(project: Path, sandbox: Sandbox, timeout: float) -> CheckResult:
    if test_script(project) is None:
        return CheckResult(name="npm-test", passed=True, skipped=True, detail="no test script")
    return command_check("npm-test", project, sandbox, "npm test --silent", timeout=timeout)


def node_checks(project: Path, sandbox: Sandbox, timeout: float, *,
                ignore: list[str] = ()) -> list[CheckResult]:
    return [syntax_check(project, sandbox, timeout), npm_test_check(project, sandbox, timeout)]
