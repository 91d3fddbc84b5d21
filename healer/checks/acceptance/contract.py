"""The acceptance contract: the ids of the user's tests, collected once from a pristine copy,
and the verdict of a round's acceptance run against them.

A round passes its acceptance check only when the run's signed report says every collected
id passed; a missing, skipped, xfailed, deselected or erroring id counts as failing, and so
does a run whose report is absent, forged, or names something that rewired pytest.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from pydantic import Field, field_validator

from healer.checks.acceptance import node
from healer.checks.acceptance.command import (
    SignedReport,
    acceptance_command,
    pytest_log,
    read_report,
)
from healer.checks.acceptance.ids import base_id, static_ids
from healer.checks.acceptance.tamper import static_tamper, static_tamper_js
from healer.checks.commands import run_failure
from healer.checks.locations import project_path
from healer.checks.pytest_report import failures_from_junit, split_output, test_id
from healer.errors import PathEscapeError, SandboxError, SpecError
from healer.models import CheckResult, Failure, RunResult, Value
from healer.paths import relative_path
from healer.sandbox.base import Sandbox
from healer.stacks import acceptance_runner
from healer.stacks.acceptance import AcceptanceRunner

NAME = "acceptance"
SHOWN_IDS = 8


class Contract(Value):
    """What "green" promises: every one of `ids` passed, in files with these digests."""

    files: dict[str, str]  # path inside the project -> sha256 of the user's file
    ids: list[str]  # base test ids (no parameters), in collection order
    notes: list[str] = Field(default_factory=list)  # how ids were found where collection could not import a file

    @field_validator("files")
    @classmethod
    def _inside(cls, files: dict[str, str]) -> dict[str, str]:
        """A contract read from a folder names only files inside it, as healer writes them."""
        for rel in files:
            try:
                clean = relative_path(rel)
            except PathEscapeError as exc:
                raise ValueError(exc.message) from exc
            if clean != rel:
                raise ValueError(f"not a path as healer writes it: {rel!r}")
        return files

    @property
    def digest(self) -> str:
        return tests_digest(self.files)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tests_digest(files: dict[str, str]) -> str:
    """One hash over the acceptance tests' paths and contents: part of a build's identity."""
    joined = "\n".join(f"{rel}\0{digest}" for rel, digest in sorted(files.items()))
    return hashlib.sha256(joined.encode()).hexdigest()


def python_tests(files: dict[str, Path]) -> dict[str, Path]:
    return {rel: path for rel, path in files.items() if rel.endswith(".py")}


# ---------------------------------------------------------------- collection


def collect(files: dict[str, Path], sandbox: Sandbox, *, timeout: float) -> Contract:
    """Collect the ids of the user's Python acceptance tests in the sandbox, from a folder that
    holds those files only: healer's configuration, none of the project's."""
    digests = {rel: file_digest(path) for rel, path in files.items()}
    tests = python_tests(files)
    node_ids = [i for rel, path in files.items() if node.is_node_test(rel)
                for i in node.static_ids(rel, path.read_text(encoding="utf-8", errors="replace"))]
    if not node_ids and any(node.is_node_test(r) for r in files):
        raise SpecError("the acceptance tests define no `test(...)` or `it(...)`: "
                        + ", ".join(r for r in files if node.is_node_test(r)))
    node_ids += _stack_ids(files)
    if not tests:
        return Contract(files=digests, ids=node_ids)
    with tempfile.TemporaryDirectory(prefix="healer-pristine-") as tmp:
        pristine = Path(tmp)
        for rel, path in files.items():
            (pristine / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, pristine / rel)
        command = acceptance_command(digests, mode="collect")
        result = sandbox.run(pristine, command, timeout=timeout)
    report, _ = read_report(result.stdout)
    if report is None:
        raise SandboxError("collecting the acceptance tests failed: "
                           + (result.stdout + result.stderr).strip()[-600:])
    found = _contract(tests, digests, report)
    return found.model_copy(update={"ids": [*found.ids, *node_ids]})


def _stack_ids(files: dict[str, Path]) -> list[str]:
    """The ids of test files a stack's own runner reads (Go's `func TestX`)."""
    ids = []
    for rel, path in files.items():
        runner = acceptance_runner(rel)
        if runner is None:
            continue
        found = runner.ids(rel, path.read_text(encoding="utf-8", errors="replace"))
        if not found:
            raise SpecError(f"the acceptance test file {rel} defines no test")
        ids += found
    return ids


def _contract(tests: dict[str, Path], digests: dict[str, str], report: SignedReport) -> Contract:
    ids = list(dict.fromkeys(base_id(n) for n in report.collected))
    notes = []
    for rel, path in tests.items():
        if any(i.startswith(rel + "::") for i in ids):
            continue
        found = static_ids(rel, path.read_text(encoding="utf-8", errors="replace"))
        error = next((e for n, e in report.errors.items() if n.startswith(rel)), "")
        if found:
            ids += found
            notes.append(f"{rel}: ids read from the source ({error or 'nothing collected'})")
    if not ids:
        names = ", ".join(tests)
        raise SpecError(f"the acceptance tests define no test that pytest collects: {names}")
    return Contract(files=digests, ids=ids, notes=notes)


# ---------------------------------------------------------------- a round's run


def run(project: Path, contract: Contract, sandbox: Sandbox, *, timeout: float,
        keep_infra: Iterable[str] = ()) -> CheckResult:
    """The round's acceptance check: the acceptance tests alone, judged by the contract."""
    kept = set(contract.files) | set(keep_infra)
    suspicious = static_tamper(project, kept)
    checks = []
    if any(_file_of(i).endswith(".py") for i in contract.ids):
        command = acceptance_command(contract.files, mode="run", keep_infra=keep_infra)
        checks.append(judge(contract, sandbox.run(project, command, timeout=timeout),
                            suspicious))
    node_files = {_file_of(i) for i in contract.ids if node.is_node_test(_file_of(i))}
    if node_files:
        digests = {rel: contract.files[rel] for rel in node_files}
        result = sandbox.run(project, node.command(digests), timeout=timeout)
        checks.append(judge_node(contract, result, static_tamper_js(project, kept)))
    checks += [_stack_run(runner, project, contract, sandbox, rels, timeout)
               for runner, rels in _by_runner(contract).items()]
    return merge(checks, len(contract.ids))


def _by_runner(contract: Contract) -> dict[AcceptanceRunner, list[str]]:
    """The contract's files that a stack's runner runs, by runner."""
    groups: dict[AcceptanceRunner, list[str]] = {}
    for rel in dict.fromkeys(_file_of(i) for i in contract.ids):
        runner = acceptance_runner(rel)
        if runner is not None:
            groups.setdefault(runner, []).append(rel)
    return groups


def _stack_run(runner: AcceptanceRunner, project: Path, contract: Contract, sandbox: Sandbox,
               rels: list[str], timeout: float) -> CheckResult:
    prepared = runner.prepare(project, {rel: contract.files[rel] for rel in rels})
    ids = [i for i in contract.ids if _file_of(i) in rels]
    return prepared.judge(ids, sandbox.run(project, prepared.command, timeout=timeout))


def _file_of(test_id: str) -> str:
    return test_id.split("::", 1)[0]


def merge(checks: list[CheckResult], total: int) -> CheckResult:
    """One acceptance check from the checks of each test runner."""
    if len(checks) == 1:
        return checks[0]
    passed = sum(c.tests_passed or 0 for c in checks)
    return CheckResult(
        name=NAME, passed=all(c.passed for c in checks), tests_passed=passed, tests_total=total,
        passed_tests=[i for c in checks for i in c.passed_tests],
        command="; ".join(c.command or "" for c in checks),
        exit_code=next((c.exit_code for c in checks if c.exit_code), 0),
        duration=sum(c.duration for c in checks),
        failures=[f for c in checks for f in c.failures],
        detail=f"acceptance tests passed: {passed} of {total}")


def judge_node(contract: Contract, result: RunResult, suspicious: list[str] = ()) -> CheckResult:
    """The node part of an acceptance run: every node id must be reported passed, in a report
    whose every line healer's guard signed; `suspicious`: signs of tampering in the project's
    JavaScript."""
    ids = [i for i in contract.ids if node.is_node_test(_file_of(i))]
    check = CheckResult(name=NAME, passed=False, command="node --test under healer's guard "
                        "(acceptance tests)", exit_code=result.exit_code,
                        duration=result.duration, tests_total=len(ids), tests_passed=0)
    if result.timed_out or result.oom_killed:
        check.failures = [run_failure(NAME, "the acceptance tests", result)]
    else:
        run = node.parse(result.stdout, sorted({_file_of(i) for i in ids}), contract.files)
        tamper = [*run.tampered, *suspicious]
        if tamper:
            check.failures = _tamper_failures(list(dict.fromkeys(tamper))[:5])
            check.detail = f"acceptance tests passed: 0 of {len(ids)}"
            return check
        verdicts = {i: _node_verdict(run.outcomes.get(i)) for i in ids}
        passed = [i for i, v in verdicts.items() if v == "passed"]
        check.tests_passed, check.passed_tests = len(passed), passed
        check.passed = len(passed) == len(ids) and result.exit_code == 0
        check.failures = run.failures[:50]
        missing = {i: v for i, v in verdicts.items() if v in ("not run", "skipped")}
        if missing:
            shown = ", ".join(f"{i} ({v})" for i, v in list(missing.items())[:SHOWN_IDS])
            errors = "; ".join(f"{f}: {e.splitlines()[-1]}" for f, e in run.stderr.items() if e)
            check.failures.append(Failure(
                check=NAME, message=f"{len(ids) - len(missing)} of {len(ids)} acceptance tests "
                f"ran; did not pass: {shown}" + (f"; {errors[:600]}" if errors else ""),
                file=_file_of(next(iter(missing)))))
    check.detail = f"acceptance tests passed: {check.tests_passed} of {len(ids)}"
    return check


def _node_verdict(outcomes: list[str] | None) -> str:
    if not outcomes:
        return "not run"
    bad = [o for o in outcomes if o != "passed"]
    return bad[0] if bad else "passed"


def not_run(contract: Contract, why: str) -> CheckResult:
    """The acceptance check of a round whose checks stopped before it: 0 of n passed."""
    total = len(contract.ids)
    return CheckResult(name=NAME, passed=False, tests_passed=0, tests_total=total,
                       detail=f"acceptance tests passed: 0 of {total} (not run: {why})")


def judge(contract: Contract, result: RunResult, suspicious: list[str] = ()) -> CheckResult:
    """The pytest part of an acceptance run; `suspicious`: signs of tampering in the project's
    code (see tamper.py), which void the run like tampering seen during it."""
    report, forged = read_report(result.stdout)
    log, xml = split_output(result.stdout)
    ids = [i for i in contract.ids if _file_of(i).endswith(".py")]
    total = len(ids)
    check = CheckResult(name=NAME, passed=False, command="pytest (acceptance tests, healer's "
                        "configuration)", exit_code=result.exit_code, duration=result.duration,
                        tests_total=total, tests_passed=0)
    if result.timed_out or result.oom_killed:
        check.failures = [run_failure(NAME, "the acceptance tests", result)]
        check.detail = f"acceptance tests passed: 0 of {total}"
        return check
    if report is None:
        ending = f"exit status {result.exit_code}"
        message = (f"the acceptance run ended without healer's report ({ending}): the process "
                   "was stopped or its output replaced before pytest finished")
        check.failures = [Failure(check=NAME, message=message, excerpt=pytest_log(log)[-3000:])]
        check.failures += _tamper_failures(forged)
        check.detail = f"acceptance tests passed: 0 of {total}"
        return check
    verdicts = _verdicts(ids, report)
    passed = [i for i, v in verdicts.items() if v == "passed"]
    tamper = [*forged, *report.tamper, *_disagreements(passed, xml), *suspicious]
    if tamper:
        passed = []
    elif len(passed) == total and result.exit_code != 0:
        tamper.append(f"pytest exited with status {result.exit_code} although every acceptance "
                      "test passed")
        passed = []
    check.tests_passed, check.passed_tests = len(passed), passed
    check.passed = len(passed) == total and not tamper
    check.detail = f"acceptance tests passed: {len(passed)} of {total}"
    check.failures = [_with_facts(f, report.facts) for f in (failures_from_junit(xml) or [])[:50]]
    check.failures += _missing_failures(verdicts, report, total)
    check.failures += _tamper_failures(tamper)
    return check


def _with_facts(failure: Failure, facts: dict[str, dict[str, str]]) -> Failure:
    """The failure with what the plugin saw of it; located at its frame in the project's code."""
    found = facts.get(failure.message.split(" ", 1)[0])
    if not found:
        return failure
    update: dict[str, object] = {"facts": found}
    frame = re.match(r"(.+?):(\d+) in ", found.get("in project code", ""))
    file = project_path(frame.group(1)) if frame else None  # what the sandbox said: untrusted
    if frame and file:
        update.update(file=file, line=int(frame.group(2)))
    return failure.model_copy(update=update)


def _verdicts(ids: list[str], report: SignedReport) -> dict[str, str]:
    """Per contract id: "passed", or why not (failed, skipped, xfailed, error, not collected)."""
    by_base: dict[str, list[str]] = {}
    for nodeid, outcome in report.outcomes.items():
        by_base.setdefault(base_id(nodeid), []).append(outcome)
    collected = {base_id(n) for n in report.collected}
    verdicts = {}
    for wanted in ids:
        outcomes = by_base.get(wanted)
        if outcomes:
            bad = [o for o in outcomes if o != "passed"]
            verdicts[wanted] = bad[0] if bad else "passed"
        else:
            verdicts[wanted] = "not run" if wanted in collected else "not collected"
    return verdicts


def _disagreements(passed: list[str], xml: str) -> list[str]:
    """Ids the signed report passed but pytest's own JUnit report failed or skipped."""
    try:
        root = ET.fromstring(xml) if xml else None
    except ET.ParseError:
        return []
    if root is None:
        return []
    bad = set()
    for case in root.iter("testcase"):
        if any(child.tag in ("failure", "error", "skipped") for child in case):
            bad.add(base_id(test_id(case)))
    both = sorted(bad.intersection(passed))
    return [(f"pytest's JUnit report failed {', '.join(both[:SHOWN_IDS])}, which the plugin's "
            "report passed")] if both else []


def _missing_failures(verdicts: dict[str, str], report: SignedReport, total: int) -> list[Failure]:
    missing = {i: v for i, v in verdicts.items() if v in ("not collected", "not run", "skipped",
                                                         "xfailed")}
    if not missing:
        return []
    ran = total - sum(1 for v in verdicts.values() if v in ("not collected", "not run"))
    shown = ", ".join(f"{i} ({v})" for i, v in list(missing.items())[:SHOWN_IDS])
    more = f" and {len(missing) - SHOWN_IDS} more" if len(missing) > SHOWN_IDS else ""
    errors = "; ".join(f"{n or 'collection'}: {e}" for n, e in list(report.errors.items())[:3])
    message = f"collected {ran} of {total} acceptance tests; did not pass: {shown}{more}"
    if errors:
        message += f"; collection errors: {errors}"
    file = next(iter(verdicts)).split("::", 1)[0] if verdicts else None
    return [Failure(check=NAME, message=message, file=file)]


def _tamper_failures(tamper: list[str]) -> list[Failure]:
    return [Failure(check=NAME, message=f"the acceptance run was tampered with: {what}; no test "
                    "of this run counts") for what in tamper]
