"""What "green" promises, end to end: `healer build` and `healer check` with a scripted model
and the real Docker sandbox."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from healer.cli import cli
from tests.fakellm import Reply
from tests.scripted_model import ProjectModel
from tests.test_loop import BUGGY, FIX, TESTS, build, calc_spec, report

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]

BOTH_WRONG = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a + b\n"


def whole(path: str, content: str, diagnosis: str = "rewrite") -> str:
    return f"Diagnosis: {diagnosis}.\n\n{path}\n<<<<<<< SEARCH\n=======\n{content}>>>>>>> REPLACE\n"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    return calc_spec(tmp_path)


@pytest.fixture
def fast(monkeypatch) -> None:
    from healer.llm import client

    monkeypatch.setattr(client, "RETRY_WAIT_MAX", 0.01)


def acceptance_of(rnd: dict) -> tuple[int, int]:
    check = next(c for c in rnd["checks"] if c["name"] == "acceptance")
    return check["tests_passed"], check["tests_total"]


def test_a_conftest_that_hides_the_tests_is_refused(fake_llm, llm_env, spec, tmp_path) -> None:
    cheat = whole("conftest.py", "collect_ignore = ['test_calc.py']\n", "the test is flaky")
    model = ProjectModel({"calc.py": BUGGY}, debug=[cheat, cheat, cheat],
                         regenerate={"calc.py": BUGGY})  # the round's fresh sample: as buggy
    fake_llm.responder = model
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "1")
    assert result.exit_code == 1, result.output
    assert not (out / "conftest.py").exists()
    retries = [p for k, p in model.prompts if k == "debug"][1:]
    assert retries and all("test infrastructure" in p for p in retries)
    data = report(out)
    assert data["status"] == "not_green"
    assert [acceptance_of(r) for r in data["rounds"]] == [(1, 2), (1, 2)]
    assert "acceptance tests passed: 1 of 2" in (out / ".healer" / "report.md").read_text()


def test_changed_tests_are_checked_again_and_repaired_not_regenerated(fake_llm, llm_env, spec,
                                                                      tmp_path) -> None:
    add_sub = ("Diagnosis: sub is missing.\n\ncalc.py\n<<<<<<< SEARCH\ndef mul(a, b):\n"
               "    return a * b\n=======\ndef mul(a, b):\n    return a * b\n\n\n"
               "def sub(a, b):\n    return a - b\n>>>>>>> REPLACE\n")
    model = ProjectModel({"calc.py": BUGGY}, debug=[FIX, add_sub])
    fake_llm.responder = model
    out = tmp_path / "out"
    llm_env = {**llm_env, "HEALER_PLAN": "short"}  # a plan call, not made again on resume
    assert build(spec, out, llm_env).exit_code == 0
    (spec.parent / "test_calc.py").write_text(
        TESTS + "\n\ndef test_sub():\n    from calc import sub\n    assert sub(5, 3) == 2\n")

    stale = build(spec, out, llm_env, "--max-iters", "0")
    assert stale.exit_code == 1, stale.output  # never green from the report of the old tests
    data = report(out)
    assert data["rounds"][-1]["strategy"] == "recheck" and data["status"] == "not_green"
    assert acceptance_of(data["rounds"][-1]) == (2, 3)

    again = build(spec, out, llm_env)
    assert again.exit_code == 0, again.output
    data = report(out)
    # each resumed build checks the folder again before it repairs (a report is no proof)
    assert [r["strategy"] for r in data["rounds"]] == [
        "generate", "repair", "recheck", "recheck", "repair"]
    assert acceptance_of(data["rounds"][-1]) == (3, 3)
    assert model.kinds().count("generate") == 1 and model.kinds().count("plan") == 1


def test_a_round_whose_tests_cannot_be_collected_does_not_win(fake_llm, llm_env, spec,
                                                              tmp_path) -> None:
    rename = whole("calc.py", "def add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n"
                   "    return a * b\n", "rename mul")
    model = ProjectModel({"calc.py": BOTH_WRONG}, debug=[rename])
    fake_llm.responder = model
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "1")
    assert result.exit_code == 1
    data = report(out)
    first, second = data["rounds"]
    assert acceptance_of(first) == (0, 2) and acceptance_of(second) == (0, 2)
    messages = [f["message"] for c in second["checks"] for f in c["failures"]]
    assert any("collected 0 of 2 acceptance tests" in m for m in messages), messages
    assert len(messages) < len([f for c in first["checks"] for f in c["failures"]]) + 1
    assert data["best_round"] == 0  # a tie in tests passed keeps the earlier round
    assert (out / "calc.py").read_text() == BOTH_WRONG


@pytest.mark.timeout(120)  # a deadline that does not hold would wait for the 600 s answer
def test_timeout_is_a_deadline_even_with_a_hung_endpoint(fake_llm, llm_env, spec, tmp_path):
    model = ProjectModel({"calc.py": BUGGY})

    def hang_on_repair(request):
        answer = model(request)
        return Reply(text="never", delay=600) if model.kinds()[-1] == "debug" else answer

    fake_llm.responder = hang_on_repair
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "3", "--timeout", "25")
    assert result.exit_code == 1, result.output
    data = report(out)
    assert "time budget spent" in data["stop_reason"] and data["best_round"] == 0
    assert (out / "calc.py").read_text() == BUGGY
    assert "time budget spent" in result.output


def test_max_tokens_caps_every_request(fake_llm, llm_env, spec, tmp_path) -> None:
    fake_llm.responder = ProjectModel({"calc.py": BUGGY}, debug=[FIX])
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-tokens", "2500")
    sent = [r["max_tokens"] for r in fake_llm.requests]
    assert all(n <= 2500 for n in sent) and min(sent) < 2500, sent
    assert result.exit_code in (0, 1)


def test_max_cost_needs_a_known_price(fake_llm, llm_env, spec, tmp_path) -> None:
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-cost", "0.5")
    assert result.exit_code == 2 and "price_input_per_mtok" in result.output
    assert fake_llm.count == 0
    fake_llm.responder = ProjectModel({"calc.py": BUGGY}, debug=[FIX])
    priced = {**llm_env, "HEALER_PRICE_INPUT_PER_MTOK": "1", "HEALER_PRICE_OUTPUT_PER_MTOK": "2"}
    assert build(spec, out, priced, "--max-cost", "0.5").exit_code == 0
    assert report(out)["usage"]["cost_usd"] > 0


def test_an_endpoint_failure_leaves_the_best_checked_round(fake_llm, llm_env, spec, tmp_path,
                                                           fast) -> None:
    worse = whole("calc.py", BOTH_WRONG, "try this")
    fake_llm.responder = ProjectModel({"calc.py": BUGGY}, debug=[worse])  # then: no answer
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "3")
    assert result.exit_code == 3
    data = report(out)
    assert data["status"] == "error" and "the folder holds round 0" in data["stop_reason"]
    assert [acceptance_of(r) for r in data["rounds"]] == [(1, 2), (0, 2)]
    assert (out / "calc.py").read_text() == BUGGY


def test_a_project_in_a_language_without_a_stack_is_never_green(fake_llm, llm_env,
                                                                tmp_path) -> None:
    spec = tmp_path / "hello.md"
    spec.write_text("# Hello\nA Rust program `main.rs` that prints hello.\n## Files\n"
                    "- `main.rs`: the program\n")
    model = ProjectModel({"main.rs": "this is not rust\n"})
    fake_llm.responder = model
    out = tmp_path / "out"
    result = build(spec, out, llm_env)
    assert result.exit_code == 1
    assert "healer has no checks for main.rs (Rust)" in report(out)["stop_reason"]
    assert "debug" not in model.kinds()  # no model call spent on repairs it cannot verify
    checked = CliRunner().invoke(cli, ["check", str(out)], catch_exceptions=False)
    assert checked.exit_code == 1 and "healer has no checks for main.rs" in checked.output


def test_an_empty_folder_is_not_green(tmp_path) -> None:
    (tmp_path / "README.md").write_text("nothing to check\n")
    result = CliRunner().invoke(cli, ["check", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 1


def test_green_without_acceptance_tests_says_whose_tests(fake_llm, llm_env, tmp_path) -> None:
    spec = tmp_path / "calc.md"
    spec.write_text("# Calc\nA module `calc.py` with `add(a, b)`, and tests for it in "
                    "`test_calc.py`.\n")
    own_test = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    fake_llm.responder = ProjectModel({"calc.py": BUGGY.replace("a - b", "a + b"),
                                       "test_calc.py": own_test})
    out = tmp_path / "out"
    result = build(spec, out, llm_env)
    assert result.exit_code == 0, result.output
    assert "green against tests written by the model" in result.output
    assert "green against tests written by the model" in (out / ".healer" / "report.md").read_text()


def test_the_spec_s_own_example_is_checked_and_repaired(fake_llm, llm_env, tmp_path) -> None:
    spec = tmp_path / "greet.md"
    spec.write_text("# Greet\nA script `greet.py` that greets.\n\n```\n$ python greet.py Ada\n"
                    "hello, Ada\n```\n")
    fixed = "import sys\n\nprint(f'hello, {sys.argv[1]}')\n"
    model = ProjectModel({"greet.py": "import sys\n\nprint('hi', sys.argv[1])\n"},
                         debug=[whole("greet.py", fixed, "wrong greeting")])
    fake_llm.responder = model
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "2")
    assert result.exit_code == 0, result.output
    first = report(out)["rounds"][0]
    failing = [c for c in first["checks"] if not c["passed"] and not c["skipped"]]
    assert [c["name"] for c in failing] == ["spec-examples"]
    assert "hello, Ada" in failing[0]["failures"][0]["excerpt"]
    debug_prompt = next(p for k, p in model.prompts if k == "debug")
    assert "hello, Ada" in debug_prompt
    log = subprocess.run(["git", "log", "--format=%s"], cwd=out, capture_output=True, text=True,
                         check=False).stdout
    assert "round 1 (repair)" in log


def test_a_folder_healer_did_not_create_is_refused(fake_llm, llm_env, spec, tmp_path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes\n")
    result = build(spec, out, llm_env)
    assert result.exit_code == 2 and "--into-existing" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"] and fake_llm.count == 0


def test_into_an_existing_repository_healer_keeps_the_user_s_files(fake_llm, llm_env, spec,
                                                                    tmp_path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=u", "-c", "user.email=u@x"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "README.md").write_text("the user's project\n")
    (repo / ".gitignore").write_text("calc.py\n")
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "user's commit"], cwd=repo, check=True)
    (repo / ".env").write_text("TOKEN=user-secret\n")
    (repo / "calc.py").write_text("# the user's own calc, git-ignored\n")
    fake_llm.responder = ProjectModel({"calc.py": BUGGY}, debug=[FIX])
    result = build(spec, repo, llm_env, "--into-existing")
    assert result.exit_code == 0, result.output

    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                              check=True).stdout

    assert run("log", "--format=%s", "main").splitlines() == ["user's commit"]
    assert run("rev-parse", "--abbrev-ref", "HEAD").strip() == "healer/build"
    everything = run("log", "--all", "--name-only", "--format=")
    assert ".env" not in everything.split()
    assert (repo / ".env").read_text() == "TOKEN=user-secret\n"
    kept = repo / ".healer" / "replaced" / "calc.py"
    assert kept.read_text() == "# the user's own calc, git-ignored\n"
    assert "user-secret" not in json.dumps(fake_llm.requests)
    assert "calc.py" in run("ls-files").split()  # healer's own file, though the user ignores it


def test_tests_given_on_the_command_line_are_relative_to_the_current_folder(
        fake_llm, llm_env, tmp_path, monkeypatch) -> None:
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "calc.md"
    spec.write_text("# Calc\nA module `calc.py` with `add(a, b)` and `mul(a, b)`.\n")
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "test_calc.py").write_text(TESTS)
    monkeypatch.chdir(tmp_path)
    fake_llm.responder = ProjectModel({"calc.py": BUGGY}, debug=[FIX])
    out = tmp_path / "out"
    result = build(Path("specs/calc.md"), out, llm_env, "--tests", "checks/test_calc.py")
    assert result.exit_code == 0, result.output
    assert acceptance_of(report(out)["rounds"][-1]) == (2, 2)
