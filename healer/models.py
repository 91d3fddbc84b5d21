"""Typed values that travel between healer's stages."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Value(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- LLM accounting


class Usage(Value):
    """Tokens, calls, time and estimated cost of one call or of a sum of calls."""

    calls: int = 0
    cached_calls: int = 0  # answered from healer's own response cache
    prompt_tokens: int = 0  # sent
    prompt_cached_tokens: int = 0  # of those, served from the endpoint's prompt cache
    completion_tokens: int = 0
    seconds: float = 0.0
    cost_usd: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def prompt_evaluated_tokens(self) -> int:
        """Prompt tokens the endpoint had to process: sent, less those it had cached."""
        return self.prompt_tokens - self.prompt_cached_tokens

    @staticmethod
    def sum(usages: Iterable[Usage]) -> Usage:
        total = Usage()
        for usage in usages:
            total = total + usage
        return total

    def __add__(self, other: Usage) -> Usage:
        cost = None
        if self.cost_usd is not None or other.cost_usd is not None:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            calls=self.calls + other.calls,
            cached_calls=self.cached_calls + other.cached_calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            prompt_cached_tokens=self.prompt_cached_tokens + other.prompt_cached_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            seconds=self.seconds + other.seconds,
            cost_usd=cost,
        )


class Completion(Value):
    text: str
    finish_reason: str = "stop"
    usage: Usage = Field(default_factory=Usage)
    cached: bool = False


# ---------------------------------------------------------------- spec and generation


class Spec(Value):
    """A product spec as the pipeline sees it."""

    text: str
    source: Path | None = None  # the spec file, None for a prompt string
    file_specs: dict[str, str] = Field(default_factory=dict)  # path -> extra spec for it
    keep: list[str] = Field(default_factory=list)  # globs of files never regenerated
    checks: list[str] = Field(default_factory=list)  # commands from a "## Checks" section
    acceptance_tests: list[str] = Field(default_factory=list)  # user test files (read-only)


class Plan(Value):
    """Shared dependencies every file must agree on, as Markdown."""

    text: str


class PlannedFile(Value):
    path: str
    purpose: str = ""


class FileList(Value):
    files: list[PlannedFile]

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]


class GeneratedFile(Value):
    path: str
    content: str


# ---------------------------------------------------------------- sandbox and checks


class RunResult(Value):
    """What one command did inside a sandbox."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    oom_killed: bool = False
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.oom_killed


class Failure(Value):
    """One piece of structured evidence that something is wrong."""

    check: str
    message: str
    file: str | None = None
    line: int | None = None
    excerpt: str = ""
    facts: dict[str, str] = Field(default_factory=dict)  # a failing test's: line, values, frame

    @property
    def signature(self) -> str:
        """Stable identity used to notice the same failure twice."""
        return f"{self.check}|{self.file}|{self.message.strip()[:200]}"


class CheckResult(Value):
    name: str
    passed: bool
    command: str | None = None
    exit_code: int | None = None
    duration: float = 0.0
    failures: list[Failure] = Field(default_factory=list)
    skipped: bool = False
    detail: str = ""  # e.g. a screenshot path, counts of tests
    tests_passed: int | None = None  # the acceptance check: tests of the contract passed
    tests_total: int | None = None
    passed_tests: list[str] = Field(default_factory=list)  # their ids


# ---------------------------------------------------------------- repair


class Edit(Value):
    """A change to one file: a search/replace block, or a whole-file rewrite when search is None."""

    path: str
    search: str | None = None
    replace: str = ""


class Candidate(Value):
    """One of a round's candidates: where it is kept, what its checks found, what it cost."""

    number: int  # 1..N within its round
    branch: str
    strategy: str = "generate"  # generate, repair, fresh or combine
    tried: list[str] = Field(default_factory=list)  # strategies that changed nothing first
    commit: str | None = None
    status: Literal["checked", "duplicate", "cancelled", "failed"] = "checked"
    tests_passed: int | None = None  # acceptance tests, when there is a contract
    tests_total: int | None = None
    passed_tests: list[str] = Field(default_factory=list)  # their ids
    gain: int | None = None  # acceptance tests passed beyond the code it was made from
    failing: list[str] = Field(default_factory=list)  # checks that failed
    green: bool = False
    kept: bool = False  # the round's result
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0
    note: str = ""  # why it was not checked
    screenshot: str | None = None  # the popup's, relative to .healer/ (an extension's checks)

    @property
    def how(self) -> str:
        """Its strategy, after those that changed nothing first: "fresh after repair"."""
        return " after ".join([self.strategy, *reversed(self.tried)])


class Round(Value):
    index: int
    commit: str | None = None
    checks: list[CheckResult] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)  # when a round had several
    diagnosis: str = ""
    files_changed: list[str] = Field(default_factory=list)
    strategy: str = "generate"
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0
    screenshot: str | None = None  # the popup's, relative to .healer/ (an extension's checks)
    cut: bool = False  # the budget ended its search of candidates before every one was checked

    @property
    def failing(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed and not c.skipped]

    @property
    def passing(self) -> list[str]:
        return [c.name for c in self.checks if c.passed and not c.skipped]

    @property
    def failures(self) -> list[Failure]:
        return [f for c in self.checks for f in c.failures]

    @property
    def acceptance(self) -> CheckResult | None:
        return next((c for c in self.checks if c.tests_total is not None), None)

    @property
    def acceptance_passed(self) -> int:
        check = self.acceptance
        return (check.tests_passed or 0) if check else 0

    def rank(self) -> tuple[bool, int, int, int, int]:
        """Sort key, best first: green, most acceptance tests passed, most other checks that
        ran and passed, fewest failures; ties keep the earlier round.

        A round whose tests cannot be collected passes 0 acceptance tests, however few
        failure records it has; a failing gate skips the checks behind it, so the count of
        passing checks ranks a syntax error below one failing test.
        """
        check = self.acceptance
        others = len([n for n in self.passing if check is None or n != check.name])
        if check is None:
            return (not self.green, 0, -others, len(self.failures), self.index)
        # every acceptance test that did not pass counts once, however many records it left
        failing = (check.tests_total or 0) - (check.tests_passed or 0)
        records = sum(len(c.failures) for c in self.checks if c is not check)
        return (not self.green, -self.acceptance_passed, -others, failing + records, self.index)

    @property
    def green(self) -> bool:
        return verdict(self.checks)


def verdict(checks: list[CheckResult]) -> bool:
    """Green: no check failed and at least one check really ran (all skipped is not green)."""
    ran = [c for c in checks if not c.skipped]
    return bool(ran) and all(c.passed for c in ran)


Status = Literal["green", "not_green", "error"]


class RunReport(Value):
    spec: str
    output: str
    status: Status
    stop_reason: str
    best_round: int | None = None
    rounds: list[Round] = Field(default_factory=list)
    usage_by_stage: dict[str, Usage] = Field(default_factory=dict)
    seconds: float = 0.0
    tests_digest: str | None = None  # the acceptance tests the rounds were checked against
    evidence: str = ""  # what green rests on: "acceptance", "model tests" or "no tests"
    model: str = ""  # the model and the sandbox backend that made and checked the rounds
    sandbox: str = ""

    @property
    def usage(self) -> Usage:
        return Usage.sum(self.usage_by_stage.values())
