"""The facts of a failing acceptance test, read in the real Docker sandbox by healer's plugin:
the test's line, the values compared, the exception and its frame in the project's code."""

from __future__ import annotations

import pytest

from healer.checks import acceptance
from healer.pipeline.failures import format_failures

pytestmark = pytest.mark.docker

TESTS = '''import unittest

from calc import add, mean


def test_add():
    assert add(1, 2) == 3


def test_mean_of_nothing():
    assert mean([]) == 0


class TestMore(unittest.TestCase):
    def test_add_again(self):
        self.assertEqual(add(2, 2), 4)
'''
CALC = '''def add(a, b):
    return a - b


def mean(values):
    total = sum(values)
    return total / len(values)
'''


@pytest.fixture(scope="module")
def failures(docker_sandbox, tmp_path_factory):
    user = tmp_path_factory.mktemp("user")
    (user / "test_calc.py").write_text(TESTS)
    contract = acceptance.collect({"test_calc.py": user / "test_calc.py"}, docker_sandbox,
                                  timeout=60)
    root = tmp_path_factory.mktemp("project")
    (root / "test_calc.py").write_text(TESTS)
    (root / "calc.py").write_text(CALC)
    check = acceptance.run(root, contract, docker_sandbox, timeout=60)
    assert (check.tests_passed, check.tests_total) == (0, 3)
    return {f.message.split(" ", 1)[0]: f for f in check.failures}


def test_a_pytest_assertion_names_the_line_and_both_values(failures) -> None:
    facts = failures["test_calc.py::test_add"].facts
    assert facts["test line"] == "test_calc.py:7: assert add(1, 2) == 3"
    assert facts["compared"] == "-1 == 3 is false"
    assert facts["raised"].startswith("AssertionError")


def test_a_unittest_assertion_names_both_values(failures) -> None:
    facts = failures["test_calc.py::TestMore::test_add_again"].facts
    assert facts["compared"] == "assertEqual(first=0, second=4)"
    assert facts["test line"] == "test_calc.py:16: self.assertEqual(add(2, 2), 4)"


def test_an_exception_is_placed_at_its_frame_in_the_project(failures) -> None:
    failure = failures["test_calc.py::test_mean_of_nothing"]
    assert failure.facts["raised"] == "ZeroDivisionError: division by zero"
    assert failure.facts["in project code"] == "calc.py:7 in mean: return total / len(values)"
    assert (failure.file, failure.line) == ("calc.py", 7)
    assert "compared" not in failure.facts


def test_the_model_reads_the_facts_before_the_log(failures) -> None:
    text = format_failures([failures["test_calc.py::test_add"]])
    assert "- compared: -1 == 3 is false" in text
    assert text.index("- compared:") < text.index("```")


def test_a_frame_outside_the_project_is_not_taken_as_the_failure_s_place() -> None:
    # the facts come from the sandbox: a frame naming a host path must not steer what is read
    from healer.checks.acceptance.contract import _with_facts
    from healer.models import Failure

    failure = Failure(check="pytest", message="test_calc.py::test_add failed: x",
                      file="test_calc.py", line=7)
    for forged in ("/etc/shadow:1 in f: x", "../../etc/shadow:1 in f: x"):
        kept = _with_facts(failure, {"test_calc.py::test_add": {"in project code": forged}})
        assert (kept.file, kept.line) == ("test_calc.py", 7) and kept.facts


def test_the_logs_that_repeat_the_facts_are_shown_for_the_first_failures_only() -> None:
    from healer.models import Failure

    def failing(n: int, facts: bool) -> Failure:
        message = f"t.py::test_{n} failed: AssertionError: {n} != 0"
        return Failure(check="pytest", message=message, file="t.py", line=n,
                       excerpt=f"E   AssertionError: {n} != 0 (log {n})",
                       facts={"compared": f"{n} == 0 is false",
                              "raised": f"AssertionError: {n} != 0"} if facts else {})

    text = format_failures([failing(n, facts=n != 4) for n in range(1, 6)])
    assert [n for n in range(1, 6) if f"(log {n})" in text] == [1, 2, 4]  # 4 has no facts
    assert text.count("- compared:") == 4
    assert "- raised:" not in text  # each message says it already
