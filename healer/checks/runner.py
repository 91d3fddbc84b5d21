"""All of a project's checks in order: static gate, sandbox checks, declared checks."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from healer.checks import acceptance
from healer.checks.acceptance import Contract
from healer.checks.commands import declared_checks, run_failure
from healer.checks.coverage import coverage_check
from healer.checks.extra import CHECKS, CheckContext
from healer.checks.spec_checks import names_check
from healer.checks.static import static_checks
from healer.models import CheckResult, Failure
from healer.sandbox.base import Sandbox
from healer.stacks import dependency_problems, languages_of, stack_for

log = logging.getLogger(__name__)


def install_check(project: Path, sandbox: Sandbox, timeout: float | None = None) -> CheckResult:
    problems = dependency_problems(project)
    if problems:  # refused before anything runs with network
        failures = [Failure(check="install", file=p.split(" ", 1)[0], message=(
            f"{p}: healer installs dependencies by name from the package index only (no pip "
            "options, local paths or URLs); name the package instead")) for p in problems]
        return CheckResult(name="install", passed=False, command="install dependencies",
                           failures=failures)
    started = time.monotonic()
    result = sandbox.prepare(project, timeout=timeout)
    if result is None:
        return CheckResult(name="install", passed=True, skipped=True, detail="no dependencies")
    failures = [] if result.ok else [run_failure("install", "install dependencies", result)]
    return CheckResult(name="install", passed=result.ok, command="install dependencies",
                       exit_code=result.exit_code, duration=time.monotonic() - started,
                       failures=failures, detail=result.stdout.strip().splitlines()[-1:][0]
                       if result.ok and result.stdout.strip() else "")


def _skipped(names: Sequence[str], reason: str) -> list[CheckResult]:
    return [CheckResult(name=n, passed=True, skipped=True, detail=reason) for n in names]


def sandbox_checks(project: Path, sandbox: Sandbox, timeout: float, *, syntax_ok: bool,
                   contract: Contract | None = None,
                   keep_infra: Sequence[str] = ()) -> list[CheckResult]:
    """Install, then the checks of every language of the project's stack, then the acceptance
    tests (run on their own, with healer's configuration) when there is a contract."""
    languages = languages_of(stack_for(project))
    names = [name for language in languages for name in language.check_names]
    has_contract = contract is not None and bool(contract.ids)
    install = install_check(project, sandbox, timeout)
    if not install.passed or not syntax_ok:
        why = "dependencies could not be installed" if not install.passed else \
            "fix the syntax errors first"
        tail = [acceptance.not_run(contract, why)] if has_contract else []
        return [install, *_skipped(names, why), *tail]
    results = [install]
    ignore = list(contract.files) if has_contract else []
    for language in languages:
        results += language.checks(project, sandbox, timeout, ignore=ignore)
    if has_contract:
        results.append(acceptance.run(project, contract, sandbox, timeout=timeout,
                                      keep_infra=keep_infra))
    return results


def run_checks(project: Path, sandbox: Sandbox, *, declared: Sequence[str] = (),
               timeout: float = 120.0, spec_text: str = "", contract: Contract | None = None,
               keep_infra: Sequence[str] = ()) -> list[CheckResult]:
    """Every check of `project`, static ones first; failures carry file, line and excerpt.

    `spec_text` is the project's spec: a browser extension's checks use its Stubs and Smoke.
    `contract` holds the ids of the user's acceptance tests; `keep_infra` the test
    infrastructure files the spec makes the project's own (kept for the acceptance run).
    """
    project = Path(project)
    tests = list(contract.files) if contract else []
    results = [coverage_check(project), *static_checks(project),
               names_check(project, spec_text, tests=tests)]
    syntax_ok = all(r.passed for r in results if r.name == "syntax")
    results += sandbox_checks(project, sandbox, timeout, syntax_ok=syntax_ok, contract=contract,
                              keep_infra=keep_infra)
    for check in CHECKS.values():
        context = CheckContext(project, sandbox, timeout, spec_text, contract, tuple(results))
        if check.applies(context):
            results += check.run(context)
    results += declared_checks(project, sandbox, list(declared), timeout=timeout)
    for result in results:
        log.info("check %s: %s", result.name,
                 "skipped" if result.skipped else "passed" if result.passed else "FAILED")
    return results
