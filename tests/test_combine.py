"""Evidence across candidates: two versions that pass different acceptance tests, merged."""

from __future__ import annotations

import pytest

from healer.models import Candidate, CheckResult, Round
from healer.strategies.combine import Version, complement, differing_parts, pair
from healer.strategies.portfolio import portfolio
from healer.workspace import Workspace
from tests.test_loop import build, calc_spec, report

HELPER = "def _same(x):\n    return x\n"
ADD_WRONG = "def add(a, b):\n    return a - b\n\n\n"
ADD_RIGHT = "def add(a, b):\n    return a + b\n\n\n"
MUL_WRONG = "def mul(a, b):\n    return a + b\n\n\n"
MUL_RIGHT = "def mul(a, b):\n    return a * b\n\n\n"
A = ADD_WRONG + MUL_RIGHT + HELPER  # passes test_mul only
B = ADD_RIGHT + MUL_WRONG + HELPER  # passes test_add only
MERGED = ADD_RIGHT + MUL_RIGHT + HELPER


def _v(commit: str, *passed: str) -> Version:
    return Version(commit, frozenset(passed), commit)


def test_the_complement_is_the_version_passing_most_tests_the_base_fails() -> None:
    base = _v("a", "t1", "t2")
    assert complement(base, [_v("b", "t1"), _v("c", "t1", "t2")]) is None  # nothing new
    best = complement(base, [_v("b", "t3"), _v("c", "t3", "t4"), _v("d", "t1", "t3")])
    assert best is not None and best.commit == "c"
    tie = complement(base, [_v("b", "t3"), _v("d", "t1", "t3")])  # tie: more tests in all
    assert tie is not None and tie.commit == "d"


def _round(index: int, *candidates: tuple[str, list[str]]) -> Round:
    tried = [Candidate(number=n, branch=f"healer/r{index}-c{n}", commit=commit,
                       tests_passed=len(ids), tests_total=3, passed_tests=ids)
             for n, (commit, ids) in enumerate(candidates, 1)]
    kept = tried[0]
    acceptance = CheckResult(name="acceptance", passed=False, tests_passed=kept.tests_passed,
                             tests_total=3, passed_tests=kept.passed_tests)
    return Round(index=index, commit=f"{index}" * 40, checks=[acceptance], candidates=tried)


def test_a_combine_candidate_only_when_another_version_passes_what_the_best_fails() -> None:
    apart = _round(0, ("a" * 40, ["t1"]), ("b" * 40, ["t2", "t3"]))
    assert portfolio(2, apart, [apart], combine=True) == ["repair", "combine"]
    assert portfolio(2, apart, [apart]) == ["repair", "fresh"]  # the setting is off
    assert portfolio(1, apart, [apart], combine=True) == ["repair"]  # one candidate: no room
    nested = _round(0, ("a" * 40, ["t1", "t2"]), ("b" * 40, ["t2"]))
    assert portfolio(2, nested, [nested], combine=True) == ["repair", "fresh"]
    found = pair(apart, [apart])
    assert found is not None and found[1].label == "healer/r0-c2"


def test_ids_not_recorded_are_no_evidence() -> None:
    # a report from before the ids were kept: counts without ids are not taken as "passed none"
    old = _round(0, ("a" * 40, ["t1"]), ("b" * 40, ["t2"]))
    old.candidates[0].passed_tests = []
    old.checks[0].passed_tests = []
    assert pair(old, [old]) is None


def test_of_the_other_python_version_only_the_definitions_that_differ_are_shown() -> None:
    shown = differing_parts("calc.py", A, B)
    assert "return a + b" in shown and "def mul" in shown and "_same" not in shown
    assert "def add(a, b):\n    return a - b" not in shown
    assert differing_parts("calc.py", A, "def broken(:\n") == "```python\ndef broken(:\n```"
    assert differing_parts("calc.js", "a", "b") == "```javascript\nb\n```"


def test_a_commit_named_by_a_folders_report_cannot_be_a_git_option(tmp_path) -> None:
    ws = Workspace(tmp_path / "w")
    ws.init()
    (ws.root / "calc.py").write_text(A)
    commit = ws.commit("a")
    assert ws.file_at(commit, "calc.py") == A
    target = tmp_path / "written"
    assert ws.file_at(f"--output={target}", "calc.py") is None
    assert not target.exists()
    assert ws.file_at(commit, "missing.py") is None


def _fenced(code: str) -> str:
    return f"```python\n{code}```\n"


def _merge_build(fake_llm, llm_env, tmp_path, first: str, second: str):
    """A build of two candidates (`first`, `second`) and one repair round with combine on;
    the prompts of the model's merges."""
    spec = calc_spec(tmp_path)
    merges: list[str] = []

    def respond(request: dict) -> str:
        last = request["messages"][-1]["content"]
        if "Do not write the code yet" in last:
            return "calc.py: add(a, b) and mul(a, b)."
        if "passes the tests of both versions" in last:
            merges.append(last)
            return _fenced(MERGED)
        if "Find why the checks fail" in last:
            return "Diagnosis: unsure; no edit."
        return _fenced(second if request.get("seed") == 2 else first)

    fake_llm.responder = respond
    out = tmp_path / "out"
    env = {**llm_env, "HEALER_COMBINE": "true"}
    result = build(spec, out, env, "--candidates", "2", "--max-iters", "1")
    assert result.exit_code == 0, result.output
    data = report(out)
    first_round, second_round = data["rounds"]
    assert sorted(c["passed_tests"][0] for c in first_round["candidates"]) == [
        "test_calc.py::test_add", "test_calc.py::test_mul"]
    combined = next(c for c in second_round["candidates"] if c["strategy"] == "combine")
    assert combined["green"] and combined["kept"]
    assert "1 repair, 1 combine" in result.output
    return out, second_round, merges


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_two_candidates_right_in_different_functions_are_spliced_without_the_model(
        fake_llm, llm_env, tmp_path) -> None:
    out, second, merges = _merge_build(fake_llm, llm_env, tmp_path, A, B)
    assert merges == []  # the checks found the merge: A with B's add
    assert (out / "calc.py").read_text() == MERGED
    assert "`add` of healer/r0-c2 spliced into calc.py" in second["diagnosis"]


DISPATCH = "def add(a, b):\n    return _apply('+', a, b)\n\n\ndef mul(a, b):\n" \
           "    return _apply('*', a, b)\n\n\n"
A_SHARED = "def _apply(op, a, b):\n    return a - b if op == '+' else a * b\n\n\n" + DISPATCH
B_SHARED = "def _apply(op, a, b):\n    return a + b if op == '+' else a + b\n\n\n" + DISPATCH


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_two_candidates_right_in_one_shared_function_are_merged_by_the_model(
        fake_llm, llm_env, tmp_path) -> None:
    out, _, merges = _merge_build(fake_llm, llm_env, tmp_path, A_SHARED, B_SHARED)
    assert (out / "calc.py").read_text() == MERGED
    # no splice passes both tests, so the model merged: it saw the base whole, of the other
    # version only what differs, and the test only the other passes
    prompt = merges[0]
    assert "- test_calc.py::test_add" in prompt and "test_calc.py::test_mul\n" not in prompt
    assert prompt.count("def add") == 1 and "a + b if op" in prompt


def test_a_splice_puts_one_definition_of_the_other_version_in_and_keeps_the_rest() -> None:
    from healer.strategies.combine import splices

    found = dict(splices(A, B))
    assert set(found) == {"add", "mul"}  # _same is the same in both
    assert found["add"] == MERGED
    assert "return a + b" in found["mul"] and "return a - b" in found["mul"]
    assert splices(A, "def broken(:\n") == []


def test_a_class_is_spliced_method_by_method_and_brings_the_helpers_it_lacks() -> None:
    import ast

    from healer.strategies.combine import splices

    mine = ("import math\n\n\nclass Game:\n    def __init__(self, board):\n"
            "        self.board = board\n\n    def winner(self):\n        return 'X'\n")
    theirs = ("import re\n\n\nclass Game:\n    def __init__(self, board):\n"
              "        self.board = board\n\n    def winner(self):\n        return self._walk()\n\n"
              "    def _walk(self):\n        return re.sub('a', 'O', 'a')\n")
    found = dict(splices(mine, theirs))
    assert set(found) == {"Game", "Game._walk", "Game.winner"}
    spliced = ast.parse(found["Game.winner"])
    game = next(n for n in spliced.body if isinstance(n, ast.ClassDef))
    assert [n.name for n in game.body if isinstance(n, ast.FunctionDef)] == [
        "__init__", "winner", "_walk"]  # the helper the new method calls came with it
    assert "return self._walk()" in found["Game.winner"]
    assert "import math\nimport re\n" in found["Game.winner"]  # and the import it needs
    for text in found.values():
        ast.parse(text)


def test_splices_go_through_the_edit_policy_and_leave_the_checkout_as_it_was(tmp_path) -> None:
    # the other version's conftest.py (test infrastructure the spec does not name) could
    # change what the tests report: a splice of it is never written, let alone checked
    from healer.pipeline.policy import EditPolicy
    from healer.strategies.combine import checked_splices, splice_into

    ws = Workspace(tmp_path / "w")
    ws.init()
    fake = "def pytest_runtest_makereport(item, call):\n    call.excinfo = None\n"
    (ws.root / "conftest.py").write_text("def pytest_configure(config):\n    pass\n")
    (ws.root / "calc.py").write_text(A)
    base = ws.commit("a")
    (ws.root / "conftest.py").write_text(fake)
    (ws.root / "calc.py").write_text(B)
    other = ws.commit("b")
    ws._git("checkout", "-q", base)
    two = (_v(base, "test_mul"), _v(other, "test_add"))
    seen: list[str] = []

    def check() -> list[CheckResult]:
        seen.append((ws.root / "calc.py").read_text() + (ws.root / "conftest.py").read_text())
        merged = (ws.root / "calc.py").read_text() == MERGED
        return [CheckResult(name="acceptance", passed=merged, tests_passed=2 if merged else 1,
                            tests_total=2)]

    tried = [(p, n) for p, n, _, _ in checked_splices(ws, ws.root, two, protected=[],
                                                      check=check, policy=EditPolicy())]
    assert tried == [("calc.py", "add"), ("calc.py", "mul")]
    assert not any("call.excinfo" in text for text in seen)
    assert (ws.root / "calc.py").read_text() == A  # each splice was taken out again
    unguarded = [n for _, n, _, _ in checked_splices(ws, ws.root, two, protected=[], check=check)]
    assert "pytest_runtest_makereport" in unguarded  # the policy is what refused it
    written = splice_into(ws, ws.root, two, protected=[], check=check, policy=EditPolicy())
    assert written is not None and written[0] == ["calc.py"]
    assert (ws.root / "calc.py").read_text() == MERGED
