"""Candidate search: several independent candidates of one round, each on its own branch.

With a small model, a fresh sample is worth more than a repair of a failing one. So round 0
can write N candidates of the implementation files from the same plan, each sampled
differently (`sampling_for`): its own temperature, seed and a short hint after the task, so
that every candidate's prompt starts with the same prefix and an endpoint's prompt cache
serves it. Each candidate is committed on `healer/r0-cK` and checked in its own scratch
checkout; they are ranked like rounds (acceptance tests passed first), and the best one
becomes round 0 on the build's branch. A green candidate ends the search at once: calls not
yet answered are cancelled. A candidate identical to an earlier one (ignoring blank lines,
trailing spaces and comments) is sampled once more, then counted as a duplicate unchecked.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healer.errors import BudgetSpentError, CancelledError, HealerError
from healer.models import Candidate, CheckResult, FileList, GeneratedFile, Plan, Round, Spec, Usage
from healer.models import verdict as checks_pass
from healer.parallel import bounded_map
from healer.paths import confined
from healer.pipeline.generate import Sampling, generate_files
from healer.prompts import render
from healer.spec import acceptance_files

if TYPE_CHECKING:
    from healer.llm.client import LLMClient
    from healer.workspace import Workspace

CHECKS_AT_ONCE = 2  # candidates checked in parallel (each check run is its own container)
TEMPERATURE_STEP = 0.25
MAX_TEMPERATURE = 1.0
_COMMENT = re.compile(r"(?m)^\s*(#|//).*$")

Check = Callable[[Path], list[CheckResult]]


def hints() -> list[str]:
    """The prompt variants of candidates 2, 3, ...: one per paragraph of the prompt file."""
    return [h.strip() for h in render("candidate_hints").split("\n\n") if h.strip()]


def sampling_for(number: int, base_temperature: float) -> Sampling:
    """Candidate 1 is sampled as a single build would be; each later one hotter, with its own
    seed and hint."""
    if number <= 1:
        return Sampling()
    variants = hints()
    temperature = min(MAX_TEMPERATURE, base_temperature + TEMPERATURE_STEP * (number - 1))
    return Sampling(temperature=temperature, seed=number,
                    hint=variants[(number - 2) % len(variants)] if variants else "")


def fingerprint(files: list[GeneratedFile]) -> str:
    """The same code, whatever its blank lines, trailing spaces and whole-line comments."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        body = "\n".join(line.rstrip() for line in _COMMENT.sub("", f.content).splitlines()
                         if line.strip())
        digest.update(f"{f.path}\0{body}\0".encode())
    return digest.hexdigest()


@dataclass
class _Counting:
    """The client, counting the usage of the calls made through it (one candidate's)."""

    llm: LLMClient
    usage: Usage = field(default_factory=Usage)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def complete(self, *args: Any, **kwargs: Any) -> Any:
        answer = self.llm.complete(*args, **kwargs)
        with self._lock:
            self.usage = self.usage + answer.usage
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.llm, name)


@dataclass
class Outcome:
    """What the search leaves: the candidates, and the kept one's checks and files."""

    candidates: list[Candidate]
    checks: list[CheckResult]
    files: list[str]
    commit: str | None


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

    def run(self, count: int) -> Outcome:
        base = self.ws.commit("round 0: plan, file list and acceptance tests for the candidates")
        stop, seen = threading.Event(), _Seen()
        checks: dict[int, list[CheckResult]] = {}
        gate = threading.BoundedSemaphore(CHECKS_AT_ONCE)

        def one(number: int) -> Candidate:
            candidate = self._one(number, count, base, stop, seen, gate, checks)
            self.on_candidate(candidate)
            return candidate

        candidates = bounded_map(one, list(range(1, count + 1)), workers=count)
        return self._keep_best(candidates, checks)

    def _one(self, number: int, count: int, base: str, stop: threading.Event, seen: _Seen,
             gate: threading.BoundedSemaphore, checks: dict[int, list[CheckResult]]
             ) -> Candidate:
        branch = f"healer/r0-c{number}"
        started, counting = time.monotonic(), _Counting(self.llm)
        candidate = Candidate(number=number, branch=branch)
        try:
            files = self._sample(counting, number, stop)
            if not seen.add(fingerprint(files), number):  # the same code again: once more
                files = self._sample(counting, number + count, stop)
                if not seen.add(fingerprint(files), number):
                    candidate.status, candidate.note = "duplicate", "the same code as another"
            with self.ws.scratch_tree(base) as tree:
                _write(tree, files, self.spec.keep)
                for rel, source in acceptance_files(self.spec).items():  # as the user wrote them
                    shutil.copyfile(source, confined(tree, rel))
                candidate.commit = self.ws.commit_tree(
                    tree, branch, f"round 0: candidate {number} of {count}")
                if candidate.status == "checked":
                    if stop.is_set():
                        raise CancelledError("another candidate is green")
                    with gate:
                        result = self.check(tree)
                    checks[number] = result
                    _summarise(candidate, result)
                    if candidate.green:
                        stop.set()
        except CancelledError:
            candidate.status, candidate.note = "cancelled", "another candidate was green first"
        except BudgetSpentError:  # the build's budget, not this candidate's: the search ends
            stop.set()
            raise
        except HealerError as exc:  # one candidate's failure is not the search's
            candidate.status, candidate.note = "failed", exc.message[:300]
        candidate.usage, candidate.seconds = counting.usage, time.monotonic() - started
        return candidate

    def _sample(self, llm: _Counting, number: int, stop: threading.Event) -> list[GeneratedFile]:
        sampling = sampling_for(number, self.llm.settings.temperature)
        return generate_files(llm, self.spec, self.plan, self.file_list,  # type: ignore[arg-type]
                              only=self.todo, workers=self.llm.settings.concurrency,
                              sampling=sampling, stop=stop)

    def _keep_best(self, candidates: list[Candidate], checks: dict[int, list[CheckResult]]
                   ) -> Outcome:
        checked = [c for c in candidates if c.number in checks]
        if not checked:
            raise HealerError("no candidate of round 0 could be checked: " + "; ".join(
                f"candidate {c.number}: {c.note or c.status}" for c in candidates))
        best = min(checked, key=lambda c: Round(index=c.number, checks=checks[c.number]).rank())
        best.kept = True
        self.ws.advance_to(best.commit or "")
        return Outcome(candidates=candidates, checks=checks[best.number], files=self.todo,
                       commit=best.commit)


class _Seen:
    """Fingerprints of the candidates so far, shared by the threads of one search."""

    def __init__(self) -> None:
        self._prints: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, fingerprint: str, number: int) -> bool:
        """False when another candidate already had this code."""
        with self._lock:
            first = self._prints.setdefault(fingerprint, number)
            return first == number


def _write(tree: Path, files: list[GeneratedFile], keep: list[str]) -> None:
    for f in files:
        target = confined(tree, f.path)
        if target.exists() and any(fnmatch.fnmatch(f.path, g) for g in keep):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.content, encoding="utf-8")


def _summarise(candidate: Candidate, checks: list[CheckResult]) -> None:
    rnd = Round(index=0, checks=checks)
    acceptance = rnd.acceptance
    candidate.green = rnd.green and checks_pass(checks)
    candidate.failing = rnd.failing
    if acceptance is not None:
        candidate.tests_passed = acceptance.tests_passed or 0
        candidate.tests_total = acceptance.tests_total
