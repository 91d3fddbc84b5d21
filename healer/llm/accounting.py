"""Usage accounting: tokens, calls, time and estimated dollars, summed per pipeline stage."""

from __future__ import annotations

import threading

from healer.models import Usage

# Public list prices in USD per million tokens: (prompt, completion). Matched by the longest
# prefix of the model name, so dated snapshots ("gpt-4o-2024-08-06") find their family.
PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o4-mini": (1.10, 4.40),
    "o3-mini": (1.10, 4.40),
}

def estimate_tokens(text: str) -> int:
    """Characters / 4, rounded up: tokenizer-free, close enough for code and prose."""
    return -(-len(text) // 4)


def _price(model: str) -> tuple[float, float] | None:
    name = model.rsplit("/", 1)[-1].lower()  # "openai/gpt-4o" -> "gpt-4o"
    matches = [prefix for prefix in PRICES_PER_MILLION if name.startswith(prefix)]
    return PRICES_PER_MILLION[max(matches, key=len)] if matches else None


def price_of(model: str, configured: tuple[float | None, float | None] = (None, None)
             ) -> tuple[float, float] | None:
    """(input, output) dollars per million tokens: the configured prices when both are set (the
    bundled model's endpoint sets 0 and 0), else the public list price; None when unknown."""
    if configured[0] is not None and configured[1] is not None:
        return configured[0], configured[1]
    return _price(model)


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int,
                  configured: tuple[float | None, float | None] = (None, None)) -> float | None:
    """Dollars for one call; None for a model without a known or configured price."""
    price = price_of(model, configured)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


class UsageLedger:
    """A thread-safe sum of `Usage` per stage ("plan", "generate", "debug", ...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages: dict[str, Usage] = {}

    def add(self, stage: str, usage: Usage) -> None:
        with self._lock:
            self._stages[stage] = self._stages.get(stage, Usage()) + usage

    @property
    def by_stage(self) -> dict[str, Usage]:
        """A copy: stage -> its summed usage (ready for `RunReport.usage_by_stage`)."""
        with self._lock:
            return {stage: usage.model_copy() for stage, usage in self._stages.items()}

    @property
    def total(self) -> Usage:
        return Usage.sum(self.by_stage.values())


def difference(later: Usage, earlier: Usage) -> Usage:
    """`later - earlier` for two sums taken from the same growing ledger."""
    cost = None
    if later.cost_usd is not None:
        cost = later.cost_usd - (earlier.cost_usd or 0.0)
    return Usage(
        calls=later.calls - earlier.calls,
        cached_calls=later.cached_calls - earlier.cached_calls,
        prompt_tokens=later.prompt_tokens - earlier.prompt_tokens,
        prompt_cached_tokens=later.prompt_cached_tokens - earlier.prompt_cached_tokens,
        completion_tokens=later.completion_tokens - earlier.completion_tokens,
        seconds=later.seconds - earlier.seconds,
        cost_usd=cost,
    )
