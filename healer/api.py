"""healer as a library: the three things the command line does, as functions.

    import healer

    report = healer.build("spec.md", "out/app", max_iters=5, timeout=600)
    report.status                      # "green", "not_green", ...
    results = healer.check("out/app")  # list of CheckResult, run in the sandbox
    fixed = healer.debug(open("error.txt").read(), "out/app", apply=True)

Settings come as they do for the command line (healer.toml beside the spec, HEALER_* and
OPENAI_* variables), with keyword arguments on top (`model=`, `base_url=`, `sandbox_hosts=`,
any name of docs/settings.md). A folder being checked or debugged is untrusted: its own
healer.toml cannot choose the endpoint or the sandbox (see healer.config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from healer.budget import Budget
from healer.config import load_settings
from healer.debugger import DebugResult
from healer.events import NO_EVENTS, Events
from healer.models import CheckResult, RunReport


def build(spec: str | Path, output: str | Path, *, max_iters: int = 5,
          max_tokens: int | None = None, max_cost: float | None = None,
          timeout: float | None = None, tests: list[str] | None = None,
          into_existing: bool = False, unsafe_local: bool = False,
          events: Events = NO_EVENTS, **settings: Any) -> RunReport:
    """Generate `spec` (a path, or Markdown text) into `output`, check it in the sandbox and
    repair it until green or out of budget; the report of the best round."""
    from healer.commands import run_build

    spec_path = Path(str(spec))
    folder = spec_path.parent if spec_path.is_file() else None
    budget = Budget(max_iters=max_iters, max_tokens=max_tokens, max_cost=max_cost,
                    timeout=timeout)
    return run_build(str(spec), Path(output), load_settings(folder, **settings), budget,
                     tests=tests, unsafe_local=unsafe_local, events=events,
                     into_existing=into_existing)


def check(folder: str | Path, *, unsafe_local: bool = False,
          **settings: Any) -> list[CheckResult]:
    """Every check of `folder`, in the sandbox (as `healer check`)."""
    from healer.commands import run_check

    folder = Path(folder)
    return run_check(folder, load_settings(Path.cwd(), untrusted=folder, **settings),
                     unsafe_local=unsafe_local)


def debug(error: str, folder: str | Path, *, apply: bool = False, check: bool = False,
          max_rounds: int = 3, unsafe_local: bool = False, events: Events = NO_EVENTS,
          **settings: Any) -> DebugResult:
    """Diagnose a pasted `error` in `folder` and propose edits; `apply` writes them, `check`
    also runs the checks and repairs until green (as `healer debug`)."""
    from healer.debugger import run_debug

    folder = Path(folder)
    return run_debug(error, folder, load_settings(Path.cwd(), untrusted=folder, **settings),
                     apply=apply, check=check, max_rounds=max_rounds, events=events,
                     unsafe_local=unsafe_local)
