"""Candidate search: several independent candidates of one round, each on its own branch.

With a small model, a fresh sample is worth more than a repair of a failing one. So a round
can be N candidates, each sampled differently (`sampling_for`): its own temperature, seed and,
for new code, a short hint after the task, so that every candidate's prompt starts with the
same prefix and an endpoint's prompt cache serves it. Each candidate is committed on
`healer/rR-cK` and checked in its own scratch checkout; they are ranked like rounds (acceptance
tests passed first), and the best one becomes the round on the build's branch. A green
candidate ends the search at once: calls not yet answered are cancelled. A candidate whose
code is one already checked in this build (ignoring blank lines, trailing spaces and comments)
is sampled once more, then counted as a duplicate, unchecked; a repair that left the code as
it was is tried again as a fresh sample. With one model call in flight
at a time, candidates are written in turn (`_Turns`). A budget that runs out mid-search ends
it with the candidates checked by then; its journal stays for a resumed build.

- Round 0 (`FirstRound`): N candidates of the implementation files from the same plan.
- A repair round (`RepairRound`) works from the best round so far, with a portfolio of
  `repair` candidates (the debugger sees that code and the facts of its failures) and `fresh`
  ones (the implicated files written anew from the spec, plan and failures, without the
  failing version). `portfolio` splits the N between them from what worked in this build.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healer.errors import BudgetSpentError, CancelledError, HealerError
from healer.models import (
    Candidate,
    CheckResult,
    Failure,
    FileList,
    Plan,
    Round,
    Spec,
    Usage,
)
from healer.models import verdict as checks_pass
from healer.parallel import bounded_map
from healer.paths import confined
from healer.pipeline.debug import repair
from healer.pipeline.failures import implicated_files
from healer.pipeline.generate import Sampling, generate_files
from healer.pipeline.policy import EditPolicy
from healer.pipeline.regenerate import regenerate_file
from healer.spec import acceptance_files
from healer.strategies.chain import main_files
from healer.strategies.combine import Version, combine_into, splice_into
from healer.strategies.journal import NAME as JOURNAL
from healer.strategies.journal import Done, Journal, Keeper
from healer.strategies.portfolio import pair
from healer.strategies.variety import (
    Seen,
    fingerprint,
    implementation,
    reset,
    sampling_for,
    write_files,
)

if TYPE_CHECKING:
    from healer.llm.client import LLMClient
    from healer.workspace import Workspace

FRESH_TEMPERATURE = 0.8  # a fresh sample sampled as a single build would be, but hotter
CHECKS_AT_ONCE = 2  # candidates checked in parallel (each check run is its own container)

Check = Callable[[Path, str], list[CheckResult]]  # (checkout, its name) -> the checks
@dataclass
class _Client:
    """The client as one candidate uses it: its seed, its cancel event, and the usage of its
    calls counted."""

    llm: LLMClient
    sampling: Sampling
    stop: threading.Event
    usage: Usage = field(default_factory=Usage)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def complete(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("stop", self.stop)
        if kwargs.get("seed") is None:
            kwargs["seed"] = self.sampling.seed
        if kwargs.get("temperature") is None:
            kwargs["temperature"] = self.sampling.temperature
        answer = self.llm.complete(*args, **kwargs)
        with self._lock:
            self.usage = self.usage + answer.usage
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.llm, name)


@dataclass
class Made:
    """What one candidate's strategy wrote into its checkout."""

    paths: list[str]
    diagnosis: str = ""


# a strategy: writes a candidate into the checkout `tree`, with the candidate's client
Make = Callable[[_Client, Path, Sampling], Made]


@dataclass(frozen=True)
class Attempt:
    strategy: str  # "generate", "repair", "fresh"
    make: Make
    instead: Attempt | None = None  # its second try when it brought back the code it was given


@dataclass
class Outcome:
    """What the search leaves: the candidates, and the kept one's checks, files and commit."""

    candidates: list[Candidate]
    checks: list[CheckResult]
    files: list[str]
    commit: str | None
    diagnosis: str = ""
    cut: bool = False  # the budget ended the search; its journal stays for a resumed build


class _Turns:
    """Candidates made one after another, in their order: with one model call in flight at a
    time (the bundled model), candidates made at once only interleave their calls, so all of
    them are written late; in turn, the first is written (and checked, while the next is
    written) in a share of the time, and a green one spares the rest their calls."""

    def __init__(self, ordered: bool) -> None:
        self.ordered = ordered
        self._ended: set[int] = set()
        self._changed = threading.Condition()

    def wait(self, number: int, stop: threading.Event) -> None:
        """Until every candidate before `number` is made (or has ended); CancelledError when
        the search stops meanwhile."""
        with self._changed:
            while self.ordered and not self._ended.issuperset(range(1, number)):
                if stop.is_set():
                    raise CancelledError("the search stopped")
                self._changed.wait(0.2)
        if stop.is_set():
            raise CancelledError("the search stopped")

    def end(self, number: int) -> None:
        with self._changed:
            self._ended.add(number)
            self._changed.notify_all()


@dataclass
class _Pass:
    """One search's shared state; an interrupted search's journaled candidates come back."""

    index: int
    base: str
    attempts: list[Attempt]
    base_tests: int | None
    keeper: Keeper
    stop: threading.Event = field(default_factory=threading.Event)
    checks: dict[int, list[CheckResult]] = field(default_factory=dict)
    made: dict[int, Made] = field(default_factory=dict)
    turns: _Turns = field(default_factory=lambda: _Turns(ordered=False))
    why_stopped: str = "another candidate was green first"
    spent: BudgetSpentError | None = None  # the build's budget ran out during the search

    def __post_init__(self) -> None:
        for number, done in self.keeper.journal.done.items():
            self.made[number] = Made(done.paths, done.diagnosis)


@dataclass
class Search:
    """The candidates of one round, made from the commit `base`, checked, ranked."""

    llm: LLMClient
    spec: Spec
    ws: Workspace
    check: Check
    seen: Seen
    on_candidate: Callable[[Candidate], None] = lambda c: None
    protected: list[str] = field(default_factory=list)
    gate: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(CHECKS_AT_ONCE))

    def checked(self, tree: Path, name: str) -> list[CheckResult]:
        """The checks of `tree`, run when fewer than CHECKS_AT_ONCE of this search's runs are
        (candidates' checks, and those a candidate runs while it is made)."""
        with self.gate:
            return self.check(tree, name)

    def run(self, index: int, base: str, attempts: list[Attempt],
            base_tests: int | None = None) -> tuple[list[Candidate], dict[int, list[CheckResult]],
                                                    dict[int, Made], bool]:
        """The candidates, the checks and what each one wrote, and whether the build's budget
        cut the search short: then what was checked is returned (BudgetSpentError when
        nothing was), and the journal stays, for a resumed build to check the rest."""
        keeper = Keeper.resume(self.ws.state / JOURNAL,
                               Journal(round=index, base=base,
                                       strategies=[a.strategy for a in attempts]),
                               lambda other: self.ws.same_project(other, base))
        state = _Pass(index, base, attempts, base_tests, keeper,
                      turns=_Turns(ordered=self.llm.settings.concurrency == 1))
        candidates = bounded_map(lambda number: self._one(state, number),
                                 list(range(1, len(attempts) + 1)), workers=len(attempts))
        cut = state.spent is not None and not any(c.green for c in candidates)
        if not cut:
            keeper.close()
        elif not state.checks:
            raise state.spent  # nothing to keep: the build ends on its budget
        return candidates, state.checks, state.made, cut

    def _one(self, state: _Pass, number: int) -> Candidate:
        """Candidate `number`: made, committed on its branch, checked; journaled."""
        if number in state.keeper.journal.done:  # checked again as a copy: the journal
            state.turns.end(number)  # keeps its entry for a resume after this one
            journaled = state.keeper.journal.done[number].candidate.model_copy(deep=True)
            candidate = self._recheck(state, journaled)
            self.on_candidate(candidate)
            return candidate
        attempt = state.attempts[number - 1]
        candidate = Candidate(number=number, branch=f"healer/r{state.index}-c{number}",
                              strategy=attempt.strategy)
        started = time.monotonic()
        client = _Client(self.llm, sampling_for(number, self.llm.settings.temperature,
                                                state.index),
                         state.stop)
        try:
            state.turns.wait(number, state.stop)
            started = time.monotonic()  # its time is its own, not its wait for a turn
            self._build(state, attempt, candidate, client)
        except CancelledError:
            candidate.status, candidate.note = "cancelled", state.why_stopped
        except BudgetSpentError as exc:  # the build's budget: the search ends with what it has
            if not state.stop.is_set():  # (after a green one, it was only stopping anyway)
                state.why_stopped, state.spent = "the build's budget ran out", exc
                state.stop.set()
            candidate.status, candidate.note = "cancelled", state.why_stopped
        except HealerError as exc:  # one candidate's failure is not the search's
            candidate.status, candidate.note = "failed", exc.message[:300]
        finally:
            state.turns.end(number)
        candidate.usage, candidate.seconds = client.usage, time.monotonic() - started
        cut = state.spent is not None and number not in state.checks
        if number in state.made and not cut:  # one the budget cut off is made again on resume
            made = state.made[number]
            state.keeper.add(Done(candidate=candidate, paths=made.paths,
                                  diagnosis=made.diagnosis))
        self.on_candidate(candidate)
        return candidate

    def _recheck(self, state: _Pass, candidate: Candidate) -> Candidate:
        """A candidate of the journal, checked again: a journal is no proof of what its
        candidates passed (it may have been written by someone else)."""
        if candidate.status != "checked":
            return candidate
        candidate.green, candidate.gain, candidate.tests_passed = False, None, None
        candidate.passed_tests, candidate.failing = [], []
        if state.stop.is_set():
            candidate.status, candidate.note = "cancelled", state.why_stopped
            return candidate
        try:
            with self.ws.scratch_tree(candidate.commit or "") as tree:
                self._user_tests(tree)
                self.seen.add(fingerprint(implementation(tree, self.protected)), candidate.branch)
                result = self.checked(tree, candidate.branch)
        except BudgetSpentError as exc:  # the build's budget: the search ends with what it has
            if not state.stop.is_set():
                state.why_stopped, state.spent = "the build's budget ran out", exc
                state.stop.set()
            candidate.status, candidate.note = "cancelled", state.why_stopped
            return candidate
        except (HealerError, OSError) as exc:  # not a commit of this repository, say
            candidate.status, candidate.note = "failed", str(getattr(exc, "message", exc))[:300]
            return candidate
        state.checks[candidate.number] = result
        _summarise(candidate, result, state.base_tests)
        if candidate.green:
            state.stop.set()
        return candidate

    def _user_tests(self, tree: Path) -> None:
        from healer.generation import install_acceptance_tests
        from healer.workspace import Workspace

        install_acceptance_tests(self.spec, Workspace(tree))  # as the user wrote them

    def _build(self, state: _Pass, attempt: Attempt, candidate: Candidate,
               client: _Client) -> None:
        number, count = candidate.number, len(state.attempts)
        with self.ws.scratch_tree(state.base) as tree:
            state.made[number] = self._make(attempt, client, tree, candidate, number + count,
                                            state.index)
            state.turns.end(number)  # the next one is written while this one is checked
            self._user_tests(tree)
            candidate.commit = self.ws.commit_tree(
                tree, candidate.branch,
                f"round {state.index}: candidate {number} of {count} ({candidate.how})")
            if candidate.status != "checked":
                return
            if state.stop.is_set():
                raise CancelledError("another candidate is green")
            result = self.checked(tree, candidate.branch)
            state.checks[number] = result
            _summarise(candidate, result, state.base_tests)
            candidate.screenshot = self.ws.screenshot(candidate.branch)
            if candidate.green:
                state.stop.set()

    def _make(self, attempt: Attempt, client: _Client, tree: Path, candidate: Candidate,
              second: int, index: int) -> Made:
        """The candidate written into `tree`; sampled once more (as candidate `second` would
        be) when its code is one already seen: by its `instead` strategy when it left the code
        it was given as it was (a repair that changed nothing would likely change nothing
        again)."""
        original = implementation(tree, self.protected)
        given = fingerprint(original)
        self.seen.add(given, "base")  # the code it starts from is no candidate
        made = attempt.make(client, tree, client.sampling)
        written = fingerprint(implementation(tree, self.protected))
        if self.seen.add(written, candidate.branch):
            return made
        reset(tree, original, self.protected)
        client.sampling = sampling_for(second, self.llm.settings.temperature, index)
        if written == given and attempt.instead is not None:
            candidate.tried.append(attempt.strategy)
            candidate.strategy, attempt = attempt.instead.strategy, attempt.instead
        made = attempt.make(client, tree, client.sampling)
        if not self.seen.add(fingerprint(implementation(tree, self.protected)), candidate.branch):
            candidate.status, candidate.note = "duplicate", "the same code as one already checked"
        return made


def best_of(candidates: list[Candidate], checks: dict[int, list[CheckResult]]) -> Candidate | None:
    checked = [c for c in candidates if c.number in checks]
    if not checked:
        return None
    best = min(checked, key=lambda c: Round(index=c.number, checks=checks[c.number]).rank())
    best.kept = True
    return best


@dataclass
class FirstRound:
    """N candidates of round 0 from one plan."""

    llm: LLMClient
    spec: Spec
    ws: Workspace
    plan: Plan
    file_list: FileList
    todo: list[str]
    check: Check
    on_candidate: Callable[[Candidate], None] = lambda c: None
    seen: Seen = field(default_factory=lambda: Seen())

    def run(self, count: int) -> Outcome:
        base = self.ws.commit("round 0: plan, file list and acceptance tests for the candidates")
        search = Search(self.llm, self.spec, self.ws, self.check, self.seen, self.on_candidate,
                        protected=list(acceptance_files(self.spec)))
        attempts = [Attempt("generate", self._generate)] * count
        candidates, checks, _, cut = search.run(0, base or self.ws.head() or "HEAD", attempts)
        best = best_of(candidates, checks)
        if best is None:
            raise HealerError("no candidate of round 0 could be checked: " + "; ".join(
                f"candidate {c.number}: {c.note or c.status}" for c in candidates))
        if self.ws.is_ancestor("HEAD", best.commit or ""):
            self.ws.advance_to(best.commit or "")
        else:  # kept from a search made from an earlier commit of the same code (resumed)
            self.ws.restore(best.commit or "")
            self.ws.commit(f"round 0: candidate {best.number} kept")
        return Outcome(candidates=candidates, checks=checks[best.number], files=self.todo,
                       commit=best.commit, cut=cut)

    def _generate(self, llm: _Client, tree: Path, sampling: Sampling) -> Made:
        files = generate_files(llm, self.spec, self.plan, self.file_list,  # type: ignore[arg-type]
                               only=self.todo, workers=self.llm.settings.concurrency,
                               sampling=sampling, stop=llm.stop)
        write_files(tree, files, self.spec.keep)
        return Made([f.path for f in files])


@dataclass
class RepairRound:
    """A repair round as N candidates, all made from the best round so far."""

    llm: LLMClient
    spec: Spec
    ws: Workspace
    plan: Plan
    check: Check
    policy: EditPolicy
    failures: list[Failure]
    budget_tokens: int
    edit_format: str
    seen: Seen
    on_candidate: Callable[[Candidate], None] = lambda c: None
    rounds: list[Round] = field(default_factory=list)  # the build's so far, for combine
    _pair: tuple[Version, Version] | None = None
    _search: Search | None = None

    @property
    def protected(self) -> list[str]:
        return list(self.policy.protected)

    def run(self, index: int, base: Round, strategies: list[str]) -> Outcome:
        search = Search(self.llm, self.spec, self.ws, self.check, self.seen, self.on_candidate,
                        protected=self.protected)
        self._pair, self._search = pair(base, self.rounds), search
        fresh = Attempt("fresh", self._fresh)
        makers = {"repair": Attempt("repair", self._repair, instead=fresh), "fresh": fresh,
                  "combine": Attempt("combine", self._combine)}
        attempts = [makers[s] for s in strategies]
        base_tests = base.acceptance.tests_passed if base.acceptance is not None else None
        start = base.commit or self.ws.head() or "HEAD"
        candidates, checks, made, cut = search.run(index, start, attempts, base_tests)
        best = best_of(candidates, checks)
        if best is None:
            why = "; ".join(f"candidate {c.number}: {c.note or c.status}" for c in candidates)
            return Outcome(candidates, [], [], None, f"no candidate could be checked ({why})")
        kept = made[best.number]
        diagnosis = f"candidate {best.number} ({best.strategy}) kept: {kept.diagnosis}"
        return Outcome(candidates, checks[best.number], kept.paths,
                       best.commit, diagnosis, cut=cut)

    def _repair(self, llm: _Client, tree: Path, sampling: Sampling) -> Made:
        result = repair(llm, tree, self.spec, self.plan, self.failures,  # type: ignore[arg-type]
                        protected=self.protected, budget_tokens=self.budget_tokens,
                        temperature=sampling.temperature, edit_format=self.edit_format,
                        policy=self.policy)
        diagnosis = result.diagnosis or "(no diagnosis)"
        if result.error:
            diagnosis += f" [edits not applied: {result.error[:300]}]"
        return Made([p for p in result.changed if confined(tree, p).is_file()], diagnosis)

    def _fresh(self, llm: _Client, tree: Path, sampling: Sampling) -> Made:
        from healer.workspace import Workspace

        files = Workspace(tree).text_files()
        known = set(files) - set(self.protected)
        targets = implicated_files(self.failures, known)[:2] or main_files(self.ws, known)
        written = []
        for path in targets:
            new = regenerate_file(llm, tree, self.spec, self.plan, path,  # type: ignore[arg-type]
                                  self.failures, protected=self.protected,
                                  budget_tokens=self.budget_tokens,
                                  temperature=sampling.temperature or FRESH_TEMPERATURE)
            if self.policy.refusal(path, files.get(path), new.content):
                continue
            if new.content != files.get(path):
                write_files(tree, [new], self.spec.keep)
                written.append(path)
        return Made(written, f"{', '.join(targets) or 'nothing'} written anew with the failures"
                             " in view")


    def _combine(self, llm: _Client, tree: Path, sampling: Sampling) -> Made:
        if self._pair is None or self._search is None:
            raise HealerError("no version of this build passes a test the base fails")
        search = self._search  # the splices' checks count against the round's bound
        spliced = splice_into(self.ws, tree, self._pair, protected=self.protected,
                              check=lambda: search.checked(tree, "splice"), policy=self.policy)
        if spliced is not None:  # a merge the checks found, with no model call
            return Made(*spliced)
        written, diagnosis = combine_into(
            llm, self.ws, tree, self.spec, self.plan, self._pair,  # type: ignore[arg-type]
            failures=self.failures, policy=self.policy, budget_tokens=self.budget_tokens,
            temperature=sampling.temperature)
        return Made(written, diagnosis)


def _summarise(candidate: Candidate, checks: list[CheckResult], base_tests: int | None) -> None:
    rnd = Round(index=0, checks=checks)
    acceptance = rnd.acceptance
    candidate.green = rnd.green and checks_pass(checks)
    candidate.failing = rnd.failing
    if acceptance is not None:
        candidate.tests_passed = acceptance.tests_passed or 0
        candidate.passed_tests = acceptance.passed_tests
        candidate.tests_total = acceptance.tests_total
        if base_tests is not None:
            candidate.gain = candidate.tests_passed - base_tests
