"""A shell command run in the sandbox, judged by its exit status, as a CheckResult."""

from __future__ import annotations

from pathlib import Path

from healer.checks.locations import locate
from healer.checks.logs import trim
from healer.models import CheckResult, Failure, RunResult
from healer.sandbox.base import Sandbox


def output_of(result: RunResult) -> str:
    return "\n".join(part for part in (result.stdout, result.stderr) if part.strip())


def _last_meaningful_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip() and not line.startswith("[..."):
            return line.strip()
    return ""


def run_failure(check: str, command: str, result: RunResult) -> Failure:
    """One failure that summarises a failed run: why it ended, where, and the trimmed log."""
    log = output_of(result)
    excerpt = trim(log)
    if result.timed_out:
        message = f"`{command}` did not finish within its time limit (killed)"
    elif result.oom_killed:
        message = f"`{command}` was killed for using more memory than allowed"
    else:
        last = _last_meaningful_line(excerpt) or "no output"
        message = f"`{command}` exited with status {result.exit_code}: {last[:300]}"
    file, line = locate(log)
    return Failure(check=check, message=message, file=file, line=line, excerpt=excerpt)


def to_check(name: str, command: str, result: RunResult) -> CheckResult:
    failures = [] if result.ok else [run_failure(name, command, result)]
    return CheckResult(
        name=name,
        passed=result.ok,
        command=command,
        exit_code=result.exit_code,
        duration=result.duration,
        failures=failures,
    )


def command_check(name: str, project: Path, sandbox: Sandbox, command: str, *,
                  timeout: float) -> CheckResult:
    """Run `command` over the project in the sandbox (no network) and judge it."""
    return to_check(name, command, sandbox.run(project, command, timeout=timeout))


def declared_checks(project: Path, sandbox: Sandbox, commands: list[str], *,
                    timeout: float) -> list[CheckResult]:
    """The spec's or the settings' own check commands, each in the sandbox."""
    return [
        command_check(f"check: {command}", project, sandbox, command, timeout=timeout)
        for command in commands
    ]
