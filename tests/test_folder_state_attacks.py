"""A folder healer is pointed at may have been prepared by someone else: the commits its
`.healer/report.json` and `.healer/search.json` name reach git, and a "commit" that is an
option (`--output=FILE` makes `git diff` write a file anywhere) must never be taken as one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from healer.errors import HealerError
from healer.workspace import Workspace
from tests.test_loop import BUGGY, build, calc_spec, report


def _red_build(fake_llm, llm_env, tmp_path: Path) -> tuple[Path, Path]:
    """(spec, folder) of an honest build of calc with a bug: round 0 passes 1 of 2 tests."""
    from tests.scripted_model import ProjectModel

    spec = calc_spec(tmp_path)
    fake_llm.responder = ProjectModel({"calc.py": BUGGY})
    out = tmp_path / "out"
    assert build(spec, out, llm_env, "--max-iters", "0").exit_code == 1
    return spec, out


def _hand_edit(out: Path, code: str) -> str:
    """`calc.py` of a built folder changed and committed by hand; the commit."""
    (out / "calc.py").write_text(code)
    subprocess.run(["git", "commit", "-qam", "a small change"], cwd=out, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=out, capture_output=True,
                          text=True, check=True).stdout.strip()


def _folder(tmp_path: Path) -> tuple[Workspace, str]:
    ws = Workspace(tmp_path / "out")
    ws.init()
    (ws.root / "calc.py").write_text("x = 1\n")
    return ws, ws.commit("one") or ""


@pytest.mark.parametrize("how", ["restore", "same_project", "is_ancestor", "advance_to",
                                 "scratch_tree", "file_at"])
def test_an_option_named_as_a_commit_never_reaches_git(tmp_path: Path, how: str) -> None:
    ws, good = _folder(tmp_path)
    target = tmp_path / "written-by-git"
    evil = f"--output={target}"
    calls = {
        "restore": lambda: ws.restore(evil),
        "same_project": lambda: ws.same_project(good, evil),
        "is_ancestor": lambda: ws.is_ancestor(evil, good),
        "advance_to": lambda: ws.advance_to(evil),
        "scratch_tree": lambda: ws.scratch_tree(evil).__enter__(),
        "file_at": lambda: ws.file_at(evil, "calc.py"),
    }
    try:
        answer = calls[how]()
    except HealerError as exc:
        assert "not a commit" in exc.message
    else:
        assert answer in (None, False)
    assert not target.exists()
    assert ws.same_project(good, good) and ws.file_at(good, "calc.py") == "x = 1\n"


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_a_report_naming_an_option_as_its_best_round_does_not_make_git_write_a_file(
        fake_llm, llm_env, tmp_path: Path) -> None:
    spec, out = _red_build(fake_llm, llm_env, tmp_path)
    target = tmp_path / "written-by-git"
    data = report(out)
    data["rounds"][0]["commit"] = f"--output={target}"
    data["rounds"][0]["cut"] = True
    (out / ".healer" / "report.json").write_text(json.dumps(data))
    (out / ".healer" / "search.json").write_text(json.dumps(
        {"round": 0, "base": f"--output={target}", "strategies": ["generate"] * 2}))
    subprocess.run(["git", "commit", "-qam", "x"], cwd=out, check=False)
    again = build(spec, out, llm_env, "--max-iters", "1", "--candidates", "2")
    assert not target.exists(), again.output
    assert again.exit_code == 2 and "is not a commit id" in again.output


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_a_report_that_says_green_for_code_it_never_checked_is_not_believed(
        fake_llm, llm_env, tmp_path: Path) -> None:
    from tests.scripted_model import ProjectModel

    spec = calc_spec(tmp_path)
    fixed = BUGGY.replace("a - b", "a + b")
    fake_llm.responder = ProjectModel({"calc.py": fixed})
    out = tmp_path / "out"
    assert build(spec, out, llm_env, "--max-iters", "0").exit_code == 0  # green, honestly
    # the folder changes hands: buggy code committed, the report left saying green for it
    head = _hand_edit(out, BUGGY)
    data = report(out)
    data["rounds"][-1]["commit"] = head
    (out / ".healer" / "report.json").write_text(json.dumps(data))
    again = build(spec, out, llm_env, "--max-iters", "0")
    assert again.exit_code != 0, again.output
    assert report(out)["status"] != "green"


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
@pytest.mark.parametrize("claim", ["green", "more tests"])
def test_a_search_journal_that_overstates_a_candidate_is_not_believed(
        fake_llm, llm_env, tmp_path: Path, claim: str) -> None:
    from tests.test_candidates import cut_short

    spec = calc_spec(tmp_path)
    slow, seeds = {"on": True}, []
    fake_llm.responder = cut_short(seeds, slow)
    out = tmp_path / "out"
    first = build(spec, out, llm_env, "--candidates", "3", "--max-iters", "0", "--timeout", "25")
    assert first.exit_code == 1 and report(out)["rounds"][0]["cut"], first.output
    journal = out / ".healer" / "search.json"
    data = json.loads(journal.read_text())
    forged = data["done"]["1"]["candidate"]
    forged.update(green=claim == "green", failing=[] if claim == "green" else ["lint"],
                  tests_passed=2)
    journal.write_text(json.dumps(data))
    seeds.clear()
    slow["on"] = False  # candidate 3 is now written correctly
    again = build(spec, out, llm_env, "--candidates", "3", "--max-iters", "0")
    assert again.exit_code == 0, again.output
    candidates = {c["number"]: c for c in report(out)["rounds"][0]["candidates"]}
    # the forged candidate's commit was checked again (not written again): as buggy as it was;
    # green is 3's own
    assert seeds == [3]
    assert not candidates[1]["green"] and candidates[1]["tests_passed"] == 1
    assert candidates[3]["green"] and candidates[3]["kept"]


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_a_report_that_overstates_a_red_round_is_not_believed(
        fake_llm, llm_env, tmp_path: Path) -> None:
    spec, out = _red_build(fake_llm, llm_env, tmp_path)
    checks = report(out)["rounds"][0]["checks"]
    assert next(c for c in checks if c["name"] == "acceptance")["tests_passed"] == 1
    # the folder changes hands: code that passes no test committed, the report's round (1 of
    # 2) pointed at it
    head = _hand_edit(out, BUGGY.replace("a * b", "a ** b"))
    data = report(out)
    data["rounds"][-1]["commit"] = head
    (out / ".healer" / "report.json").write_text(json.dumps(data))
    again = build(spec, out, llm_env, "--max-iters", "0")
    assert again.exit_code == 1, again.output
    data = report(out)
    best = next(r for r in data["rounds"] if r["index"] == data["best_round"])
    acceptance = next(c for c in best["checks"] if c["name"] == "acceptance")
    assert best["commit"] == head and acceptance["tests_passed"] == 0  # what the code passes
    assert "a ** b" in (out / "calc.py").read_text()


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
@pytest.mark.parametrize("journal", [True, False])  # the search goes on, or the round stands
def test_a_report_that_overstates_a_round_before_a_cut_search_is_not_believed(
        fake_llm, llm_env, tmp_path: Path, journal: bool) -> None:
    from tests.test_candidates import _fenced

    spec = calc_spec(tmp_path)
    none_pass = BUGGY.replace("a * b", "a ** b")  # add and mul both wrong

    def respond(request: dict) -> str:
        last = request["messages"][-1]["content"]
        if "Do not write the code yet" in last:
            return "calc.py: add(a, b) and mul(a, b)."
        if any("Find why the checks fail" in m["content"] for m in request["messages"]):
            return ("Diagnosis: add.\n\ncalc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n"
                    "    return a - b - 0\n>>>>>>> REPLACE\n")  # passes no test either
        if "Write the file `calc.py` anew" in last:
            return _fenced(none_pass.replace("a - b", "b - a"))
        return _fenced(BUGGY if request.get("seed") is None else none_pass)

    fake_llm.responder = respond
    out = tmp_path / "out"
    assert build(spec, out, llm_env, "--candidates", "2", "--max-iters", "0").exit_code == 1
    data = report(out)
    honest = data["rounds"][0]
    # the folder changes hands: round 0 (1 of 2, as it says) is pointed at code that passes no
    # test, and a round 1 is added whose search says it was cut short
    head = _hand_edit(out, none_pass)
    honest["commit"] = head
    data["rounds"].append({**honest, "index": 1, "strategy": "candidates", "cut": True,
                           "candidates": []})
    (out / ".healer" / "report.json").write_text(json.dumps(data))
    if journal:
        (out / ".healer" / "search.json").write_text(json.dumps(
            {"round": 1, "base": head, "strategies": ["repair", "fresh"], "done": {}}))
    again = build(spec, out, llm_env, "--candidates", "2", "--max-iters", "1")
    assert again.exit_code == 1, again.output
    data = report(out)
    for rnd in data["rounds"][data["best_round"]:]:  # the best round and those after it
        acceptance = next((c for c in rnd["checks"] if c["name"] == "acceptance"), None)
        assert acceptance is None or acceptance["tests_passed"] == 0, rnd
    assert "a ** b" in (out / "calc.py").read_text() or "b - a" in (out / "calc.py").read_text()


@pytest.mark.parametrize("entry", ["spec.md", "report.md", "replaced", "screenshots/popup.png",
                                   ".", "fifo"])
def test_a_state_folder_holding_links_is_refused(tmp_path: Path, entry: str) -> None:
    # a link in .healer/ would be read into a prompt (spec.md to a secret) or written through
    # (report.md, replaced/ to a file or folder elsewhere); a FIFO would hang a read
    import os

    from healer.errors import UsageError

    ws, _ = _folder(tmp_path)
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("TOKEN")
    state = ws.root / ".healer"
    if entry == ".":
        import shutil

        shutil.rmtree(state)
        state.symlink_to(secret)
    elif entry == "fifo":
        os.mkfifo(state / "plan.md")
    else:
        (state / entry).parent.mkdir(parents=True, exist_ok=True)
        (state / entry).symlink_to(secret / "key" if "." in entry else secret)
    with pytest.raises(UsageError, match="a link or not a plain file"):
        Workspace(ws.root).state  # noqa: B018 - the first look at the state folder vets it
    assert (secret / "key").read_text() == "TOKEN"


def test_removing_a_file_never_goes_through_a_linked_folder(tmp_path: Path) -> None:
    ws, _ = _folder(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_text("keep me\n")
    (ws.root / "link").symlink_to(outside)
    ws.commit("a link")
    (ws.root / "new.py").write_text("y = 2\n")
    subprocess.run(["git", "add", "-f", "link/notes.txt"], cwd=ws.root, capture_output=True,
                   check=False)  # git refuses a path beyond a link: it stays untracked
    ws.discard(["link/notes.txt", "new.py"])
    assert (outside / "notes.txt").read_text() == "keep me\n" and not (ws.root / "new.py").exists()


def test_an_unreadable_list_of_the_users_files_is_a_clear_error(tmp_path: Path) -> None:
    from healer.errors import UsageError

    ws, _ = _folder(tmp_path)
    (ws.state / "adopted.json").write_text("[]")
    with pytest.raises(UsageError, match="not a list of the user's files"):
        ws.commit("two")


@pytest.mark.parametrize("rel", ["../outside/x_test.go", "/etc/passwd", "a/../../b.py",
                                 ".git/config"])
def test_a_contract_naming_files_outside_the_folder_is_no_contract(tmp_path: Path,
                                                                    rel: str) -> None:
    # the folder's .healer/acceptance.json names the files its checks read on the host
    from healer.checks.acceptance import Contract
    from healer.state import load_contract, save_contract

    ws, _ = _folder(tmp_path)
    save_contract(ws, Contract(files={"calc_test.py": "0" * 64}, ids=["calc_test.py::t"]))
    assert load_contract(ws) is not None
    forged = json.loads((ws.state / "acceptance.json").read_text())
    forged["files"] = {rel: "0" * 64}
    (ws.state / "acceptance.json").write_text(json.dumps(forged))
    assert load_contract(ws) is None


def test_a_go_acceptance_file_that_is_a_link_or_a_fifo_is_not_read(tmp_path: Path) -> None:
    import os

    from healer.stacks.go_acceptance import GoRun

    (tmp_path / "secret_test.go").write_text("package secret\n\nfunc TestSecret(t *T) {}\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "a_test.go").symlink_to(tmp_path / "secret_test.go")
    os.mkfifo(project / "b_test.go")  # a read of it would never end
    run = GoRun(project, {"a_test.go": "0" * 64, "b_test.go": "0" * 64})
    assert run.tests() == [] and "secret" not in run.command


def test_restoring_a_round_removes_files_with_any_name(tmp_path: Path) -> None:
    ws, first = _folder(tmp_path)
    for name in ("café.py", "tab\there.py"):
        (ws.root / name).write_text("x = 2\n")
    ws.commit("a rejected round")
    ws.restore(first)
    assert sorted(p.name for p in ws.root.iterdir() if p.suffix == ".py") == ["calc.py"]
