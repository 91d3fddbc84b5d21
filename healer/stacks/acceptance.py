"""What a stack gives to run the user's acceptance tests in its language: the ids a test file
defines, and a prepared run (the command, and the judge of its output against the ids).

healer's pytest and node:test runners are its own (healer.checks.acceptance); a stack that
sets `Stack.acceptance` adds its language's (the Go stack's is healer.stacks.go_acceptance).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from healer.models import CheckResult, RunResult


class PreparedRun(Protocol):
    command: str

    def judge(self, ids: Sequence[str], result: RunResult) -> CheckResult:
        """The acceptance check of these ids from the run's result: an id passes only when
        the run proves it passed; anything missing, doubtful or forged fails."""
        ...


class AcceptanceRunner(Protocol):
    def owns(self, rel: str) -> bool:
        """Whether a test file (a project path) is this runner's."""
        ...

    def ids(self, rel: str, source: str) -> list[str]:
        """`rel::name` of every test the file defines."""
        ...

    def prepare(self, project: Path, files: dict[str, str]) -> PreparedRun:
        """A run of the acceptance files (path -> sha256 of the user's file) in `project`."""
        ...
