"""When the repair loop must stop."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from healer.errors import BudgetSpentError
from healer.models import RunResult, Usage, Value

if TYPE_CHECKING:
    from healer.sandbox.base import Sandbox


class Budget(Value):
    max_iters: int = 5  # repair rounds after the first generation
    max_tokens: int | None = None
    max_cost: float | None = None  # dollars
    timeout: float | None = None  # seconds of wall time


class Meter:
    """Measures a run against its budget."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def seconds_left(self) -> float | None:
        """Seconds until the deadline (`--timeout`), None without one."""
        if self.budget.timeout is None:
            return None
        return self.budget.timeout - self.elapsed

    def time_spent(self) -> str:
        return f"time budget spent ({self.elapsed:.0f}s of {self.budget.timeout:.0f}s)"

    def standing(self, repairs_done: int, usage: Usage) -> str:
        """What is spent and what is left, in words, for the progress output."""
        b = self.budget
        spent = [f"{usage.total_tokens:,} tokens"]
        if usage.cost_usd is not None:
            spent.append(f"${usage.cost_usd:.4f}")
        spent.append(f"{self.elapsed:.0f} s")
        left = [f"{max(b.max_iters - repairs_done, 0)} of {b.max_iters} repair rounds"]
        if b.max_tokens is not None:
            left.append(f"{max(b.max_tokens - usage.total_tokens, 0):,} tokens")
        if b.max_cost is not None:
            left.append(f"${max(b.max_cost - (usage.cost_usd or 0.0), 0.0):.4f}")
        seconds = self.seconds_left()
        if seconds is not None:
            left.append(f"{max(seconds, 0.0):.0f} s")
        return f"spent {', '.join(spent)}; left {', '.join(left)}"

    def exhausted(self, repairs_done: int, usage: Usage) -> str | None:
        """Why no further repair round may start, or None."""
        b = self.budget
        if repairs_done >= b.max_iters:
            return f"round budget spent ({b.max_iters} repair rounds)"
        return self.spent(usage)

    def spent(self, usage: Usage) -> str | None:
        """Which of the build's tokens, dollars or time ran out (rounds aside), or None."""
        b = self.budget
        if b.max_tokens is not None and usage.total_tokens >= b.max_tokens:
            return f"token budget spent ({usage.total_tokens} of {b.max_tokens})"
        if b.max_cost is not None and (usage.cost_usd or 0.0) >= b.max_cost:
            return f"cost budget spent (${usage.cost_usd:.4f} of ${b.max_cost:.2f})"
        if b.timeout is not None and self.elapsed >= b.timeout:
            return self.time_spent()
        return None


class CallLimits:
    """What a single model call or check may still spend: the rest of the build's budget.

    The LLM client cuts each request's timeout to the time left and its `max_tokens` to the
    tokens left, and raises BudgetSpentError instead of starting a call that cannot fit.
    """

    def __init__(self, meter: Meter, used_tokens: Callable[[], int]) -> None:
        self.meter, self.used_tokens = meter, used_tokens

    def seconds(self, wanted: float) -> float:
        """`wanted` seconds, cut to the time left; BudgetSpentError when none is left."""
        left = self.meter.seconds_left()
        if left is None:
            return wanted
        if left <= 0:
            raise BudgetSpentError(self.meter.time_spent())
        return min(wanted, left)

    def tokens(self, wanted: int) -> int:
        """`wanted` completion tokens, cut to the tokens left in the budget."""
        cap = self.meter.budget.max_tokens
        if cap is None:
            return wanted
        left = cap - self.used_tokens()
        if left <= 0:
            raise BudgetSpentError(f"token budget spent ({self.used_tokens()} of {cap})")
        return min(wanted, left)


class BoundedSandbox:
    """A sandbox whose every command ends by the build's deadline (Sandbox protocol)."""

    def __init__(self, inner: Sandbox, limits: CallLimits) -> None:
        self.inner, self.limits = inner, limits
        self.name = inner.name

    def prepare(self, project: Path, *, timeout: float | None = None) -> RunResult | None:
        left = self.limits.seconds(timeout or float("inf"))
        return self.inner.prepare(project, timeout=None if left == float("inf") else left)

    def run(self, project: Path, command: str, *, timeout: float,
            network: bool = False) -> RunResult:
        return self.inner.run(project, command, timeout=self.limits.seconds(timeout),
                              network=network)

    def __getattr__(self, name: str):
        if name == "run_browser" and hasattr(self.inner, "run_browser"):
            def run_browser(folder: Path, *, timeout: float) -> RunResult:
                return self.inner.run_browser(folder, timeout=self.limits.seconds(timeout))

            return run_browser  # only a backend that has a browser gets one here
        raise AttributeError(name)

    def close(self) -> None:
        self.inner.close()
