"""What the benchmark records per spec, the results file, and the pass-at-round curve."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from healer.models import RunReport

RESULTS_JSON = "results.json"


class SpecResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    suite: str
    difficulty: int | None = None
    status: str  # healer's status (green, not_green, error) or "crash"
    stop_reason: str = ""
    green_at: list[bool] = Field(default_factory=list)  # index k: green by round k
    rounds_used: int = 0  # repair rounds after the first generation
    strategies: list[str] = Field(default_factory=list)
    prompt_tokens: int = 0
    prompt_cached_tokens: int = 0  # of the prompt tokens, served from the endpoint's cache
    completion_tokens: int = 0
    # acceptance tests passed by round k (the best so far), and how many there are
    tests_passed_at: list[int] = Field(default_factory=list)
    tests_total: int | None = None
    failing_checks: list[str] = Field(default_factory=list)  # of the best round: why it is not green
    calls: int = 0
    cost_usd: float | None = None
    wall_seconds: float = 0.0
    model_seconds: float = 0.0  # sum of the calls' durations (parallel calls overlap)
    sandbox_seconds: float = 0.0  # sum of the checks' durations
    overhead_seconds: float = 0.0  # the rest of the wall time, never below zero
    error: str = ""
    output: str = ""
    code: str = ""  # healer's commit that built it (`-dirty`: with uncommitted changes)
    finished: str = ""  # when the build ended, UTC, ISO 8601

    @property
    def green(self) -> bool:
        return bool(self.green_at) and self.green_at[-1]


def green_by_round(report: RunReport, max_iters: int) -> list[bool]:
    """Green by round k for k = 0..max_iters; once green, green for all later rounds."""
    curve, green = [], False
    checked = {r.index: r for r in report.rounds if r.checks}
    for k in range(max_iters + 1):
        rnd = checked.get(k)
        green = green or (rnd is not None and rnd.green)
        curve.append(green)
    return curve


def tests_by_round(report: RunReport, max_iters: int) -> tuple[list[int], int | None]:
    """Acceptance tests passed by round k for k = 0..max_iters (the best round so far)."""
    best, total, curve = 0, None, []
    checked = {r.index: r for r in report.rounds if r.acceptance is not None}
    for k in range(max_iters + 1):
        rnd = checked.get(k)
        if rnd is not None:
            best = max(best, rnd.acceptance.tests_passed or 0)
            total = rnd.acceptance.tests_total
        curve.append(best)
    return curve, total


def from_report(report: RunReport, *, name: str, suite: str, difficulty: int | None,
                max_iters: int, wall: float) -> SpecResult:
    usage = report.usage
    model = sum(r.usage.seconds for r in report.rounds)
    sandbox = sum(c.duration for r in report.rounds for c in r.checks)
    passed, total = tests_by_round(report, max_iters)
    best = next((r for r in report.rounds if r.index == report.best_round), None)
    return SpecResult(
        tests_passed_at=passed, tests_total=total,
        failing_checks=best.failing if best is not None else [],
        name=name, suite=suite, difficulty=difficulty, status=report.status,
        stop_reason=report.stop_reason, green_at=green_by_round(report, max_iters),
        rounds_used=max(0, len(report.rounds) - 1),
        strategies=[r.strategy for r in report.rounds],
        prompt_tokens=usage.prompt_tokens, prompt_cached_tokens=usage.prompt_cached_tokens,
        completion_tokens=usage.completion_tokens,
        calls=usage.calls, cost_usd=usage.cost_usd, wall_seconds=round(wall, 2),
        model_seconds=round(model, 2), sandbox_seconds=round(sandbox, 2),
        overhead_seconds=round(max(0.0, wall - model - sandbox), 2), output=report.output,
    )


def crashed(*, name: str, suite: str, difficulty: int | None, max_iters: int, wall: float,
            error: str, output: str = "", report: RunReport | None = None) -> SpecResult:
    """A build that raised; what its report recorded until then (rounds, tokens) is kept."""
    crash = {"status": "crash", "stop_reason": "crashed", "error": error}
    if report is not None:
        return from_report(report, name=name, suite=suite, difficulty=difficulty,
                           max_iters=max_iters, wall=wall).model_copy(update=crash)
    return SpecResult(name=name, suite=suite, difficulty=difficulty,
                      green_at=[False] * (max_iters + 1), wall_seconds=round(wall, 2),
                      overhead_seconds=round(wall, 2), output=output, **crash)


def pass_rate_curve(results: list[SpecResult]) -> list[float]:
    """Share of specs green by round k; a spec with a shorter curve keeps its last value."""
    if not results:
        return []
    length = max(len(r.green_at) for r in results)
    rates = []
    for k in range(length):
        greens = sum(1 for r in results if r.green_at and r.green_at[min(k, len(r.green_at) - 1)])
        rates.append(greens / len(results))
    return rates


class ResultsFile:
    """`results.json` of one run: written after every spec, so a stopped run can resume."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / RESULTS_JSON
        self._lock = threading.Lock()
        self.meta: dict = {}
        self.results: dict[str, SpecResult] = {}
        if self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.meta = data.get("meta", {})
            self.results = {k: SpecResult.model_validate(v)
                            for k, v in data.get("results", {}).items()}

    def done(self, name: str) -> bool:
        return name in self.results

    def add(self, result: SpecResult) -> None:
        with self._lock:
            self.results[result.name] = result
            self.save()

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {"meta": self.meta,
                "results": {k: v.model_dump(mode="json") for k, v in self.results.items()}}
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)
