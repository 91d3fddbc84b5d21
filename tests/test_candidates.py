"""`healer build --candidates N`: every round written N times, each checked on its own branch."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from healer.models import Candidate, CheckResult, Round, Spec
from healer.strategies.portfolio import portfolio
from healer.strategies.variety import fingerprint, sampling_for
from tests.fakellm import Reply
from tests.test_loop import BUGGY, build, calc_spec, report

CORRECT = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
SLOW_PAD = '"""' + "".join(f"note {i}\n" for i in range(600)) + '"""\n'


def _fenced(code: str) -> str:
    return f"```python\n{code}```\n"


def cut_short(seeds: list[int | None], slow: dict[str, bool]):
    """A scripted model for a search the time budget cuts: candidates 1 and 2 are written at
    once, candidate 3 (seed 3) slowly while `slow["on"]`, else correctly."""

    def respond(request: dict) -> str | Reply:
        seeds.append(request.get("seed"))
        if request.get("seed") == 3:
            if slow["on"]:  # still writing when the time budget runs out
                return Reply(text=_fenced(SLOW_PAD + BUGGY), chunk_delay=0.2)
            return _fenced(CORRECT)
        return _fenced(BUGGY if request.get("seed") is None else "# two\n" + BUGGY.replace(
            "a * b", "b * a"))

    return respond


def _git(out: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=out, capture_output=True, text=True,
                          check=False).stdout


def _acceptance(rnd: dict) -> tuple[int, int]:
    check = next(c for c in rnd["checks"] if c["name"] == "acceptance")
    return check["tests_passed"], check["tests_total"]


def test_candidates_are_sampled_apart_and_keep_the_prompt_prefix() -> None:
    first, second, third = (sampling_for(n, 0.2) for n in (1, 2, 3))
    assert first.temperature is None and first.seed is None and not first.hint
    assert (second.seed, third.seed) == (2, 3) and second.hint and second.hint != third.hint
    assert second.temperature is not None and third.temperature > second.temperature
    # a later round made from the same code asks the same prompts: other seeds (transpose's
    # benchmark build checked the same fresh sample in rounds 3 and 4)
    later = sampling_for(2, 0.2, round_index=4)
    assert later.seed not in (None, second.seed, third.seed) and later.hint == second.hint


def test_the_same_code_with_other_comments_and_blank_lines_is_the_same_candidate() -> None:
    a = {"calc.py": CORRECT}
    b = {"calc.py": "# calc\n" + CORRECT.replace("\n\n", "\n  \n")}
    assert fingerprint(a) == fingerprint(b) != fingerprint({"calc.py": BUGGY})
    assert fingerprint(a) != fingerprint({"other.py": CORRECT})


def _round(passed: int, *gains: int) -> Round:
    acceptance = CheckResult(name="acceptance", passed=False, tests_passed=passed, tests_total=4)
    tried = [Candidate(number=n, branch=f"healer/r1-c{n}", strategy="repair", gain=g)
             for n, g in enumerate(gains, 1)]
    return Round(index=1, checks=[acceptance], candidates=tried)


def test_the_portfolio_follows_what_worked_in_this_build() -> None:
    assert portfolio(4, _round(1), [_round(1)]) == ["repair", "fresh", "fresh", "fresh"]
    never = [_round(1, 0, -1)]  # repairs were tried and none passed more tests
    assert portfolio(4, _round(1), never) == ["fresh"] * 4
    helped = [_round(1, 0, 2)]
    assert portfolio(4, _round(1), helped) == ["repair", "fresh", "fresh", "fresh"]
    one_left = _round(3)
    assert portfolio(4, one_left, [_round(1, -1)]) == ["repair", "repair", "fresh", "fresh"]
    # one test left, but two repairs of this build helped none (robot-name's benchmark build
    # kept a repair in each round while its repairs changed nothing or lost tests)
    assert portfolio(4, one_left, never) == ["fresh"] * 4
    brought_back = _round(3)
    brought_back.candidates = [Candidate(number=1, branch="healer/r1-c1", strategy="repair",
                                         status="duplicate")]
    assert portfolio(2, one_left, [brought_back, _round(3, -3)]) == ["fresh", "fresh"]
    # a repair that changed nothing, written fresh instead, helped no test whatever the
    # fresh sample gained
    idle = _round(1)
    idle.candidates = [Candidate(number=1, branch="healer/r1-c1", strategy="fresh",
                                 tried=["repair"], gain=2)]
    assert idle.candidates[0].how == "fresh after repair"
    assert portfolio(4, _round(1), [idle]) == ["fresh"] * 4


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_the_green_candidate_wins_and_the_search_stops(fake_llm, llm_env, tmp_path) -> None:
    spec = calc_spec(tmp_path)

    def respond(request: dict) -> str | Reply:
        seed = request.get("seed")
        if seed == 2:
            return _fenced(CORRECT)
        if seed == 3:  # still writing when candidate 2 is green
            return Reply(text=_fenced(SLOW_PAD + BUGGY), chunk_delay=0.05)
        return _fenced(BUGGY)

    fake_llm.responder = respond
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--candidates", "3", "--max-iters", "0")
    assert result.exit_code == 0, result.output
    data = report(out)
    assert data["status"] == "green" and len(data["rounds"]) == 1
    by_number = {c["number"]: c for c in data["rounds"][0]["candidates"]}
    assert by_number[1]["status"] == "checked" and not by_number[1]["green"]
    assert by_number[1]["tests_passed"] == 1 and by_number[1]["tests_total"] == 2
    assert by_number[2]["green"] and by_number[2]["kept"]
    assert by_number[3]["status"] == "cancelled" and not by_number[3]["kept"]
    assert (out / "calc.py").read_text() == CORRECT
    assert "a - b" in _git(out, "show", "healer/r0-c1:calc.py")
    assert _git(out, "rev-parse", "healer/r0-c2").strip() == by_number[2]["commit"]
    assert _git(out, "merge-base", "--is-ancestor", by_number[2]["commit"], "HEAD") == ""
    assert "healer-candidate" not in _git(out, "worktree", "list")  # scratch trees are gone
    assert "| `healer/r0-c2` | 2 of 2 |" in (out / ".healer" / "report.md").read_text()


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_a_duplicate_is_sampled_again_then_the_best_is_kept(fake_llm, llm_env, tmp_path) -> None:
    spec = calc_spec(tmp_path)
    seeds: list[int | None] = []

    def respond(request: dict) -> str:
        seeds.append(request.get("seed"))
        if request.get("seed") == 2:  # candidate 1's code with a comment: the same candidate
            return _fenced("# the same\n" + BUGGY)
        return _fenced(BUGGY)

    fake_llm.responder = respond
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--candidates", "2", "--max-iters", "0")
    assert result.exit_code == 1, result.output
    candidates = report(out)["rounds"][0]["candidates"]
    # whichever of the two was written second was sampled once more (seed 1 + 2 or 2 + 2)
    assert len(seeds) == 3 and seeds.count(None) == 1 and {2} < set(seeds) <= {None, 2, 3, 4}
    assert sorted(c["status"] for c in candidates) == ["checked", "duplicate"]
    assert [c["kept"] for c in candidates] == [c["status"] == "checked" for c in candidates]
    assert json.loads((out / ".healer" / "report.json").read_text())["best_round"] == 0


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_a_repair_round_of_candidates_keeps_the_fresh_sample_that_turns_green(
        fake_llm, llm_env, tmp_path) -> None:
    spec = calc_spec(tmp_path)
    prompts: dict[str, list[str]] = {"debug": [], "regenerate": []}

    def respond(request: dict) -> str:
        last = request["messages"][-1]["content"]
        if "Write the file `calc.py` anew" in last:
            prompts["regenerate"].append(last)
            return _fenced(CORRECT)
        if "Do not write the code yet" in last:  # the plan, whole or short
            return "calc.py: add(a, b) and mul(a, b)."
        if "Find why the checks fail" in last:  # a repair that changes the wrong line
            prompts["debug"].append(last)
            return ("Diagnosis: mul.\n\ncalc.py\n<<<<<<< SEARCH\n    return a * b\n=======\n"
                    "    return b * a\n>>>>>>> REPLACE\n")
        if request.get("seed") is None:
            return _fenced(BUGGY)
        return _fenced(BUGGY.replace("a * b", "b * a"))  # round 0's other candidate

    fake_llm.responder = respond
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--candidates", "2", "--max-iters", "2")
    assert result.exit_code == 0, result.output
    data = report(out)
    assert data["status"] == "green" and [r["strategy"] for r in data["rounds"]] == [
        "generate", "candidates"]
    by_strategy = {c["strategy"]: c for c in data["rounds"][1]["candidates"]}
    # one test left: one repair beside one fresh sample; the repair's code is round 0's other
    # candidate (b * a), already checked, so it was sampled once more, then not checked again
    assert set(by_strategy) == {"repair", "fresh"}
    assert by_strategy["repair"]["status"] == "duplicate" and not by_strategy["repair"]["kept"]
    assert len(prompts["debug"]) == 2
    fresh = by_strategy["fresh"]
    assert fresh["green"] and fresh["kept"] and fresh["gain"] == 1
    assert (out / "calc.py").read_text() == CORRECT
    assert "return a + b" in _git(out, "show", f"{fresh['branch']}:calc.py")
    # the fresh sample saw the facts of the failure, not the failing code
    assert "- compared: -1 == 3 is false" in prompts["regenerate"][0]
    assert "return a - b" not in prompts["regenerate"][0]
    assert f"| fresh | `{fresh['branch']}` | 2 of 2 |" in (out / ".healer" / "report.md").read_text()
    assert f"{fresh['branch']} (fresh): acceptance tests 2 of 2; green" in result.output


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_a_repair_that_changes_nothing_is_tried_again_as_a_fresh_sample(
        fake_llm, llm_env, tmp_path) -> None:
    spec = calc_spec(tmp_path)
    prompts: dict[str, list] = {"debug": [], "regenerate": []}

    def respond(request: dict) -> str:
        last = request["messages"][-1]["content"]
        if "Write the file `calc.py` anew" in last:
            prompts["regenerate"].append(request.get("seed"))
            if request.get("seed") == 1003:  # candidate 1's second try (as 1 + 2, round 1)
                return _fenced(CORRECT)
            return _fenced(BUGGY.replace("a * b", "b * a"))
        if "Do not write the code yet" in last:
            return "calc.py: add(a, b) and mul(a, b)."
        if any("Find why the checks fail" in m["content"] for m in request["messages"]):
            prompts["debug"].append(last)  # edits that leave the file as it was
            return ("Diagnosis: add.\n\ncalc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n"
                    "    return a - b\n>>>>>>> REPLACE\n")
        if request.get("seed") is None:
            return _fenced(BUGGY)
        return _fenced("def add(a, b):\n    return 0\n\n\ndef mul(a, b):\n    return 0\n")

    fake_llm.responder = respond
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--candidates", "2", "--max-iters", "1")
    assert result.exit_code == 0, result.output
    data = report(out)
    first = {c["number"]: c for c in data["rounds"][1]["candidates"]}[1]
    # the repair's turn (its own retry included) changed nothing: its second try was not the
    # same repair again but a rewrite of the file, which made it green
    assert len(prompts["debug"]) == 2 and 1003 in prompts["regenerate"]
    assert first["strategy"] == "fresh" and first["tried"] == ["repair"]
    assert first["green"] and first["kept"] and first["gain"] == 1
    assert (out / "calc.py").read_text() == CORRECT
    assert "| 1 | fresh after repair |" in (out / ".healer" / "report.md").read_text()


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_a_search_cut_short_is_continued_where_it_stopped(fake_llm, llm_env, tmp_path) -> None:
    spec = calc_spec(tmp_path)
    seeds: list[int | None] = []
    slow = {"on": True}
    fake_llm.responder = cut_short(seeds, slow)
    out = tmp_path / "out"
    first = build(spec, out, llm_env, "--candidates", "3", "--max-iters", "0", "--timeout", "25")
    assert first.exit_code == 1, first.output
    assert "time budget" in report(out)["stop_reason"]
    assert (out / ".healer" / "search.json").is_file()  # candidates 1 and 2 were kept
    assert report(out)["rounds"][0]["cut"]  # holding the better of the two checked
    calls = report(out)["rounds"][0]["usage"]["calls"]
    seeds.clear()
    slow["on"] = False
    second = build(spec, out, llm_env, "--candidates", "3", "--max-iters", "0")
    assert second.exit_code == 0, second.output
    assert seeds == [3]  # only the candidate that was cut short is written again
    assert report(out)["rounds"][0]["usage"]["calls"] == calls + 1  # both runs' calls counted
    assert not report(out)["rounds"][0]["cut"] and len(report(out)["rounds"]) == 1
    candidates = {c["number"]: c for c in report(out)["rounds"][0]["candidates"]}
    assert candidates[1]["tests_passed"] == candidates[2]["tests_passed"] == 1
    assert candidates[3]["green"] and candidates[3]["kept"]
    assert not (out / ".healer" / "search.json").exists()


def test_a_journal_left_in_the_folder_counts_only_for_the_same_search(tmp_path) -> None:
    # a folder could hold a search.json naming a green candidate: it must match this search's
    # round, strategies and the very code it starts from, or it is ignored
    from healer.strategies.journal import Done, Journal, Keeper
    from healer.workspace import Workspace

    ws = Workspace(tmp_path / "w")
    ws.init()
    (ws.root / "calc.py").write_text(BUGGY)
    base = ws.commit("base")
    green = Candidate(number=1, branch="healer/r1-c1", strategy="repair", status="checked",
                      green=True, commit=base)
    forged = Journal(round=1, base="0" * 40, strategies=["repair", "fresh", "fresh"],
                     done={1: Done(candidate=green)})
    path = ws.state / "search.json"
    path.write_text(forged.model_dump_json())
    fresh = Journal(round=1, base=base, strategies=["repair", "fresh", "fresh"])
    assert Keeper.resume(path, fresh, lambda other: ws.same_project(other, base)).journal.done == {}
    real = forged.model_copy(update={"base": base})
    path.write_text(real.model_dump_json())
    other = Journal(round=1, base=base, strategies=["fresh", "fresh", "fresh"])  # another split
    assert Keeper.resume(path, other, lambda o: ws.same_project(o, base)).journal.done == {}
    red = Candidate(number=2, branch="healer/r1-c2", strategy="fresh", status="checked",
                    tests_passed=1, commit=base)
    head = red.model_copy(update={"commit": "HEAD"})  # no commit id: made again
    path.write_text(real.model_copy(update={"done": {1: Done(candidate=green),
                                                     2: Done(candidate=red),
                                                     3: Done(candidate=head)}}).model_dump_json())
    same = Journal(round=1, base=base, strategies=["repair", "fresh", "fresh"])
    # the same search: both come back (the search checks their commits again: what they
    # passed is never taken on the journal's word); 3, which names no commit id, does not
    assert list(Keeper.resume(path, same, lambda o: ws.same_project(o, base)).journal.done) == [
        1, 2]


def test_a_journal_entry_stands_only_for_the_candidate_of_its_own_slot(tmp_path) -> None:
    # a forged journal that files candidate 1 twice (a failing commit under 1, a passing one
    # under 2 that also says it is 1) would have the search keep the failing commit with the
    # passing one's checks; an entry whose number, branch or strategy is not its slot's goes
    from healer.strategies.journal import Done, Journal, Keeper
    from healer.workspace import Workspace

    ws = Workspace(tmp_path / "w")
    ws.init()
    (ws.root / "calc.py").write_text(BUGGY)
    base = ws.commit("base")

    def entry(**fields) -> Done:
        honest = {"number": 1, "branch": "healer/r1-c1", "strategy": "fresh",
                  "status": "checked", "commit": base}
        return Done(candidate=Candidate(**{**honest, **fields}))

    strategies = ["repair", "fresh", "fresh"]
    path = ws.state / "search.json"
    path.write_text(Journal(round=1, base=base, strategies=strategies, done={
        1: entry(strategy="repair"),  # its own slot
        2: entry(),  # says it is candidate 1
        3: entry(number=3, branch="healer/r1-c1"),  # another slot's branch
        4: entry(number=4, branch="healer/r1-c4"),  # no such slot
    }).model_dump_json())
    again = Journal(round=1, base=base, strategies=strategies)
    kept = Keeper.resume(path, again, lambda o: ws.same_project(o, base)).journal.done
    assert list(kept) == [1]
    fresh_after_repair = entry(strategy="fresh", tried=["repair"])  # the repair changed nothing
    path.write_text(again.model_copy(update={"done": {1: fresh_after_repair}}).model_dump_json())
    assert list(Keeper.resume(path, again, lambda o: ws.same_project(o, base)).journal.done) == [
        1]


def test_a_searchs_checks_run_at_most_checks_at_once_however_many_ask(tmp_path: Path) -> None:
    import threading
    import time

    from healer.parallel import bounded_map
    from healer.strategies.candidates import CHECKS_AT_ONCE, Search
    from healer.strategies.variety import Seen

    running, most, lock = 0, 0, threading.Lock()

    def check(tree: Path, name: str) -> list[CheckResult]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return []

    search = Search(llm=None, spec=None, ws=None, check=check, seen=Seen())  # type: ignore[arg-type]
    # candidates' checks and the splices a combine candidate checks all go through `checked`
    bounded_map(lambda n: search.checked(tmp_path, f"c{n}"), list(range(6)), workers=6)
    assert most == CHECKS_AT_ONCE


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_with_one_call_at_a_time_candidates_are_written_in_turn_and_a_green_one_spares_the_rest(
        fake_llm, llm_env, tmp_path) -> None:
    spec = calc_spec(tmp_path)
    seeds: list[int | None] = []

    def respond(request: dict) -> str | Reply:
        seeds.append(request.get("seed"))
        if request.get("seed") is None:
            return _fenced(CORRECT)
        return Reply(text=_fenced(SLOW_PAD + BUGGY), chunk_delay=0.05)  # a real model's pace

    fake_llm.responder = respond
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--candidates", "3", "--max-iters", "0",
                   "--concurrency", "1")
    assert result.exit_code == 0, result.output
    # candidate 1, then candidate 2 while 1 was checked (its answer cut off when 1 was
    # green); candidate 3 waited for its turn and never asked
    assert seeds == [None, 2]
    by_number = {c["number"]: c for c in report(out)["rounds"][0]["candidates"]}
    assert by_number[1]["green"] and by_number[1]["kept"]
    assert by_number[2]["status"] == by_number[3]["status"] == "cancelled"


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_a_budget_that_runs_out_mid_search_keeps_the_best_candidate_checked_by_then(
        fake_llm, llm_env, tmp_path) -> None:
    spec = calc_spec(tmp_path)

    def respond(request: dict) -> str | Reply:
        if request.get("seed") == 2:  # candidate 2: still writing when the time is up
            return Reply(text=_fenced(SLOW_PAD + CORRECT), chunk_delay=0.2)
        return _fenced(BUGGY)

    fake_llm.responder = respond
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--candidates", "2", "--max-iters", "3",
                   "--concurrency", "1", "--timeout", "25")
    assert result.exit_code == 1, result.output
    data = report(out)
    assert "time budget" in data["stop_reason"] and data["best_round"] == 0
    first = data["rounds"][0]
    assert first["cut"] and first["candidates"][0]["kept"]
    assert first["candidates"][1]["note"] == "the build's budget ran out"
    assert first["checks"] and "a - b" in (out / "calc.py").read_text()  # checked, kept
    assert "before every candidate was checked" in (out / ".healer" / "report.md").read_text()


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_a_cut_search_resumed_as_another_search_leaves_its_round_as_it_was(
        fake_llm, llm_env, tmp_path) -> None:
    spec = calc_spec(tmp_path)
    seeds: list[int | None] = []
    fake_llm.responder = cut_short(seeds, {"on": True})
    out = tmp_path / "out"
    first = build(spec, out, llm_env, "--candidates", "3", "--max-iters", "0", "--timeout", "25")
    assert first.exit_code == 1, first.output
    kept = report(out)["rounds"][0]
    assert kept["cut"] and (out / ".healer" / "search.json").is_file()
    seeds.clear()
    second = build(spec, out, llm_env, "--candidates", "2", "--max-iters", "0")  # 2, not 3
    assert second.exit_code == 1, second.output
    assert seeds == []  # not the search that was cut: nothing written again
    again = report(out)["rounds"]
    assert not again[0]["cut"] and again[0]["candidates"] == kept["candidates"]
    # the round stands; as the folder's word, it is checked again (the same code, the same
    # verdict) before the build ends on it
    assert [r["strategy"] for r in again] == ["generate", "recheck"]
    assert _git(out, "diff", again[0]["commit"], again[1]["commit"], "--", "calc.py") == ""
    assert _acceptance(again[1]) == _acceptance(kept) == (1, 2)
    assert not (out / ".healer" / "search.json").exists()


def _out_of_time_search(tmp_path: Path, **kwargs):
    """(search, workspace, base commit): a search over a one-commit folder whose every
    check finds the build's budget spent."""
    from healer.errors import BudgetSpentError
    from healer.strategies.candidates import Search
    from healer.strategies.variety import Seen
    from healer.workspace import Workspace

    ws = Workspace(tmp_path / "w")
    ws.init()
    (ws.root / "calc.py").write_text(BUGGY)
    base = ws.commit("base") or ""

    def out_of_time(tree: Path, name: str) -> list:
        raise BudgetSpentError("time budget spent")

    kwargs.setdefault("seen", Seen())
    return Search(None, Spec(text="Calc."), ws, out_of_time, **kwargs), ws, base  # type: ignore[arg-type]


def test_a_journaled_candidate_not_checked_again_keeps_none_of_its_claims(tmp_path) -> None:
    from healer.strategies.candidates import _Pass
    from healer.strategies.journal import Journal, Keeper

    search, ws, base = _out_of_time_search(tmp_path)

    def claimed() -> Candidate:  # what a forged journal says of it
        return Candidate(number=1, branch="healer/r1-c1", status="checked", green=True,
                         tests_passed=2, tests_total=2, gain=1, commit=base)

    def state() -> _Pass:
        return _Pass(1, base, [], 1, Keeper(ws.state / "search.json",
                                            Journal(round=1, base=base, strategies=[])))

    stopped = state()
    stopped.stop.set()  # another candidate was green first: this one is not checked again
    spent = state()  # the build's budget runs out while it is checked again
    for where in (stopped, spent):
        candidate = search._recheck(where, claimed())
        assert candidate.status == "cancelled" and not candidate.green
        assert candidate.gain is None and candidate.tests_passed is None
        assert 1 not in where.checks
    assert spent.spent is not None and spent.stop.is_set()  # the search ends as cut


def test_a_journaled_candidate_is_checked_again_as_a_copy_and_shown(tmp_path) -> None:
    # the budget runs out while candidate 1 of the journal is checked again: the journal
    # keeps it as checked (a later resume checks it again, not writes it anew), the progress
    # shows it, and its code counts as seen
    from healer.strategies.candidates import _Pass
    from healer.strategies.journal import Done, Journal, Keeper
    from healer.strategies.variety import Seen, fingerprint, implementation

    shown: list[Candidate] = []
    seen = Seen()
    search, ws, base = _out_of_time_search(tmp_path, seen=seen, on_candidate=shown.append)
    journaled = Candidate(number=1, branch="healer/r1-c1", strategy="fresh", status="checked",
                          tests_passed=1, commit=base)
    keeper = Keeper(ws.state / "search.json", Journal(
        round=1, base=base, strategies=["fresh"], done={1: Done(candidate=journaled)}))
    candidate = search._one(_Pass(1, base, [], 1, keeper), 1)
    assert candidate.status == "cancelled" and shown == [candidate]
    assert keeper.journal.done[1].candidate.status == "checked"
    assert not seen.add(fingerprint(implementation(ws.root, [])), "another candidate")
