"""Sandbox checks for Python projects: compile, import every module, pytest, CLI --help."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

from healer.checks.commands import command_check, run_failure, to_check
from healer.checks.locations import locate
from healer.checks.logs import trim
from healer.checks.pytest_report import counts, failures_from_junit, pytest_command, split_output
from healer.checks.static import project_files
from healer.hostread import project_text
from healer.models import CheckResult, Failure
from healer.sandbox.base import Sandbox
from healer.stacks.python import TEST_PATTERNS

IMPORT_MARKER = "=====healer-import-failed====="
# Imports each module named on the command line; reports each failure after a marker line.
_IMPORT_PROBE = f"""
import importlib, sys, traceback
failed = 0
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException:
        failed += 1
        print({IMPORT_MARKER!r}, name, flush=True)
        traceback.print_exc(file=sys.stdout)
sys.exit(1 if failed else 0)
"""
NOT_MODULES = {"setup", "conftest", "__main__", "noxfile", "manage"}


def _path_prefix(project: Path) -> str:
    return "PYTHONPATH=src:$PYTHONPATH " if (project / "src").is_dir() else ""


def _is_module_file(entry: Path) -> bool:
    plain = entry.suffix == ".py" and entry.stem not in NOT_MODULES and entry.stem.isidentifier()
    return plain and not any(entry.match(p) for p in TEST_PATTERNS)


def top_level_modules(project: Path) -> list[str]:
    """Modules and packages at the root (or in src/), tests and setup scripts left out."""
    base = project / "src" if (project / "src").is_dir() else project
    names = []
    for entry in sorted(base.iterdir()):
        if entry.is_dir() and (entry / "__init__.py").is_file() and entry.name not in ("tests", "test"):
            names.append(entry.name)
        elif _is_module_file(entry):
            names.append(entry.stem)
    return names


def test_files(project: Path) -> list[str]:
    return [path.relative_to(project).as_posix() for path in project_files(project, ".py")
            if any(path.match(p) for p in TEST_PATTERNS)]


def compile_check(project: Path, sandbox: Sandbox, timeout: float) -> CheckResult:
    if not any(True for _ in project_files(project, ".py")):
        return CheckResult(name="compile", passed=True, skipped=True, detail="no Python files")
    return command_check("compile", project, sandbox, "python3 -m compileall -q .", timeout=timeout)


def _import_failures(stdout: str) -> list[Failure]:
    failures = []
    for chunk in stdout.split(IMPORT_MARKER)[1:]:
        module, _, trace = chunk.strip().partition("\n")
        last = next((l for l in reversed(trace.splitlines()) if l.strip()), "import failed")
        file, line = locate(trace)
        failures.append(Failure(check="import", message=f"importing {module.strip()}: {last.strip()}",
                                file=file, line=line, excerpt=trim(trace)))
    return failures


def import_check(project: Path, sandbox: Sandbox, timeout: float) -> CheckResult:
    modules = top_level_modules(project)
    if not modules:
        return CheckResult(name="import", passed=True, skipped=True, detail="no modules")
    command = f"{_path_prefix(project)}python3 -c {shlex.quote(_IMPORT_PROBE)} {' '.join(modules)}"
    result = sandbox.run(project, command, timeout=timeout)
    check = to_check("import", "import " + ", ".join(modules), result)
    if not result.ok and not result.timed_out and not result.oom_killed:
        check.failures = _import_failures(result.stdout) or check.failures
    return check


def pytest_check(project: Path, sandbox: Sandbox, timeout: float, *,
                 ignore: list[str] = ()) -> CheckResult:
    """The project's own tests (the acceptance tests in `ignore` run apart, with healer's
    configuration). Test files that collect no test fail: nothing was checked."""
    ignored = set(ignore)
    own = [p for p in test_files(project) if p not in ignored]
    if not own:
        return CheckResult(name="pytest", passed=True, skipped=True, detail="no test files")
    extra = " ".join(f"--ignore={shlex.quote(p)}" for p in sorted(ignored))
    command = _path_prefix(project) + pytest_command(extra)
    result = sandbox.run(project, command, timeout=timeout)
    log, xml = split_output(result.stdout)
    shown = "python3 -m pytest"
    if result.exit_code == 5 and not result.timed_out:
        failure = Failure(check="pytest", message=f"pytest collected no test from {len(own)} test "
                          f"file(s) ({', '.join(own[:5])})", excerpt=trim(log))
        return CheckResult(name="pytest", passed=False, command=shown, exit_code=5,
                           failures=[failure], detail="no tests collected")
    check = to_check("pytest", shown, result.model_copy(update={"stdout": log}))
    check.detail = counts(xml)
    if not result.ok and not result.timed_out and not result.oom_killed:
        parsed = failures_from_junit(xml)
        if parsed:
            check.failures = parsed
    return check


def console_scripts(project: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(project_text(project / "pyproject.toml") or "")
    except tomllib.TOMLDecodeError:
        return {}
    scripts = data.get("project", {}).get("scripts", {})
    return {k: v for k, v in scripts.items() if isinstance(v, str) and ":" in v}


def cli_commands(project: Path) -> list[str]:
    """`--help` invocations for declared console scripts and __main__ modules."""
    commands = []
    for name, target in console_scripts(project).items():
        module, _, func = target.partition(":")
        call = func.strip().split(".")
        code = (f"import sys; sys.argv = [{name!r}, '--help']; import {module.strip()} as m; "
                f"sys.exit(m.{'.'.join(call)}())")
        commands.append(f"python3 -c {shlex.quote(code)}")
    if (project / "__main__.py").is_file():
        commands.append("python3 . --help")
    for package in top_level_modules(project):
        base = project / "src" if (project / "src").is_dir() else project
        if (base / package / "__main__.py").is_file():
            commands.append(f"python3 -m {package} --help")
    return commands


def cli_check(project: Path, sandbox: Sandbox, timeout: float) -> CheckResult:
    commands = cli_commands(project)
    if not commands:
        return CheckResult(name="cli", passed=True, skipped=True, detail="no command-line entry")
    failures, duration = [], 0.0
    for command in commands:
        result = sandbox.run(project, _path_prefix(project) + command, timeout=timeout)
        duration += result.duration
        if not result.ok:
            failure = run_failure("cli", command, result)
            failure.message = f"`--help` smoke run failed: {failure.message}"
            failures.append(failure)
    return CheckResult(name="cli", passed=not failures, command="; ".join(commands),
                       duration=duration, failures=failures)


def python_checks(project: Path, sandbox: Sandbox, timeout: float, *,
                  ignore: list[str] = ()) -> list[CheckResult]:
    return [
        compile_check(project, sandbox, timeout),
        import_check(project, sandbox, timeout),
        pytest_check(project, sandbox, timeout, ignore=ignore),
        cli_check(project, sandbox, timeout),
    ]



