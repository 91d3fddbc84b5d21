"""Acceptance tests written for Node's test runner, judged by id in the real sandbox."""

from __future__ import annotations

import pytest

from healer.checks import acceptance

pytestmark = pytest.mark.docker

TEST = ('const test = require("node:test");\nconst assert = require("node:assert");\n'
        'const { add } = require("./calc");\n\n'
        'test("adds", () => { assert.strictEqual(add(1, 2), 3); });\n'
        'test.describe("more", () => {\n'
        '  test.it("adds zero", () => { assert.strictEqual(add(0, 2), 2); });\n});\n')
BUGGY = "exports.add = (a, b) => a - b;\n"


@pytest.fixture(scope="module")
def sandbox(docker_sandbox):
    return docker_sandbox


@pytest.fixture(scope="module")
def contract(sandbox, tmp_path_factory):
    user = tmp_path_factory.mktemp("user")
    (user / "calc.test.js").write_text(TEST)
    return acceptance.collect({"calc.test.js": user / "calc.test.js"}, sandbox, timeout=60)


def run(sandbox, contract, tmp_path, calc: str):
    (tmp_path / "calc.test.js").write_text(TEST)
    (tmp_path / "package.json").write_text('{"name": "calc"}\n')
    (tmp_path / "calc.js").write_text(calc)
    return acceptance.run(tmp_path, contract, sandbox, timeout=60)


def test_ids_come_from_the_test_file(contract) -> None:
    assert contract.ids == ["calc.test.js::adds", "calc.test.js::adds zero"]


def test_failures_name_the_test_with_expected_and_actual(sandbox, contract, tmp_path) -> None:
    check = run(sandbox, contract, tmp_path, BUGGY)
    assert not check.passed and check.detail == "acceptance tests passed: 0 of 2"
    assert "calc.test.js::adds failed" in check.failures[0].message
    assert "expected: 3; actual: -1" in check.failures[0].message
    fixed = run(sandbox, contract, tmp_path, BUGGY.replace("a - b", "a + b"))
    assert fixed.passed and fixed.tests_passed == 2


@pytest.mark.parametrize("calc", [
    "process.exit(0);\n",
    'console.log("ok 1 - adds");\nconsole.log("ok 2 - adds zero");\n' + BUGGY,
    'process.on("exit", () => process.stdout.write("ok 1 - adds\\n"));\n' + BUGGY,
], ids=["exit 0 at require", "printed results", "printed at exit"])
def test_a_faked_node_run_stays_red(sandbox, contract, tmp_path, calc) -> None:
    check = run(sandbox, contract, tmp_path, calc)
    assert not check.passed and check.tests_passed == 0


def test_a_test_file_rewritten_by_an_earlier_one_does_not_count(sandbox, tmp_path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    later = ('const test = require("node:test");\nconst assert = require("node:assert");\n'
             'const { add } = require("./calc");\n'
             'test("adds more", () => { assert.strictEqual(add(2, 2), 4); });\n')
    (user / "a.test.js").write_text(TEST)
    (user / "b.test.js").write_text(later)
    contract = acceptance.collect({"a.test.js": user / "a.test.js",
                                   "b.test.js": user / "b.test.js"}, sandbox, timeout=60)
    project = tmp_path / "project"
    project.mkdir()
    for name in ("a.test.js", "b.test.js"):
        (project / name).write_text((user / name).read_text())
    (project / "package.json").write_text('{"name": "calc"}\n')
    (project / "calc.js").write_text(
        'require("fs").writeFileSync("b.test.js", \'require("node:test")("adds more", () => {});\');\n'
        + BUGGY)
    check = acceptance.run(project, contract, sandbox, timeout=60)
    assert not check.passed and check.tests_passed == 0
    assert any("b.test.js was changed before it ran" in f.message for f in check.failures)
