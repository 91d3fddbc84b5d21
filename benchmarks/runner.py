"""Build every benchmark spec with healer, a bounded number at a time, and record each result.

All builds share one endpoint: the configured one, or the bundled local model started once
for the whole run. Each build has its own output folder. A build that crashes is recorded as
a fail with its error; it never stops the run. Results are saved after every spec, and a spec
already in the results file is skipped unless `force` is set, so a stopped run resumes.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path

import healer
from benchmarks.cases import REPO_ROOT, Case
from benchmarks.record import ResultsFile, SpecResult, crashed, from_report
from healer.budget import Budget
from healer.commands import run_build
from healer.config import Settings
from healer.llm.local_server import local_endpoint
from healer.models import RunReport
from healer.state import read_report

log = logging.getLogger(__name__)

Builder = Callable[[str, Path, Settings, Budget], RunReport]
Progress = Callable[[SpecResult, int, int], None]


def _default_builder(spec: str, output: Path, settings: Settings, budget: Budget) -> RunReport:
    return run_build(spec, output, settings, budget)


def build_case(case: Case, *, settings: Settings, budget: Budget, work: Path,
               builder: Builder = _default_builder) -> SpecResult:
    """One fresh build of one case; never raises."""
    output = work / "builds" / case.name
    started = time.monotonic()
    ident = {"name": case.name, "suite": case.suite, "difficulty": case.difficulty,
             "max_iters": budget.max_iters}
    try:
        if output.exists():
            shutil.rmtree(output)
        spec = case.prepare(work / "specs")
        report = builder(str(spec), output, settings, budget)
    except Exception as exc:  # noqa: BLE001 - a crash is a recorded fail, never the end
        log.warning("build of %s crashed: %s", case.name, exc)
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
        return crashed(**ident, wall=time.monotonic() - started, error=error,
                       output=str(output), report=read_report(output))
    return from_report(report, **ident, wall=time.monotonic() - started)


def code_version(repo: Path = REPO_ROOT) -> str:
    """The commit of the healer that builds, `-dirty` when files other than benchmark results
    differ from it, or the package version outside a git checkout."""
    commit = _git(repo, "rev-parse", "--short=7", "HEAD")
    if commit is None:
        return healer.__version__
    changed = _git(repo, "status", "--porcelain", "--untracked-files=no", "--", ".",
                   ":(exclude)benchmarks/results")
    return f"{commit}-dirty" if changed else commit


def _git(repo: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def pending(cases: list[Case], results: ResultsFile, force: bool) -> list[Case]:
    return [c for c in cases if force or not results.done(c.name)]


def run_cases(cases: list[Case], *, settings: Settings, budget: Budget, results: ResultsFile,
              work: Path, workers: int = 2, force: bool = False,
              builder: Builder = _default_builder, progress: Progress | None = None
              ) -> list[SpecResult]:
    """Build the cases not yet recorded (all with `force`); returns the new results."""
    todo = pending(cases, results, force)
    if not todo:
        return []
    with local_endpoint(settings) as effective:
        return _pool(todo, effective, budget, results, work, workers, builder, progress)


def _pool(todo: list[Case], settings: Settings, budget: Budget, results: ResultsFile,
          work: Path, workers: int, builder: Builder, progress: Progress | None
          ) -> list[SpecResult]:
    done: list[SpecResult] = []
    code = code_version()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(build_case, c, settings=settings, budget=budget, work=work,
                               builder=builder) for c in todo]
        for future in as_completed(futures):
            result = future.result().model_copy(update={
                "code": code, "finished": datetime.now(UTC).isoformat(timespec="seconds")})
            results.add(result)
            done.append(result)
            if progress:
                progress(result, len(done), len(todo))
    return done
