"""`healer build`: the repair loop with a scripted model and the real Docker sandbox."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from healer import loop
from healer.cli import cli
from tests.fakellm import Reply, error_body
from tests.scripted_model import ProjectModel

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = ("from calc import add, mul\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
         "def test_mul():\n    assert mul(2, 3) == 6\n")
FIX = ("Diagnosis: add subtracts instead of adding.\n\ncalc.py\n<<<<<<< SEARCH\n    return a - b\n"
       "=======\n    return a + b\n>>>>>>> REPLACE\n")


def calc_spec(tmp_path: Path) -> Path:
    """A spec of `calc.py` with its acceptance test beside it."""
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "test_calc.py").write_text(TESTS)
    path = folder / "calc.md"
    path.write_text("# Calc\nA module `calc.py` with `add(a, b)` and `mul(a, b)`.\n"
                    "## Tests\n- test_calc.py\n")
    return path


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    return calc_spec(tmp_path)


def build(spec: Path, out: Path, llm_env: dict[str, str], *extra: str):
    args = ["build", str(spec), "-o", str(out), "--no-cache", *extra]
    return CliRunner().invoke(cli, args, env=llm_env, catch_exceptions=False)


def report(out: Path) -> dict:
    return json.loads((out / ".healer" / "report.json").read_text())


def test_real_bug_is_repaired_in_round_one(fake_llm, llm_env, spec, tmp_path, caplog) -> None:
    model = ProjectModel({"calc.py": BUGGY}, debug=[FIX])
    fake_llm.responder = model
    caplog.set_level(logging.WARNING)  # and the root logger's level back after the test
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "3", "--json", "-v")  # -v after the command
    assert result.exit_code == 0, result.output + result.stderr
    data = report(out)
    assert json.loads(result.stdout) == data  # --json prints report.json, usage included
    assert data["usage"]["calls"] >= 2
    assert logging.getLogger().level == logging.INFO  # -v took effect
    assert data["status"] == "green" and data["best_round"] == 1
    first, second = data["rounds"]
    assert "acceptance" in [c["name"] for c in first["checks"] if not c["passed"]]
    assert all(c["passed"] for c in second["checks"])
    debug_prompt = next(p for k, p in model.prompts if k == "debug")
    assert "test_add" in debug_prompt and "assert" in debug_prompt  # the real traceback
    assert "- compared: -1 == 3 is false" in debug_prompt  # and the facts of the failure
    assert "return a + b" in (out / "calc.py").read_text()
    assert (out / "test_calc.py").read_text() == TESTS
    log = subprocess.run(["git", "log", "--format=%s"], cwd=out, capture_output=True, text=True,
                         check=False)
    assert any(s.startswith("round 1 (repair)") for s in log.stdout.splitlines())
    assert (out / ".healer" / "report.md").read_text().count("## Round") == 2


def test_unfixed_failure_stops_at_budget_and_keeps_best_round(fake_llm, llm_env, spec, tmp_path) -> None:
    worse = ("Diagnosis: try this.\n\ncalc.py\n<<<<<<< SEARCH\n    return a * b\n=======\n"
             "    return a * * b\n>>>>>>> REPLACE\n")
    fake_llm.responder = ProjectModel({"calc.py": BUGGY}, debug=[worse])
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "1")
    assert result.exit_code == 1
    data = report(out)
    assert data["status"] == "not_green" and "round budget" in data["stop_reason"]
    assert len(data["rounds"]) == 2 and data["best_round"] == 0
    failing = [c["name"] for c in data["rounds"][1]["checks"] if not c["passed"]]
    assert failing == ["syntax", "acceptance"]  # round 1 broke the module: worse than before
    assert (out / "calc.py").read_text() == BUGGY  # the best round, not the last


def test_edit_to_acceptance_test_is_refused(fake_llm, llm_env, spec, tmp_path) -> None:
    cheat = ("Diagnosis: the test is wrong.\n\ntest_calc.py\n<<<<<<< SEARCH\n"
             "    assert add(1, 2) == 3\n=======\n    assert add(1, 2) == -1\n>>>>>>> REPLACE\n")
    model = ProjectModel({"calc.py": BUGGY}, debug=[cheat, cheat, cheat],
                         regenerate={"calc.py": BUGGY})  # the round's fresh sample: as buggy
    fake_llm.responder = model
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "1")
    assert result.exit_code == 1
    assert (out / "test_calc.py").read_text() == TESTS
    retries = [p for k, p in model.prompts if k == "debug"][1:]
    assert retries and all("protected" in p for p in retries)
    fresh = [p for k, p in model.prompts if k == "regenerate"]
    assert fresh and all("Write the file `calc.py` anew" in p for p in fresh)  # never the test
    assert "edits not applied" in report(out)["rounds"][1]["diagnosis"]


def test_search_that_does_not_match_goes_back_and_retry_applies(fake_llm, llm_env, spec, tmp_path) -> None:
    miss = FIX.replace("    return a - b\n=", "    return a minus b\n=")
    model = ProjectModel({"calc.py": BUGGY}, debug=[miss, FIX])
    fake_llm.responder = model
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "2")
    assert result.exit_code == 0, result.output + result.stderr
    retry = [p for k, p in model.prompts if k == "debug"][1]
    assert "could not be applied" in retry and "SEARCH text was not found" in retry
    assert report(out)["best_round"] == 1


def test_interrupted_build_resumes_without_losing_rounds(fake_llm, llm_env, spec, tmp_path,
                                                         monkeypatch) -> None:
    model = ProjectModel({"calc.py": BUGGY}, debug=[FIX])
    fake_llm.responder = model
    out = tmp_path / "out"
    llm_env = {**llm_env, "HEALER_PLAN": "short"}  # a plan call, not made again on resume

    def interrupt(self) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(loop._Loop, "_repair_round", interrupt)
        result = CliRunner().invoke(cli, ["build", str(spec), "-o", str(out), "--no-cache"], env=llm_env)
    assert result.exit_code == 130
    saved = report(out)
    assert saved["stop_reason"] == "interrupted" and len(saved["rounds"]) == 1
    assert saved["rounds"][0]["checks"]

    result = build(spec, out, llm_env)
    assert result.exit_code == 0, result.output + result.stderr
    assert model.kinds().count("generate") == 1 and model.kinds().count("plan") == 1  # not again
    data = report(out)
    # the resumed folder is checked again first (its report is no proof), then repaired
    assert [r["strategy"] for r in data["rounds"]] == ["generate", "recheck", "repair"]
    assert data["status"] == "green" and data["best_round"] == 2
    assert data["rounds"][0]["checks"] == saved["rounds"][0]["checks"]


def test_a_prompt_past_the_context_costs_a_round_not_the_run(fake_llm, llm_env, spec,
                                                             tmp_path) -> None:
    overflow = error_body(400, "request (8357 tokens) exceeds the available context size")
    fixed = BUGGY.replace("a - b", "a + b")
    model = ProjectModel({"calc.py": BUGGY}, debug=[Reply(status=400, body=overflow)],
                         regenerate={"calc.py": fixed})
    fake_llm.responder = model
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "3")
    assert result.exit_code == 0, result.output + result.stderr
    data = report(out)
    assert [r["strategy"] for r in data["rounds"]] == ["generate", "repair", "regenerate"]
    assert "did not fit the model's context" in data["rounds"][1]["diagnosis"]
    assert "50%" in data["rounds"][1]["diagnosis"] and data["status"] == "green"
    assert (out / "calc.py").read_text() == fixed


def test_endpoint_failure_mid_loop_is_reported_and_keeps_rounds(fake_llm, llm_env, spec,
                                                                tmp_path, monkeypatch) -> None:
    from healer.llm import client

    monkeypatch.setattr(client, "RETRY_WAIT_MAX", 0.01)
    model = ProjectModel({"calc.py": BUGGY})  # no debug answer scripted: the endpoint fails
    fake_llm.responder = model
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "2")
    assert result.exit_code == 3 and "failed after" in result.stderr
    data = report(out)
    assert data["status"] == "error" and "failed after" in data["stop_reason"]
    assert len(data["rounds"]) == 1 and data["rounds"][0]["checks"]


BREAK = ("Diagnosis: add should add.\n\ncalc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n"
         "    return a +\n>>>>>>> REPLACE\n")


def test_a_repair_that_breaks_the_code_is_not_built_on(fake_llm, llm_env, spec, tmp_path) -> None:
    # round 1's edit leaves calc.py unparsable (0 of 2 tests); round 2 (a hotter repair, not
    # the same one again) starts from round 0's code (1 of 2), the only code its fix applies
    # to, and turns the build green
    model = ProjectModel({"calc.py": BUGGY}, debug=[BREAK, FIX])
    fake_llm.responder = model
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "3")
    assert result.exit_code == 0, result.output
    data = report(out)
    tests = [next(c for c in r["checks"] if c["name"] == "acceptance")["tests_passed"]
             for r in data["rounds"]]
    assert tests == [1, 0, 2] and data["status"] == "green" and data["best_round"] == 2
    assert [r["strategy"] for r in data["rounds"]] == ["generate", "repair", "narrow"]
    assert "from round 0 (the best so far)" in data["rounds"][2]["diagnosis"]
    debug_prompts = [p for k, p in model.prompts if k == "debug"]
    assert "return a +\n" not in debug_prompts[-1]  # the repair saw round 0's code
    assert (out / "calc.py").read_text() == BUGGY.replace("a - b", "a + b")


def test_the_chain_after_a_round_that_did_worse_than_the_best() -> None:
    from healer.models import Round
    from healer.strategies import next_in_chain

    repaired = [Round(index=0), Round(index=1, strategy="repair", files_changed=["calc.py"])]
    assert next_in_chain(repaired) == "repair"
    assert next_in_chain(repaired, from_best=True) == "narrow"  # not the same repair again
    narrowed = [*repaired, Round(index=2, strategy="narrow", files_changed=["calc.py"])]
    assert next_in_chain(narrowed, from_best=True) == "regenerate"
