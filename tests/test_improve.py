"""Changing a built folder: `healer improve "request"`, and `healer build` after a spec edit.
Both go through the loop from the folder as it is; the user's hand edits stay theirs. Scripted
model, real Docker sandbox."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from healer.cli import cli
from tests.scripted_model import ProjectModel
from tests.test_loop import TESTS, build, calc_spec, report

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]

GOOD = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
HAND = "# tuned by hand: keep\n"
SUB = "\n\ndef sub(a, b):\n    return a - b\n"
SUB_TEST = "from calc import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"
ADD_SUB = (
    "Diagnosis: sub is asked for; it goes beside mul, with a test.\n\n"
    "calc.py\n<<<<<<< SEARCH\n    return a * b\n=======\n    return a * b" + SUB + ">>>>>>> REPLACE\n\n"
    "test_sub.py\n<<<<<<< SEARCH\n=======\n" + SUB_TEST + ">>>>>>> REPLACE\n"
)


def improve(out: Path, llm_env: dict[str, str], request: str):
    return CliRunner().invoke(cli, ["improve", request, "-d", str(out), "--no-cache"],
                              env=llm_env, catch_exceptions=False)


def log_of(out: Path) -> list[str]:
    return subprocess.run(["git", "-C", str(out), "log", "--format=%s"], capture_output=True,
                          text=True, check=True).stdout.splitlines()


def test_improve_makes_the_change_and_keeps_a_hand_edit(fake_llm, llm_env, tmp_path) -> None:
    model = ProjectModel({"calc.py": GOOD}, debug=[ADD_SUB])
    fake_llm.responder = model
    out = tmp_path / "out"
    assert build(calc_spec(tmp_path), out, llm_env).exit_code == 0
    (out / "calc.py").write_text(HAND + (out / "calc.py").read_text())  # not committed
    model.prompts.clear()
    result = improve(out, llm_env, "also provide sub(a, b), returning a - b")
    assert result.exit_code == 0, result.output
    code = (out / "calc.py").read_text()
    assert code.startswith(HAND) and "def sub(a, b)" in code  # the hand edit and the change
    # the plan is asked to be edited (here: no change), nothing is planned or generated anew
    assert [k for k, _ in model.prompts] == ["plan_change", "change"]
    prompt = model.prompts[1][1]
    assert "also provide sub(a, b)" in prompt and "edited `calc.py` by hand" in prompt
    history = log_of(out)
    assert history[1].startswith("round 1 (change: also provide sub(a, b)")
    assert history[2] == "your edits, kept: calc.py"  # on their own, before healer's change
    data = report(out)
    assert data["status"] == "green" and data["rounds"][-1]["strategy"] == "change"
    assert "sub(a, b)" in (out / ".healer" / "changes.md").read_text()


def test_a_spec_edit_changes_the_project_instead_of_building_it_anew(fake_llm, llm_env,
                                                                     tmp_path) -> None:
    llm_env = {**llm_env, "HEALER_PLAN": "short"}  # a plan of the model's, for the change to edit
    plan_edit = ("plan.md\n<<<<<<< SEARCH\n- as the spec says\n=======\n- as the spec says; "
                 "sub(a, b) -> a - b\n>>>>>>> REPLACE\n")
    model = ProjectModel({"calc.py": GOOD}, debug=[ADD_SUB], plan_changes=[plan_edit])
    fake_llm.responder = model
    spec, out = calc_spec(tmp_path), tmp_path / "out"
    assert build(spec, out, llm_env).exit_code == 0
    spec.write_text(spec.read_text().replace("and `mul(a, b)`.", "`mul(a, b)` and `sub(a, b)`."))
    model.prompts.clear()
    quiet = ["-q", "build", str(spec), "-o", str(out), "--no-cache"]  # -q before the command
    result = CliRunner().invoke(cli, quiet, env=llm_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "using model" not in result.output and "change" not in result.output
    assert [k for k, _ in model.prompts] == ["plan_change", "change"]
    diff_line = "+A module `calc.py` with `add(a, b)` `mul(a, b)` and `sub(a, b)`."
    assert diff_line in model.prompts[0][1] and diff_line in model.prompts[1][1]
    plan = (out / ".healer" / "plan.md").read_text()
    assert plan.startswith("## Files\n- the files") and "sub(a, b) -> a - b" in plan  # edited
    assert "sub(a, b) -> a - b" in model.prompts[1][1]  # the change sees the edited plan
    assert "def sub(a, b)" in (out / "calc.py").read_text()
    assert (out / "test_calc.py").read_text() == TESTS  # the acceptance tests stay the user's
    data = report(out)
    assert [r["strategy"] for r in data["rounds"]] == ["generate", "change"]
    assert data["status"] == "green"


def test_improve_refuses_a_folder_healer_did_not_build(llm_env, tmp_path) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    result = improve(tmp_path, llm_env, "make it faster")
    assert result.exit_code == 2
    assert "not a folder healer built" in " ".join(result.output.split())


WRONG = ("Diagnosis: mul is wrong.\n\ncalc.py\n<<<<<<< SEARCH\n    return a * b\n=======\n"
         "    return b * a\n>>>>>>> REPLACE\n")


def test_ask_shows_the_diff_and_guidance_reaches_the_next_round(fake_llm, llm_env,
                                                                tmp_path) -> None:
    from tests.test_loop import BUGGY

    model = ProjectModel({"calc.py": BUGGY}, debug=[WRONG], regenerate={"calc.py": GOOD})
    fake_llm.responder = model
    out = tmp_path / "out"
    args = ["build", str(calc_spec(tmp_path)), "-o", str(out), "--no-cache", "--ask",
            "--max-iters", "3"]
    typed = "add is the one that is wrong\na\n"  # guidance for round 1, then accept round 2
    result = CliRunner().invoke(cli, args, env=llm_env, input=typed, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "+    return b * a" in result.output  # round 1's diff was shown, then rejected
    shown = " ".join(result.output.split())
    assert "so far spent" in shown and "left 2 of 3 repair rounds" in shown  # after round 1
    kinds = [k for k, _ in model.prompts]
    assert kinds[-2:] == ["debug", "regenerate"]  # a round that changed nothing: rewrite
    assert "The user says: add is the one that is wrong" in model.prompts[-1][1]
    data = report(out)
    assert data["status"] == "green"
    assert data["rounds"][1]["files_changed"] == [] and "rejected by the user" in \
        data["rounds"][1]["diagnosis"]
    assert "return a * b" in (out / "calc.py").read_text()  # the rejected edit is gone


NEG = ("Diagnosis: neg is asked for.\n\ncalc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n"
       "    return a - b\n\n\ndef neg(a):\n    return -a\n>>>>>>> REPLACE\n")


def _wait_for(condition, what: str, seconds: float = 120.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_watch_session_sees_two_edits(fake_llm, llm_env, tmp_path) -> None:
    llm_env = {**llm_env, "HEALER_PLAN": "short"}  # planned once, not once per edit
    import json
    import os
    import sys

    model = ProjectModel({"calc.py": GOOD}, debug=[ADD_SUB, NEG])
    fake_llm.responder = model
    spec, out = calc_spec(tmp_path), tmp_path / "out"
    command = [sys.executable, "-m", "healer", "watch", str(spec), "-o", str(out), "--no-cache",
               "--poll", "0.1", "--debounce", "0.3", "--max-builds", "3"]
    watcher = subprocess.Popen(command, env={**os.environ, **llm_env}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)

    def rounds() -> list[str]:
        try:
            data = json.loads((out / ".healer" / "report.json").read_text())
        except (OSError, ValueError):
            return []
        return [r["strategy"] for r in data["rounds"]] if data["stop_reason"] != "running" else []

    try:
        _wait_for(lambda: rounds() == ["generate"], "the first build")
        text = spec.read_text()
        spec.write_text(text.replace("and `mul(a, b)`.", "`mul(a, b)` and `sub(a, b)`."))
        _wait_for(lambda: rounds() == ["generate", "change"], "the build after the first edit")
        spec.write_text(spec.read_text() + "\nAlso `neg(a)`, returning -a.\n")
        output, _ = watcher.communicate(timeout=120)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, output
    assert rounds() == ["generate", "change", "change"]
    kinds = [k for k, _ in model.prompts]
    assert kinds.count("plan") == 1 and kinds.count("plan_change") == 2  # planned once
    code = (out / "calc.py").read_text()
    assert "def sub(a, b)" in code and "def neg(a)" in code
    assert output.count("the spec or its tests changed: building") == 2


def test_a_folders_saved_spec_cannot_make_improve_read_a_host_file(fake_llm, llm_env,
                                                                   tmp_path) -> None:
    """A folder handed to `healer improve` is untrusted: its .healer/spec.json may name any
    host file as an 'acceptance test', which the loop would copy into the project and show
    the model."""
    import json

    model = ProjectModel({"calc.py": GOOD}, debug=[ADD_SUB])
    fake_llm.responder = model
    out = tmp_path / "out"
    assert build(calc_spec(tmp_path), out, llm_env).exit_code == 0
    secret = tmp_path / "host" / "id_key.py"
    secret.parent.mkdir()
    secret.write_text("PRIVATE = 'host-secret-7f3a'\n")
    saved = out / ".healer" / "spec.json"
    data = json.loads(saved.read_text())
    data["acceptance_tests"].append(str(secret))
    saved.write_text(json.dumps(data))
    model.prompts.clear()
    result = improve(out, llm_env, "also provide sub(a, b)")
    assert result.exit_code == 2, result.output
    assert "acceptance tests" in " ".join(result.output.split())
    assert model.prompts == [] and not (out / "tests" / "id_key.py").exists()
    assert all("host-secret-7f3a" not in p.read_text(errors="ignore")
               for p in out.rglob("*") if p.is_file() and ".git" not in p.parts)
