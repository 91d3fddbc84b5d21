"""The loop's own logic, with the fake sandbox (no Docker): a repair kept when it helps, the
best round kept when a later one is worse, a switch of strategy after a round that changed
nothing. The real-sandbox loop tests stay beside these (test_loop.py and others)."""

from __future__ import annotations

from pathlib import Path

import pytest

from healer.budget import Budget
from healer.config import load_settings
from healer.llm.client import LLMClient
from healer.loop import Session, build
from healer.pipeline.debug import ATTEMPTS
from healer.spec import load_spec
from healer.workspace import Workspace
from tests.fake_sandbox import FakeSandbox
from tests.scripted_model import ProjectModel

SPEC = "# Calc\nA module `calc.py` with `add(a, b)`, and its tests in `test_calc.py`.\n"
BUGGY = "def add(a, b):\n    return a - b\n"
GOOD = "def add(a, b):\n    return a + b\n"
WORSE = "def add(a, b):\n    return None\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n" \
        "def test_zero():\n    assert add(0, 0) == 0\n"


def judge(files: dict[str, str]) -> dict[str, str | None]:
    """What calc.py's add gives, read from its source (nothing runs)."""
    code = files.get("calc.py", "")
    add_ok = "a + b" in code
    zero_ok = "a + b" in code or "a - b" in code
    trace = "test_calc.py:5: in test_add\n    assert add(2, 3) == 5\ncalc.py:2: in add\n"
    return {"test_calc.py::test_add": None if add_ok else trace + "AssertionError",
            "test_calc.py::test_zero": None if zero_ok else trace + "AssertionError"}


def edit(old: str, new: str) -> str:
    return f"Diagnosis: try this.\n\ncalc.py\n<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE\n"


@pytest.fixture
def run(fake_llm, fast_retries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HEALER_CACHE_DIR", str(tmp_path / "cache"))

    def go(model: ProjectModel, max_iters: int):
        fake_llm.responder = model
        settings = load_settings(None, base_url=fake_llm.url, model="test-model", api_key="k",
                                 cache=False)
        sandbox = FakeSandbox(judge)
        llm = LLMClient(settings)
        try:
            ws = Workspace(tmp_path / "out")
            report = build(load_spec(SPEC), ws, Session(llm=llm, sandbox=sandbox,
                                                        settings=settings),
                           Budget(max_iters=max_iters))
        finally:
            llm.close()
        return report, ws, sandbox

    return go


def files(model_code: str) -> dict[str, str]:
    return {"calc.py": model_code, "test_calc.py": TESTS}


def test_a_repair_that_fixes_the_test_ends_green(run) -> None:
    report, ws, sandbox = run(ProjectModel(files(BUGGY), debug=[edit("    return a - b\n",
                                                                     "    return a + b\n")]), 2)
    assert report.status == "green" and [r.strategy for r in report.rounds] == [
        "generate", "repair"]
    assert (ws.root / "calc.py").read_text() == GOOD
    assert any("pytest" in c for c in sandbox.commands)


def test_a_worse_round_never_replaces_the_best(run) -> None:
    worse = edit("    return a - b\n", "    return None\n")
    report, ws, _ = run(ProjectModel(files(BUGGY), debug=[worse], regenerate={}), 1)
    assert report.status == "not_green"
    assert report.best_round == 0  # round 1 failed both tests, round 0 one of them
    assert (ws.root / "calc.py").read_text() == BUGGY  # the folder holds the best round


def test_a_repair_whose_answers_change_nothing_samples_the_file_afresh_in_its_round(run) -> None:
    unchanged = "Diagnosis: it looks right to me.\n"  # no edit at all, however often asked
    model = ProjectModel(files(BUGGY), debug=[unchanged] * ATTEMPTS,
                         regenerate={"calc.py": GOOD, "test_calc.py": TESTS})
    report, ws, _ = run(model, 2)
    assert [r.strategy for r in report.rounds] == ["generate", "repair"]
    assert model.kinds().count("debug") == ATTEMPTS and model.kinds()[-1] == "regenerate"
    assert report.rounds[1].files_changed == ["calc.py"] and report.status == "green"
    assert "regenerated calc.py" in report.rounds[1].diagnosis
    assert (ws.root / "calc.py").read_text() == GOOD
    # the fresh sample reads what the repair's prompt already had processed, failures included
    debug, fresh = (model.prompts[model.kinds().index(k)][1] for k in ("debug", "regenerate"))
    through_failures = debug.split("\n# The project\n", 1)[0]
    assert "# Failing checks\n" in through_failures and fresh.startswith(through_failures)


def test_a_round_that_changes_nothing_is_followed_by_another_strategy(run) -> None:
    unchanged = "Diagnosis: it looks right to me.\n"
    model = ProjectModel(files(BUGGY), debug=[unchanged] * ATTEMPTS,
                         regenerate={"calc.py": BUGGY, "test_calc.py": TESTS})  # as they were
    report, ws, _ = run(model, 2)
    assert [r.strategy for r in report.rounds] == ["generate", "repair", "regenerate"]
    assert [r.files_changed for r in report.rounds[1:]] == [[], []]
    assert report.status == "not_green" and (ws.root / "calc.py").read_text() == BUGGY


def test_the_users_edits_are_every_path_they_touched(tmp_path: Path) -> None:
    """What `improve` commits apart as the user's: changed, added, renamed (both names)."""
    ws = Workspace(tmp_path / "out")
    ws.init()
    (ws.root / "a.py").write_text("a = 1\n")
    (ws.root / "b.py").write_text("b = 1\n")
    ws.commit("round 0")
    import subprocess

    subprocess.run(["git", "-C", str(ws.root), "mv", "a.py", "c.py"], check=True)
    (ws.root / "b.py").write_text("b = 2\n")
    (ws.root / "new.py").write_text("n = 1\n")
    assert ws.changed_files() == ["a.py", "b.py", "c.py", "new.py"]


@pytest.fixture
def resumed(run, fake_llm, tmp_path: Path):
    """A red build (round 0: BUGGY, one of two tests), then a loop over its folder as a
    resumed build would start, with the folder's report as forged by someone else."""
    from healer import loop as loop_module

    report, ws, sandbox = run(ProjectModel(files(BUGGY)), 0)
    settings = load_settings(None, base_url=fake_llm.url, model="test-model", api_key="k",
                             cache=False)
    llm = LLMClient(settings)
    made = loop_module._Loop(load_spec(SPEC), ws, Session(llm=llm, sandbox=sandbox,
                                                          settings=settings), Budget())
    yield made, report
    llm.close()


def _claims_green(rnd) -> None:
    for check in rnd.checks:
        check.passed, check.failures = True, []


def test_a_round_whose_recheck_runs_out_of_time_keeps_none_of_its_claims(
        resumed, monkeypatch: pytest.MonkeyPatch) -> None:
    from healer.errors import BudgetSpentError

    made, report = resumed
    _claims_green(report.rounds[0])  # the report says round 0 was green
    made.report = report
    made._distrust(report)

    def out_of_time(folder: Path, name: str) -> list:
        raise BudgetSpentError("time budget spent")

    monkeypatch.setattr(made, "_checks_of", out_of_time)
    with pytest.raises(BudgetSpentError):
        made._best()
    assert report.rounds[0].checks == [] and made._best() is None  # not green on its word


def test_a_resumed_build_out_of_time_while_rechecking_ends_with_its_report_saved(
        resumed, monkeypatch: pytest.MonkeyPatch) -> None:
    # the time runs out while round 0 of the folder's report is checked again: no other
    # resumed round is checked again while the build finishes (that would raise once more,
    # from inside the handler, and leave the report unsaved and the folder unrestored)
    from healer.errors import BudgetSpentError
    from healer.state import load_report, save_report

    made, report = resumed
    cut = report.rounds[0].model_copy(update={"index": 1, "cut": True}, deep=True)
    _claims_green(cut)
    report.rounds.append(cut)
    save_report(made.ws, report)
    tried: list[str] = []

    def out_of_time(folder: Path, name: str) -> list:
        tried.append(name)
        raise BudgetSpentError("time budget spent")

    monkeypatch.setattr(made, "_checks_of", out_of_time)
    out = made.run()
    assert out.status == "not_green" and "no round was checked" in out.stop_reason
    assert len(tried) == 1 and load_report(made.ws).status == "not_green"


def test_a_report_caught_overstating_one_round_is_believed_in_none(resumed) -> None:
    made, report = resumed
    honest = report.rounds[0].model_copy(deep=True)
    report.rounds.append(honest.model_copy(update={"index": 1}, deep=True))
    _claims_green(report.rounds[1])  # round 1 (BUGGY's commit) says green, round 0 the truth
    report.rounds.append(honest.model_copy(update={"index": 7, "commit": "HEAD"}, deep=True))
    made.report = report
    made._distrust(report)
    assert [r.index for r in report.rounds] == [0, 1, 2]  # numbered by their place
    assert report.rounds[2].commit is None and not report.rounds[2].checks  # HEAD: no commit id
    best = made._best()  # round 1 was checked again: red, so round 0 is not believed either
    assert best is report.rounds[1] and not best.green and report.rounds[0].checks == []
