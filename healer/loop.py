"""The repair loop: generate, check, repair, check again, keep the best round; it sequences
rounds and budgets. What a round does (and what healer does when stuck) is in strategies/.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from healer import changes
from healer.budget import BoundedSandbox, Budget, CallLimits, Meter
from healer.checks import acceptance, run_checks
from healer.checks.coverage import NAME as COVERAGE
from healer.config import Settings
from healer.errors import BudgetSpentError, ContextOverflowError, HealerError
from healer.events import NO_EVENTS, Events
from healer.generation import generate_project, install_acceptance_tests, prepare_project
from healer.llm.accounting import difference
from healer.models import (
    Candidate,
    CheckResult,
    Failure,
    Plan,
    Round,
    RunReport,
    Spec,
    Usage,
    verdict,
)
from healer.pipeline.policy import EditPolicy
from healer.report import evidence_of
from healer.review import Reviewer, review_round
from healer.spec import acceptance_files
from healer.state import (
    load_contract,
    load_plan,
    load_report,
    same_spec,
    save_contract,
    save_report,
    save_spec,
    saved_spec,
)
from healer.strategies import (
    Chain,
    FirstRound,
    RepairRound,
    Seen,
    next_in_chain,
    portfolio,
    unfinished_search,
)
from healer.workspace import Workspace, is_commit_id

if TYPE_CHECKING:
    from healer.llm.client import LLMClient
    from healer.sandbox.base import Sandbox

log = logging.getLogger(__name__)
MIN_CONTEXT_SCALE = 0.25  # the least share of the codebase budget a prompt is cut to


@dataclass
class Session:
    """What the loop works with."""

    llm: LLMClient
    sandbox: Sandbox
    settings: Settings
    events: Events = NO_EVENTS
    review: Reviewer | None = None  # --ask: each round's edits shown before they are kept


def build(spec: Spec, ws: Workspace, session: Session, budget: Budget, *,
          change: changes.Change | None = None) -> RunReport:
    """Build `spec` in `ws` until green or out of budget. A folder built from an earlier
    version of the spec is changed, not built anew; `change` asks for a change in words."""
    loop = _Loop(spec, ws, session, budget, change)
    return loop.run()


class _Loop:
    def __init__(self, spec: Spec, ws: Workspace, session: Session, budget: Budget,
                 change: changes.Change | None = None) -> None:
        self.spec, self.ws, self.s, self.meter = spec, ws, session, Meter(budget)
        self.change = change
        self.guidance: list[Failure] = []  # what the user typed instead of accepting a round
        self.policy = EditPolicy.for_spec(spec)
        self.protected = list(self.policy.protected)
        self.ws.init()
        self.report = RunReport(spec=str(spec.source or "<prompt>"), output=str(ws.root),
                                status="not_green", stop_reason="running")
        self.prior_usage: dict[str, Usage] = {}
        self.resumed: list[Round] = []  # the rounds of the folder's report, not checked here
        self.context_scale = 1.0  # halved each time a prompt does not fit the model's context
        self.contract: acceptance.Contract | None = None
        self.seen = Seen()  # the code of every candidate checked in this build
        self.limits = CallLimits(self.meter, lambda: self._usage().total_tokens)
        session.llm.limits = self.limits
        self.sandbox = BoundedSandbox(session.sandbox, self.limits)  # no run past the deadline

    # ------------------------------------------------------------------ flow

    def run(self) -> RunReport:
        try:
            self.contract = self._contract()
            self.report = self._start_report()
            self.prior_usage = dict(self.report.usage_by_stage)
            users = changes.keep_users_edits(self.ws) if self.change else []
            self._ensure_generated()
            if self.change:
                self._change_round(self.change, users)
            while True:
                current = self.report.rounds[-1]
                if current.cut:  # its search ran out of budget: go on with it if there is some
                    spent = self.meter.spent(self._usage())
                    if not spent and self._continue_search(current):
                        continue
                    current.cut = spent is not None
                    if any(current is r for r in self.resumed):  # the folder's word: check
                        self._new_round("recheck", self.ws.head(),
                                        diagnosis="resumed: the folder is checked again")
                        continue
                    if spent:
                        return self._finish(spent)
                if not current.checks:
                    self._check(current)
                if current.green:
                    return self._finish("all checks pass")
                reason = self._unverifiable(current) or self.meter.exhausted(
                    len(self.report.rounds) - 1 - _first_round(self.report), self._usage())
                if reason:
                    return self._finish(reason)
                self._repair_round()
        except BudgetSpentError as exc:  # the deadline or token budget ran out mid-round
            return self._finish(exc.message)
        except KeyboardInterrupt:
            self._save(status="not_green", stop="interrupted")
            raise
        except HealerError as exc:  # the endpoint or sandbox failed: keep the best, say why
            self._fail(exc)
            raise

    def _contract(self) -> acceptance.Contract | None:
        """The ids of the user's acceptance tests, collected once per version of the tests."""
        files = acceptance_files(self.spec)
        if not files:
            return None
        saved = load_contract(self.ws)
        digests = {rel: acceptance.file_digest(path) for rel, path in files.items()}
        if saved is not None and saved.files == digests:
            return saved
        self.s.events.stage("collect", f"acceptance tests in {', '.join(files)}")
        contract = acceptance.collect(files, self.sandbox, timeout=self.s.settings.check_timeout)
        save_contract(self.ws, contract)
        return contract

    def _unverifiable(self, rnd: Round) -> str | None:
        """Why repairing cannot help: files in a language healer has no checks for."""
        found = [f.message for c in rnd.checks if c.name == COVERAGE for f in c.failures]
        if not found:
            return None
        return "; ".join(found[:3]) + ": healer cannot verify a repair of them"

    def _ensure_generated(self) -> None:
        if self.report.rounds:
            if self.ws.dirty():
                self._new_round("resume", self.ws.commit("resume: keep edits of an interrupted round"))
            return
        started, before = time.monotonic(), self._usage()
        if self.s.settings.candidates > 1:
            rnd = self._search_first_round(self.s.settings.candidates)
        else:
            written = generate_project(self.s.llm, self.spec, self.ws,
                                       workers=self.s.settings.concurrency, events=self.s.events)
            rnd = self._new_round("generate", self.ws.head(), files=written)
        rnd.usage, rnd.seconds = difference(self._usage(), before), time.monotonic() - started
        if rnd.checks:
            self._save()
            self.s.events.round_done(rnd)

    def _search_first_round(self, count: int) -> Round:
        """Round 0 as the best of `count` candidates, each checked on its own branch."""
        plan, file_list, todo = prepare_project(self.s.llm, self.spec, self.ws, self.s.events)
        self.s.events.stage("candidates", f"{count} of {', '.join(todo)}")
        search = FirstRound(self.s.llm, self.spec, self.ws, plan, file_list, todo,
                            check=self._checks_of, on_candidate=self._candidate_done,
                            seen=self.seen)
        outcome = search.run(count)
        rnd = self._new_round("generate", outcome.commit, files=outcome.files)
        rnd.checks, rnd.candidates, rnd.cut = outcome.checks, outcome.candidates, outcome.cut
        rnd.screenshot = next((c.screenshot for c in rnd.candidates if c.kept), None)
        return rnd

    def _candidate_done(self, c: Candidate) -> None:
        tests = f"acceptance tests {c.tests_passed} of {c.tests_total}; " \
            if c.tests_total is not None else ""
        state = ("green" if c.green else f"failing: {', '.join(c.failing) or '-'}") \
            if c.status == "checked" else (c.note or c.status)
        self.s.events.stage(f"  candidate {c.number}", f"{c.branch} ({c.how}): {tests}{state}")

    def _check(self, rnd: Round) -> None:
        self.s.events.stage("check", f"round {rnd.index}")
        install_acceptance_tests(self.spec, self.ws)
        started = time.monotonic()
        rnd.checks = self._checks_of(self.ws.root, f"round-{rnd.index}")
        rnd.screenshot = self.ws.screenshot(f"round-{rnd.index}")
        rnd.seconds += time.monotonic() - started
        self._save()
        self.s.events.round_done(rnd)
        repairs = len(self.report.rounds) - 1 - _first_round(self.report)
        self.s.events.stage("  so far", self.meter.standing(repairs, self._usage()))

    def _checks_of(self, folder: Path, name: str) -> list[CheckResult]:
        """The checks of the project in `folder` (the build's, or a candidate's checkout
        called `name`); an extension's popup screenshot is kept under that name."""
        declared = [*self.spec.checks, *self.s.settings.checks]
        checks = run_checks(folder, self.sandbox, declared=declared,
                            timeout=self.s.settings.check_timeout, spec_text=self.spec.text,
                            contract=self.contract, keep_infra=sorted(self.policy.project_infra))
        self.ws.keep_screenshot(folder, name)
        left = self.meter.seconds_left()
        if left is not None and left <= 0 and not verdict(checks):
            raise BudgetSpentError(self.meter.time_spent())  # checks cut short: not a verdict
        return checks

    def _chain(self) -> Chain:
        return Chain(self.s.llm, changes.with_requests(self.ws, self.spec), self.ws,
                     load_plan(self.ws) or Plan(text=""), self.policy, self._context_budget(),
                     self.s.settings.edit_format)

    def _change_round(self, change: changes.Change, users: list[str]) -> None:
        """The requested change, made from the folder as it is (the best round)."""
        base = self._best() or self.report.rounds[-1]
        self.s.events.stage("change", f"round {len(self.report.rounds)}: {change.summary}")
        started, before = time.monotonic(), self._usage()
        if changes.update_plan(self.s.llm, self.ws, change):
            self.s.events.stage("plan", "edited for the change")
        diagnosis, changed = self._chain().change(change.request, base.failures, users)
        changes.record(self.ws, change)
        index = len(self.report.rounds)
        diagnosis, changed = self._reviewed(f"round {index} (change)", diagnosis, changed)
        commit = self.ws.commit(f"round {index} (change: {change.summary}): {diagnosis[:200]}")
        rnd = self._new_round("change", commit, files=changed, diagnosis=diagnosis)
        rnd.usage, rnd.seconds = difference(self._usage(), before), time.monotonic() - started
        self._save()

    def _repair_round(self) -> None:
        if self.s.settings.candidates > 1:
            self._portfolio_round(self.s.settings.candidates)
            return
        last = self.report.rounds[-1]
        previous = self._repair_base(last)
        strategy = next_in_chain(self.report.rounds[_first_round(self.report):],
                                 from_best=previous is not last)
        start = "" if previous is last else f", from round {previous.index} (the best so far)"
        self.s.events.stage(strategy, f"round {last.index + 1}{start}")
        started, before = time.monotonic(), self._usage()
        guidance, self.guidance = self.guidance, []  # what the user typed, for this round only
        try:
            diagnosis, changed = self._chain().run(strategy, [*guidance, *previous.failures])
        except ContextOverflowError as exc:  # a round lost, not the run: smaller prompts next
            self.context_scale = max(MIN_CONTEXT_SCALE, self.context_scale / 2)
            log.warning("%s; the codebase shown is cut to %.0f%% of its budget from now on",
                        exc.message, 100 * self.context_scale)
            diagnosis = ("(no answer: the prompt did not fit the model's context; the codebase"
                         f" shown is cut to {self.context_scale:.0%} of its budget)")
            changed = []
        diagnosis, changed = self._reviewed(f"round {last.index + 1} ({strategy})",
                                            diagnosis, changed)
        commit = self.ws.commit(f"round {last.index + 1} ({strategy}{start}): {diagnosis[:200]}")
        rnd = self._new_round(strategy, commit, files=changed, diagnosis=diagnosis + start)
        rnd.usage, rnd.seconds = difference(self._usage(), before), time.monotonic() - started
        self._save()

    def _repair_base(self, last: Round) -> Round:
        """The round a repair works on: the last one, unless it did worse than the best so far;
        then the best one's code is put back first (a repair that broke the code is not built
        on: its own failures, an import error say, are not the spec's)."""
        best = self._best()
        if best is None or best is last or not best.commit or not last.checks \
                or best.rank()[:-1] >= last.rank()[:-1]:  # as good (the index aside): go on
            return last
        self.ws.restore(best.commit)
        return best

    def _reviewed(self, title: str, diagnosis: str, changed: list[str]) -> tuple[str, list[str]]:
        if self.s.review is None:
            return diagnosis, changed
        diagnosis, changed, guidance = review_round(self.s.review, self.ws, title, diagnosis,
                                                    changed)
        self.guidance = guidance
        return diagnosis, changed

    def _portfolio_round(self, count: int) -> None:
        """A repair round as `count` candidates made from the best round so far."""
        base, strategies = self._portfolio(count, self.report.rounds)
        index = len(self.report.rounds)
        split = ", ".join(f"{strategies.count(s)} {s}" for s in dict.fromkeys(strategies))
        self.s.events.stage("candidates", f"round {index}: {split}, from round {base.index}")
        started, before = time.monotonic(), self._usage()
        search = RepairRound(
            self.s.llm, changes.with_requests(self.ws, self.spec), self.ws,
            load_plan(self.ws) or Plan(text=""), self._checks_of,
            self.policy, base.failures, self._context_budget(), self.s.settings.edit_format,
            seen=self.seen, on_candidate=self._candidate_done, rounds=self.report.rounds)
        outcome = search.run(index, base, strategies)
        if base.commit:
            self.ws.restore(outcome.commit or base.commit)
        commit = self.ws.commit(f"round {index} (candidates): {outcome.diagnosis[:200]}")
        rnd = self._new_round("candidates", commit, files=outcome.files,
                              diagnosis=outcome.diagnosis)
        rnd.checks, rnd.candidates, rnd.cut = outcome.checks, outcome.candidates, outcome.cut
        rnd.screenshot = next((c.screenshot for c in rnd.candidates if c.kept), None)
        rnd.usage, rnd.seconds = difference(self._usage(), before), time.monotonic() - started
        self._save()
        if rnd.checks:
            self.s.events.round_done(rnd)

    def _portfolio(self, count: int, rounds: list[Round]) -> tuple[Round, list[str]]:
        """The round a repair round after `rounds` starts from, and its candidates' strategies."""
        base = self._best(rounds) or rounds[-1]
        return base, portfolio(count, base, rounds, combine=self.s.settings.combine)

    def _continue_search(self, rnd: Round) -> bool:
        """A round whose search the budget cut short (it holds the best candidate checked by
        then): its search runs again from where it was made, and makes only the candidates
        its journal does not hold; False without the journal."""
        count = self.s.settings.candidates
        earlier = self.report.rounds[:-1]
        strategies = ["generate"] * count if rnd.index == 0 else self._portfolio(count, earlier)[1]
        base = unfinished_search(self.ws.state, rnd.index, strategies) if count > 1 else None
        if base is None:  # not the same search any more
            return False
        self.s.events.stage("resume", f"round {rnd.index}: the candidates not yet checked")
        self.report.rounds.pop()
        self.ws.restore(base)
        try:
            if rnd.index == 0:
                self._ensure_generated()
            else:
                self._portfolio_round(count)
        except HealerError:  # nothing newly checked: the round is what it was
            self.report.rounds.append(rnd)
            raise
        again = self.report.rounds[-1]
        again.usage, again.seconds = again.usage + rnd.usage, again.seconds + rnd.seconds
        return True

    def _context_budget(self) -> int:
        return int(self.s.settings.context_budget() * self.context_scale)

    # ------------------------------------------------------------------ report

    def _start_report(self) -> RunReport:
        digest = self.contract.digest if self.contract else None
        previous = load_report(self.ws) if same_spec(self.ws, self.spec) else None
        if previous is None and self.change is None:
            previous = self._spec_edited(digest)
            if previous is not None:
                self._distrust(previous)
                return previous
        if previous is None or not previous.rounds:
            return RunReport(spec=str(self.spec.source or "<prompt>"), output=str(self.ws.root),
                             status="not_green", stop_reason="running", tests_digest=digest)
        self.s.events.stage("resume", f"{len(previous.rounds)} rounds already done")
        self._distrust(previous)
        if previous.tests_digest != digest:  # same code, other tests: check again, no regenerating
            self.s.events.stage("tests changed", "the acceptance tests changed: checking again")
            previous.tests_digest, previous.status = digest, "not_green"
            self.report = previous
            if self.ws.dirty():
                self.ws.commit("resume: keep edits of an interrupted round")
            self._new_round("recheck", self.ws.head(), diagnosis="the acceptance tests changed")
        elif self.change is None and not previous.rounds[-1].cut:
            # a folder's report is no proof: what its rounds passed is said only of checks run
            # by this build, so the code it resumes from is checked again and the rounds before
            # do not count (a change is checked anyway, and rounds before it do not count; a
            # search cut short goes on, and checks its journaled candidates again)
            self.report = previous
            if self.ws.dirty():
                self.ws.commit("resume: keep edits of an interrupted round")
            self._new_round("recheck", self.ws.head(),
                            diagnosis="resumed: the folder is checked again")
        return previous

    def _distrust(self, previous: RunReport) -> None:
        """The rounds of a folder's report are its word, to be checked before they count:
        numbered by their place, a commit that is no commit id (HEAD, an option) makes a round
        that cannot be checked."""
        for place, rnd in enumerate(previous.rounds):
            rnd.index = place
            if not is_commit_id(rnd.commit):
                rnd.commit, rnd.checks = None, []
        self.resumed = list(previous.rounds)

    def _spec_edited(self, digest: str | None) -> RunReport | None:
        """A folder built from an earlier version of the spec: its report, with the spec's
        diff as the change to make; None when it is not (or cannot be) changed."""
        old, previous = saved_spec(self.ws), load_report(self.ws)
        if old is None or previous is None or not previous.rounds:
            return None
        self.change = changes.spec_edit(old, self.spec)
        self.s.events.stage("spec changed", "changing the project, not building it anew")
        save_spec(self.ws, self.spec)
        previous.tests_digest, previous.status = digest, "not_green"
        return previous

    def _new_round(self, strategy: str, commit: str | None, *, files: list[str] = (),
                   diagnosis: str = "") -> Round:
        rnd = Round(index=len(self.report.rounds), commit=commit, strategy=strategy,
                    files_changed=list(files), diagnosis=diagnosis)
        self.report.rounds.append(rnd)
        return rnd

    def _usage(self) -> Usage:
        return Usage.sum(self._usage_by_stage().values())

    def _usage_by_stage(self) -> dict[str, Usage]:
        merged = dict(self.prior_usage)
        for stage, usage in self.s.llm.ledger.by_stage.items():
            merged[stage] = merged.get(stage, Usage()) + usage
        return merged

    def _save(self, *, status: str | None = None, stop: str | None = None) -> None:
        self.report.usage_by_stage = self._usage_by_stage()
        self.report.seconds = self.meter.elapsed
        if status:
            self.report.status = status  # type: ignore[assignment]
        if stop:
            self.report.stop_reason = stop
        save_report(self.ws, self.report)

    def _best(self, rounds: list[Round] | None = None) -> Round | None:
        """The best checked round (of `rounds`, else the build's) against the current tests,
        or None. A round of the folder's report is checked again before it is taken as the
        best: what it passed was the report's word."""
        rounds = self.report.rounds if rounds is None else rounds
        while True:
            checked = [r for r in rounds[_first_of(rounds):] if r.checks]
            best = min(checked, key=Round.rank) if checked else None
            if best is None or not any(best is r for r in self.resumed):
                return best
            self._check_again(best)

    def _check_again(self, rnd: Round) -> None:
        """A round of the folder's report, checked again from its commit (no checks when that
        cannot be done). A report found overstating one round is believed in no other."""
        self.resumed = [r for r in self.resumed if r is not rnd]
        said, rnd.checks = rnd.checks, []  # what it passed is unknown until checked here
        self.s.events.stage("check", f"round {rnd.index} again: the folder's report is no proof")
        try:
            with self.ws.scratch_tree(rnd.commit or "") as tree:
                install_acceptance_tests(self.spec, Workspace(tree))  # as the user wrote them
                rnd.checks = self._checks_of(tree, f"round-{rnd.index}")
        except BudgetSpentError:  # no time to check any of them: none is believed
            for other in self.resumed:
                other.checks = []
            self.resumed = []
            raise
        except (HealerError, OSError) as exc:
            log.warning("round %s of the folder's report cannot be checked again: %s",
                        rnd.index, getattr(exc, "message", exc))
        if not rnd.checks or rnd.rank()[:-1] > Round(index=rnd.index, checks=said).rank()[:-1]:
            for other in self.resumed:
                other.checks = []
            self.resumed = []

    def _keep_best(self) -> str:
        """Put the best checked round in the folder; what to add to the stop reason."""
        try:
            best = self._best()
        except BudgetSpentError:  # no time to check the folder's rounds again: none counts
            best = self._best()
        if self.ws.dirty():  # work cut short by a budget or a failure: kept in history
            self.ws.commit("unchecked: stopped before this round was checked")
        self.report.best_round = best.index if best else None
        if best is None:
            return "; no round was checked"
        if best.commit and best.commit != self.ws.head():
            self.ws.restore(best.commit)
        if best.index != self.report.rounds[-1].index:
            return f"; the folder holds round {best.index}, the best checked one"
        return ""

    def _finish(self, reason: str) -> RunReport:
        reason += self._keep_best()
        best = self._best()
        green = best is not None and best.green
        self.report.evidence = evidence_of(bool(self.contract and self.contract.ids), best)
        self.report.model, self.report.sandbox = self.s.llm.model, self.s.sandbox.name
        self._save(status="green" if green else "not_green", stop=reason)
        label = "best round -" if best is None else f"best round {best.index}"
        self.ws.commit(f"report: {self.report.status} ({label})")
        return self.report

    def _fail(self, exc: HealerError) -> None:
        """The endpoint or the sandbox failed: restore the best checked round, say so."""
        try:
            kept = self._keep_best()
        except HealerError as git_error:  # report what happened even if git failed too
            kept = f"; the best round could not be restored: {git_error.message}"
        self._save(status="error", stop=str(exc) + kept)


def _first_round(report: RunReport) -> int:
    """Where the rounds of the current tests and spec start: the last recheck or change, else
    round 0 (rounds before it were checked against tests or a spec that changed since)."""
    return _first_of(report.rounds)


def _first_of(rounds: list[Round]) -> int:
    rechecks = [r.index for r in rounds if r.strategy in ("recheck", "change")]
    return rechecks[-1] if rechecks else 0
