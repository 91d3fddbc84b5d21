"""When the repair loop must stop."""

from __future__ import annotations

import time

from healer.models import Usage, Value


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

    def exhausted(self, repairs_done: int, usage: Usage) -> str | None:
        """Why no further repair round may start, or None."""
        b = self.budget
        if repairs_done >= b.max_iters:
            return f"round budget spent ({b.max_iters} repair rounds)"
        if b.max_tokens is not None and usage.total_tokens >= b.max_tokens:
            return f"token budget spent ({usage.total_tokens} of {b.max_tokens})"
        if b.max_cost is not None and (usage.cost_usd or 0.0) >= b.max_cost:
            return f"cost budget spent (${usage.cost_usd:.4f} of ${b.max_cost:.2f})"
        if b.timeout is not None and self.elapsed >= b.timeout:
            return f"time budget spent ({self.elapsed:.0f}s of {b.timeout:.0f}s)"
        return None
