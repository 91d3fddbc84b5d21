"""Structured pytest results: the JUnit XML report turned into one Failure per failed test."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from healer.checks.locations import locate, project_path
from healer.checks.logs import trim
from healer.models import Failure

JUNIT_PATH = "/tmp/healer-junit.xml"
MARKER = "=====healer-junit-report====="


def pytest_command(extra: str = "") -> str:
    """pytest with a JUnit report appended to stdout after a marker; keeps pytest's status."""
    return (
        "python3 -m pytest -rA -vv -p no:cacheprovider --tb=short -o junit_family=xunit1 "
        f"--junitxml={JUNIT_PATH} {extra}; status=$?; "
        f"echo; echo '{MARKER}'; cat {JUNIT_PATH} 2>/dev/null; exit $status"
    )


def split_output(stdout: str) -> tuple[str, str]:
    """(pytest's own output, the JUnit XML) from the command's stdout."""
    log, _, xml = stdout.partition(MARKER)
    return log, xml.strip()


def test_id(case: ET.Element) -> str:
    """pytest's node id of a JUnit testcase (xunit1): `file.py::Class::name`."""
    classname = case.get("classname", "")
    file = case.get("file") or classname.replace(".", "/") + ".py"
    module = file[:-3].replace("/", ".") if file.endswith(".py") else ""
    inner = classname[len(module) + 1:] if module and classname.startswith(module + ".") else ""
    return "::".join(p for p in (file, inner, case.get("name", "?")) if p)


def _failure_of(case: ET.Element, problem: ET.Element) -> Failure:
    text = problem.text or ""
    message = (problem.get("message") or "").strip()
    file, line = locate(text)
    if file is None:
        file = project_path(case.get("file") or "") or None
        line = int(case.get("line", "0")) + 1 if case.get("line") else None
    kind = "error" if problem.tag == "error" else "failed"
    first = message.splitlines()[0] if message else (text.strip().splitlines() or ["?"])[-1]
    return Failure(
        check="pytest",
        message=f"{test_id(case)} {kind}: {first[:500]}",
        file=file,
        line=line,
        excerpt=trim(text),
    )


def failures_from_junit(xml: str) -> list[Failure] | None:
    """One Failure per failed or erroring test; None if the report cannot be read."""
    if not xml:
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    failures = []
    for case in root.iter("testcase"):
        for problem in case:
            if problem.tag in ("failure", "error"):
                failures.append(_failure_of(case, problem))
    return failures


def counts(xml: str) -> str:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return ""
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return ""
    keys = ("tests", "failures", "errors", "skipped")
    return ", ".join(f"{k} {suite.get(k, '0')}" for k in keys)
