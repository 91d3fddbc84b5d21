"""The benchmark runner: specs from an Exercism-like folder, built with a scripted model and
the real Docker sandbox; the pass-at-round curve, crashes, resuming and the written results."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks.__main__ import main as bench_main
from benchmarks.cases import Case, exercism_cases, exercism_spec_text, select
from benchmarks.record import ResultsFile, SpecResult, green_by_round, pass_rate_curve
from benchmarks.runner import build_case, code_version, run_cases
from benchmarks.summary import render_markdown, write_outputs
from healer.budget import Budget
from healer.config import Settings
from healer.errors import EndpointError
from healer.models import CheckResult, Round, RunReport, Usage
from healer.spec import load_spec
from tests.fakellm import FakeLLM
from tests.scripted_model import ProjectModel

GOOD = "def double(x):\n    return 2 * x\n"
BUGGY = "def triple(x):\n    return 2 * x\n"
FIX = ("Diagnosis: triple multiplies by two.\n\nbeta.py\n<<<<<<< SEARCH\n    return 2 * x\n"
       "=======\n    return 3 * x\n>>>>>>> REPLACE\n")
EXERCISES = {
    # name: (function, test body, difficulty)
    "alpha": ("double", "self.assertEqual(double(4), 8)", 1),
    "beta": ("triple", "self.assertEqual(triple(4), 12)", 2),
    "gamma": ("halve", "self.assertEqual(halve(4), 2)", 3),
}


def _exercise(root: Path, name: str, function: str, check: str, difficulty: int) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    tests = [f"{name}_test.py"]
    if name == "gamma":
        tests.append("missing_helper.py")  # listed but absent: preparing its spec crashes
    meta = {"slug": name, "difficulty": difficulty, "solution": [f"{name}.py"], "test": tests}
    (folder / "meta.json").write_text(json.dumps(meta))
    (folder / "instructions.md").write_text(f"# Instructions\n\nWrite `{function}(x)`.\n"
                                            "\n## Tests\n- not a real test list\n")
    (folder / f"{name}.py").write_text(f"def {function}(x):\n    pass\n")
    (folder / f"{name}_test.py").write_text(
        f"import unittest\n\nfrom {name} import {function}\n\n\n"
        f"class T(unittest.TestCase):\n    def test_it(self):\n        {check}\n")


@pytest.fixture
def exercism(tmp_path: Path) -> Path:
    root = tmp_path / "exercism"
    for name, (function, check, difficulty) in EXERCISES.items():
        _exercise(root, name, function, check, difficulty)
    return root


class Router:
    """Answers each build's prompts with the scripted model of the exercise they mention."""

    def __init__(self) -> None:
        self.alpha = ProjectModel({"alpha.py": GOOD})
        self.beta = ProjectModel({"beta.py": BUGGY}, debug=[FIX])

    def __call__(self, request: dict):
        text = "\n".join(str(m["content"]) for m in request["messages"])
        return (self.beta if "beta.py" in text else self.alpha)(request)


@pytest.fixture
def settings(fake_llm: FakeLLM, tmp_path: Path) -> Settings:
    fake_llm.responder = Router()
    return Settings(base_url=fake_llm.url, model="test-model", api_key="k", cache=False,
                    cache_dir=tmp_path / "cache", max_retries=0, request_timeout=30)


def test_exercism_spec_names_module_and_protects_official_tests(exercism, tmp_path) -> None:
    case = next(c for c in exercism_cases(exercism) if c.name == "alpha")
    spec_path = case.prepare(tmp_path / "work")
    spec = load_spec(str(spec_path))
    assert spec.acceptance_tests == [str(spec_path.parent / "alpha_test.py")]
    assert "`alpha.py`" in spec.text and "from alpha import" in spec.text
    assert "def double(x):" in spec.text
    # the instructions' own "Tests" heading is demoted and renamed, so it adds no test file
    text = exercism_spec_text(case.source, json.loads((case.source / "meta.json").read_text()))
    assert "### Tests (from the exercise)" in text


def test_selection_by_name_difficulty_and_limit(exercism) -> None:
    cases = exercism_cases(exercism)
    assert [c.name for c in select(cases, difficulty_max=2)] == ["alpha", "beta"]
    assert [c.name for c in select(cases, only=["gamma", "beta"])] == ["beta", "gamma"]
    assert [c.name for c in select(cases, skip=["alpha"], limit=1)] == ["beta"]


def _report(greens: list[bool]) -> RunReport:
    rounds = [Round(index=i, checks=[CheckResult(name="pytest", passed=g)])
              for i, g in enumerate(greens)]
    return RunReport(spec="s", output="o", status="green" if greens[-1] else "not_green",
                     stop_reason="", rounds=rounds)


def test_green_by_round_stays_green_and_curve_averages() -> None:
    assert green_by_round(_report([False, True]), 3) == [False, True, True, True]
    assert green_by_round(_report([False, False]), 2) == [False, False, False]
    results = [SpecResult(name=n, suite="x", status="s", green_at=g)
               for n, g in (("a", [True, True]), ("b", [False, True]), ("c", [False, False]))]
    assert pass_rate_curve(results) == [1 / 3, 2 / 3]


def test_tests_by_round_keeps_the_best_so_far() -> None:
    from benchmarks.record import tests_by_round

    def rnd(i: int, passed: int) -> Round:
        check = CheckResult(name="acceptance", passed=False, tests_passed=passed, tests_total=5)
        return Round(index=i, checks=[check])

    report = RunReport(spec="s", output="o", status="not_green", stop_reason="",
                       rounds=[rnd(0, 3), rnd(1, 1)])
    assert tests_by_round(report, 2) == ([3, 3, 3], 5)


def test_a_record_names_the_checks_its_best_round_failed() -> None:
    from benchmarks.record import from_report

    def rnd(i: int, failing: str) -> Round:
        return Round(index=i, checks=[CheckResult(name="acceptance", passed=True),
                                      CheckResult(name=failing, passed=False),
                                      CheckResult(name="cli", passed=False, skipped=True)])

    report = RunReport(spec="s", output="o", status="not_green", stop_reason="", best_round=1,
                       rounds=[rnd(0, "syntax"), rnd(1, "undefined-names")])
    record = from_report(report, name="x", suite="s", difficulty=None, max_iters=1, wall=1.0)
    assert record.failing_checks == ["undefined-names"]


def test_compare_counts_what_the_server_log_says_it_evaluated(tmp_path: Path) -> None:
    from benchmarks.compare import Arm, evaluated_tokens, summary

    arm = Arm("after (abc1234)", tmp_path, tmp_path / "after", tmp_path / "cache", {})
    arm.kept_logs.mkdir(parents=True)
    (arm.kept_logs / "local-server-1.log").write_text(
        "slot print_timing: id  0 | task 3 | prompt eval time =   11689.44 ms /   495 tokens\n"
        "slot print_timing: id  0 | task 3 |        eval time =   26283.91 ms /   370 tokens\n"
        "slot print_timing: id  1 | task 9 | prompt eval time =     697.67 ms /    40 tokens\n")
    assert evaluated_tokens(arm) == 535
    record = SpecResult(name="acronym", suite="exercism", status="green", prompt_tokens=1070,
                        prompt_cached_tokens=500, completion_tokens=370, wall_seconds=61.0,
                        tests_passed_at=[4, 9], tests_total=9)
    (arm.out / "results.json").write_text(json.dumps(
        {"meta": {}, "results": {"acronym": record.model_dump()}}))
    text = summary([arm], "python -m benchmarks compare ...")
    assert "| after (abc1234) | 1 | 1 | 9/9 | 61 | 1,070 | 535 | 50% | 500 | 370 |" in text
    assert "| acronym | green | 9/9 | 61 |" in text
    assert "| arm | specs | green | acceptance tests passed | median wall s |" in text
    red = record.model_copy(update={"name": "yacht", "status": "not_green",
                                    "failing_checks": ["undefined-names"]})
    (arm.out / "results.json").write_text(json.dumps(
        {"meta": {}, "results": {"yacht": red.model_dump()}}))
    assert "| yacht | not_green (undefined-names) | 9/9 | 61 |" in summary([arm], "cmd")


def test_a_build_stopped_midway_leaves_no_server_log_counted(tmp_path: Path) -> None:
    from benchmarks.compare import Arm, drop_unrecorded_logs, evaluated_tokens

    arm = Arm("after (abc1234)", tmp_path, tmp_path / "after", tmp_path / "cache", {})
    arm.kept_logs.mkdir(parents=True)
    line = "slot print_timing: id  0 | task 3 | prompt eval time =   11.44 ms /   {} tokens\n"
    (arm.kept_logs / "local-server-1.log").write_text(line.format(100))  # named before specs
    (arm.kept_logs / "acronym--local-server-2.log").write_text(line.format(20))
    (arm.kept_logs / "yacht--local-server-3.log").write_text(line.format(7000))  # stopped
    stale = arm.cache / "logs" / "local-server-3.log"  # its server's own copy, left behind
    stale.parent.mkdir(parents=True)
    stale.write_text(line.format(7000))
    record = SpecResult(name="acronym", suite="exercism", status="green")
    (arm.out / "results.json").write_text(json.dumps(
        {"meta": {}, "results": {"acronym": record.model_dump()}}))
    assert evaluated_tokens(arm) == 120
    drop_unrecorded_logs(arm)
    assert sorted(p.name for p in arm.kept_logs.iterdir()) == [
        "acronym--local-server-2.log", "local-server-1.log"]
    assert not stale.exists()


def test_a_shared_cache_comparison_lists_each_rounds_candidates_from_kept_reports(
        tmp_path: Path) -> None:
    from benchmarks.compare import Arm, _share_responses, clean, keep_reports, round_candidates
    from healer.llm.cache import FILE_NAME

    first = Arm("before", tmp_path, tmp_path / "b", tmp_path / "cache-b", {})
    second = Arm("after", tmp_path, tmp_path / "a", tmp_path / "cache-a", {})
    _share_responses(first, second)
    (first.cache / FILE_NAME).write_text("answers")
    assert (second.cache / FILE_NAME).read_text() == "answers"
    report = second.cache / "work" / "builds" / "acronym" / ".healer" / "report.json"
    report.parent.mkdir(parents=True)
    candidate = {"tests_total": 9, "status": "checked", "kept": False}
    one = {**candidate, "strategy": "generate", "tests_passed": 5}
    report.write_text(json.dumps({"rounds": [
        {"index": 0, "candidates": [one]}, {"index": 1, "candidates": [
            {**candidate, "strategy": "repair", "tests_passed": 4, "status": "duplicate"},
            {**candidate, "strategy": "combine", "tests_passed": 9, "kept": True}]}]}))
    lines = ["| acronym | 1 | repair (duplicate), combine 9/9 kept |"]
    keep_reports(second)
    clean(second)  # the scratch folder, builds and all, goes; the kept report stays
    assert round_candidates(second) == lines
    assert round_candidates(first) == []
    two = report.parent.parent.parent / "yacht" / ".healer" / "report.json"
    two.parent.mkdir(parents=True)
    two.write_text(json.dumps({"rounds": [{"index": 0, "candidates": [
        {**one, "kept": True}, {**one, "tests_passed": 2}]}]}))
    keep_reports(second)
    assert round_candidates(second) == [*lines, "| yacht | 0 | generate 5/9 kept, generate 2/9 |"]


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_mini_suite_curve_crash_resume_and_outputs(exercism, settings, fake_llm, tmp_path):
    out = tmp_path / "results" / "mini"
    results = ResultsFile(out)
    results.meta = {"run": "mini", "command": "python -m benchmarks run --suite exercism",
                    "planned": ["alpha", "beta", "gamma"]}
    cases = exercism_cases(exercism)
    budget = Budget(max_iters=2)
    done = run_cases(cases, settings=settings, budget=budget, results=results,
                     work=tmp_path / "work", workers=2)
    by_name = {r.name: r for r in done}
    assert set(by_name) == {"alpha", "beta", "gamma"}
    alpha, beta, gamma = by_name["alpha"], by_name["beta"], by_name["gamma"]
    assert alpha.green_at == [True, True, True] and alpha.rounds_used == 0
    assert beta.green_at == [False, True, True] and beta.rounds_used == 1
    assert beta.strategies == ["generate", "repair"] and beta.status == "green"
    assert gamma.status == "crash" and gamma.green_at == [False, False, False]
    assert "missing_helper.py" in gamma.error
    assert alpha.calls > 0 and alpha.prompt_tokens > 0 and beta.sandbox_seconds > 0
    assert (tmp_path / "work" / "builds" / "beta" / "beta.py").read_text().endswith("3 * x\n")

    # everything is saved as it finishes: a new run over the same folder builds nothing
    calls = fake_llm.count
    again = ResultsFile(out)
    assert set(again.results) == {"alpha", "beta", "gamma"}
    assert run_cases(cases, settings=settings, budget=budget, results=again,
                     work=tmp_path / "work") == []
    assert fake_llm.count == calls
    # --force rebuilds what is asked for
    redo = run_cases(select(cases, only=["alpha"]), settings=settings, budget=budget,
                     results=again, work=tmp_path / "work", force=True)
    assert [r.name for r in redo] == ["alpha"] and fake_llm.count > calls

    write_outputs(out, list(again.results.values()), again.meta)
    data = json.loads((out / "results.json").read_text())
    assert data["results"]["beta"]["green_at"] == [False, True, True]
    md = (out / "results.md").read_text()
    assert "pass@round0 (one-shot): 1/3 (33%)" in md
    assert "pass@round1: 2/3 (67%)" in md and "pass@final: 2/3 (67%)" in md
    assert "python -m benchmarks run --suite exercism" in md
    assert "| beta | exercism | 2 | green | no | 1 | 1 |" in md
    assert "PARTIAL" not in md
    pytest.importorskip("matplotlib")
    assert (out / "pass_rate.png").read_bytes()[:4] == b"\x89PNG"


def test_partial_results_are_labelled() -> None:
    results = [SpecResult(name="a", suite="x", status="green", green_at=[True])]
    md = render_markdown(results, {"run": "r", "planned": ["a", "b"], "command": "c"})
    assert "PARTIAL RESULTS: 1 of 2 planned specs" in md and "Not yet built: b" in md


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_cli_run_writes_results_with_the_command(exercism, settings, fake_llm, tmp_path,
                                                 monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("HEALER_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "res" / "cli"
    argv = ["run", "--exercism-dir", str(exercism), "--only", "alpha", "--max-iters", "1",
            "--out", str(out), "--work", str(tmp_path / "w"), "--base-url", fake_llm.url,
            "--model", "test-model"]
    assert bench_main(argv) == 0
    md = (out / "results.md").read_text()
    assert "--only alpha --max-iters 1" in md and "pass@final: 1/1 (100%)" in md
    alpha = json.loads((out / "results.json").read_text())["results"]["alpha"]
    assert alpha["status"] == "green" and alpha["finished"] and alpha["code"]
    assert f"- built by healer {alpha['code']}: alpha" in md
    assert bench_main(argv) == 0  # resumes: nothing left to build
    assert bench_main([*argv, "--force"]) == 0  # a re-run keeps the run's defining command
    meta = json.loads((out / "results.json").read_text())["meta"]
    assert meta["command"].endswith("--model test-model")
    assert meta["invocations"] == [meta["command"], meta["command"], meta["command"] + " --force"]
    assert "Commands run into this folder, in order:" in (out / "results.md").read_text()


def test_report_command_rewrites_markdown_from_json(tmp_path) -> None:
    out = tmp_path / "run"
    results = ResultsFile(out)
    results.meta = {"run": "run", "command": "python -m benchmarks run", "planned": ["a"]}
    results.add(SpecResult(name="a", suite="exercism", status="green", green_at=[False, True]))
    assert bench_main(["report", "--out", str(out), "--note", "resumed once"]) == 0
    md = (out / "results.md").read_text()
    assert "Note: resumed once" in md
    assert json.loads((out / "results.json").read_text())["meta"]["notes"] == ["resumed once"]
    assert "pass@round0 (one-shot): 0/1 (0%)" in md and "pass@round1: 1/1 (100%)" in md


def test_a_crash_mid_build_keeps_what_the_report_recorded(tmp_path) -> None:
    def builder(spec: str, output: Path, settings: Settings, budget: Budget) -> RunReport:
        rnd = Round(index=0, checks=[CheckResult(name="pytest", passed=False)],
                    usage=Usage(prompt_tokens=900, completion_tokens=100, calls=2))
        report = RunReport(spec=spec, output=str(output), status="error", stop_reason="400",
                           rounds=[rnd], usage_by_stage={"generate": rnd.usage})
        (output / ".healer").mkdir(parents=True)
        (output / ".healer" / "report.json").write_text(report.model_dump_json())
        raise EndpointError("refused the request: HTTP 400")

    case = Case("omega", "examples", tmp_path)
    (tmp_path / "spec.md").write_text("# Omega\n")
    result = build_case(case, settings=Settings(), budget=Budget(max_iters=2),
                        work=tmp_path / "work", builder=builder)
    assert result.status == "crash" and "HTTP 400" in result.error
    assert (result.prompt_tokens, result.completion_tokens, result.calls) == (900, 100, 2)
    assert result.green_at == [False, False, False] and result.strategies == ["generate"]


def test_the_code_version_ignores_benchmark_results_only(tmp_path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "r.json").write_text("{}\n")
    (tmp_path / "app.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    clean = code_version(tmp_path)
    assert len(clean) == 7 and not clean.endswith("-dirty")
    (tmp_path / "benchmarks" / "results" / "r.json").write_text('{"a": 1}\n')
    assert code_version(tmp_path) == clean
    (tmp_path / "app.py").write_text("x = 2\n")
    assert code_version(tmp_path) == f"{clean}-dirty"


def test_a_comparison_can_keep_its_builds_and_nothing_else(tmp_path: Path) -> None:
    from benchmarks.compare import Arm, clean

    arm = Arm("after", tmp_path, tmp_path / "a", tmp_path / "scratch", {})
    build = arm.cache / "work" / "builds" / "acronym"
    build.mkdir(parents=True)
    (build / "acronym.py").write_text("x = 1\n")
    (arm.cache / "models").mkdir()
    (arm.cache / "responses.sqlite").write_text("answers")
    weights = tmp_path / "weights.gguf"
    weights.write_text("w")
    (arm.cache / "models" / "w.gguf").symlink_to(weights)
    clean(arm, keep_builds=True)
    assert sorted(p.name for p in arm.cache.iterdir()) == ["work"]
    assert (build / "acronym.py").is_file() and weights.is_file()
    clean(arm)
    assert not arm.cache.exists() and weights.is_file()


def test_a_comparison_on_a_machine_without_weights_links_a_folder_that_exists(
        tmp_path: Path, monkeypatch) -> None:
    from benchmarks.compare import Arm, _share_weights

    monkeypatch.setenv("HEALER_CACHE_DIR", str(tmp_path / "user-cache"))
    arm = Arm("before", tmp_path, tmp_path / "b", tmp_path / "scratch", {})
    _share_weights(arm)
    _share_weights(arm)  # a second build of the arm finds the link in place
    assert (arm.cache / "models").is_symlink() and (arm.cache / "models").is_dir()
    (arm.cache / "models").mkdir(parents=True, exist_ok=True)  # what the weights lock does


def test_outputs_of_a_run_whose_every_build_crashed_before_recording(tmp_path: Path) -> None:
    write_outputs(tmp_path, [], {"max_iters": 5})
    assert (tmp_path / "results.md").is_file() and not (tmp_path / "pass_rate.png").exists()


def test_compare_shows_each_arms_progress_by_round_over_the_specs_both_built(
        tmp_path: Path) -> None:
    from benchmarks.compare import Arm, by_round, summary

    arms = [Arm("A", tmp_path, tmp_path / "a", tmp_path / "ca", {}),
            Arm("B", tmp_path, tmp_path / "b", tmp_path / "cb", {})]
    red = SpecResult(name="yacht", suite="exercism", status="not_green",
                     green_at=[False, False], tests_passed_at=[3, 5], tests_total=10)
    fixed = red.model_copy(update={"status": "green", "green_at": [False, True, True],
                                   "tests_passed_at": [3, 10, 10]})
    one_shot = SpecResult(name="acronym", suite="exercism", status="green",
                          green_at=[True], tests_passed_at=[9], tests_total=9)
    only_b = one_shot.model_copy(update={"name": "clock"})  # A has not built it yet
    for arm, rows in zip(arms, ([red, one_shot], [fixed, one_shot, only_b]), strict=True):
        arm.out.mkdir()
        (arm.out / "results.json").write_text(json.dumps(
            {"meta": {}, "results": {r.name: r.model_dump() for r in rows}}))
    lines, curves, common = by_round(arms)
    assert common == 2 and curves == {"A": [0.5, 0.5], "B": [0.5, 1.0, 1.0]}
    assert "| 0 (one-shot) | 1/2 | 12/19 | 1/2 | 12/19 |" in lines
    assert "| 1 | 1/2 | 14/19 | 2/2 | 19/19 |" in lines
    assert "| 2 | 1/2 | 14/19 | 2/2 | 19/19 |" in lines
    assert "Over the 2 specs both arms built:" in summary(arms, "cmd")


def test_the_comparisons_plot_draws_one_line_per_arm_and_nothing_without_points(
        tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from benchmarks.summary import plot_curves

    assert plot_curves({"A": [0.5, 0.5], "B": [0.5, 1.0]}, 2, tmp_path / "p.png", "t")
    assert (tmp_path / "p.png").stat().st_size > 0
    assert not plot_curves({"A": []}, 0, tmp_path / "none.png", "t")
    assert not (tmp_path / "none.png").exists()


def test_a_comparison_report_only_builds_nothing_and_keeps_the_builds(
        tmp_path: Path, monkeypatch) -> None:
    from benchmarks import compare

    def no_build(*args, **kwargs):
        raise AssertionError("report-only built a spec")

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(compare, "worktree", lambda commit, where: where)
    monkeypatch.setattr(compare, "build", no_build)
    out = tmp_path / "ab"
    record = SpecResult(name="acronym", suite="exercism", status="green", green_at=[True],
                        tests_passed_at=[9], tests_total=9, wall_seconds=61.0)
    for arm in ("before", "after"):
        (out / arm).mkdir(parents=True)
        (out / arm / "results.json").write_text(json.dumps(
            {"meta": {}, "results": {"acronym": record.model_dump()}}))
    kept = tmp_path / "healer-compare-after" / "work" / "builds" / "yacht" / "yacht.py"
    kept.parent.mkdir(parents=True)
    kept.write_text("x = 1\n")
    text = compare.main("HEAD", "HEAD", ["acronym", "yacht"], out, [], "python -m benchmarks "
                        "compare ...", report_only=True)
    assert "| acronym | green | 9/9 | 61 | green | 9/9 | 61 |" in text
    assert (out / "README.md").read_text() == text and kept.is_file()
