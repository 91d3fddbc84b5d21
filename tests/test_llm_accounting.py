"""Cost estimates and the per-stage usage ledger."""

from __future__ import annotations

import threading

import pytest

from healer.llm.accounting import UsageLedger, difference, estimate_cost
from healer.models import Usage


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", 2.50 + 10.00),
        ("gpt-4o-2024-08-06", 2.50 + 10.00),
        ("gpt-4o-mini", 0.15 + 0.60),  # the longer prefix wins over gpt-4o
        ("openai/gpt-4.1-mini", 0.40 + 1.60),
        ("gpt-4.1", 2.00 + 8.00),
        ("o3-mini", 1.10 + 4.40),
    ],
)
def test_known_models_are_priced_per_million(model: str, expected: float) -> None:
    assert estimate_cost(model, 1_000_000, 1_000_000) == pytest.approx(expected)


def test_local_models_are_free_and_unknown_ones_unpriced() -> None:
    assert estimate_cost("local-qwen2.5-coder-1.5b", 5000, 5000, (0.0, 0.0)) == 0.0  # bundled
    assert estimate_cost("local-qwen2.5-coder-1.5b", 5000, 5000) is None  # a name is no price
    assert estimate_cost("qwen2.5-coder:7b", 5000, 5000) is None
    assert estimate_cost("test-model", 1, 1) is None


def test_ledger_sums_per_stage_and_in_total() -> None:
    ledger = UsageLedger()
    ledger.add("plan", Usage(calls=1, prompt_tokens=10, completion_tokens=5, cost_usd=0.5))
    ledger.add("generate", Usage(calls=2, cached_calls=1, prompt_tokens=3, seconds=1.0))
    ledger.add("plan", Usage(calls=1, prompt_tokens=1, cost_usd=0.25))
    stages = ledger.by_stage
    assert stages["plan"] == Usage(calls=2, prompt_tokens=11, completion_tokens=5, cost_usd=0.75)
    assert stages["generate"].cost_usd is None
    total = ledger.total
    assert (total.calls, total.cached_calls, total.total_tokens) == (4, 1, 19)
    assert total.cost_usd == pytest.approx(0.75)
    stages["plan"] = Usage()  # a copy: the ledger is unchanged
    assert ledger.by_stage["plan"].calls == 2


def test_usage_spent_between_two_totals() -> None:
    ledger = UsageLedger()
    ledger.add("plan", Usage(calls=1, prompt_tokens=100, cost_usd=1.0))
    before = ledger.total
    ledger.add("debug", Usage(calls=2, prompt_tokens=30, completion_tokens=7, cost_usd=0.5))
    spent = difference(ledger.total, before)
    assert (spent.calls, spent.prompt_tokens, spent.completion_tokens) == (2, 30, 7)
    assert spent.cost_usd == pytest.approx(0.5)


def test_ledger_is_thread_safe() -> None:
    ledger = UsageLedger()

    def work() -> None:
        for _ in range(500):
            ledger.add("generate", Usage(calls=1, prompt_tokens=2))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.total.calls == 4000 and ledger.total.prompt_tokens == 8000


def _body(extra: dict) -> dict:
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                         "finish_reason": "stop"}], **extra}


@pytest.mark.parametrize("extra", [
    {"usage": {"prompt_tokens": 1000, "completion_tokens": 5, "total_tokens": 1005,
               "prompt_tokens_details": {"cached_tokens": 768}}},  # OpenAI, vLLM
    {"usage": {"prompt_tokens": 1000, "completion_tokens": 5, "total_tokens": 1005},
     "timings": {"cache_n": 768, "prompt_n": 232}},  # llama.cpp's server
], ids=["openai", "llama.cpp"])
def test_tokens_served_from_the_endpoint_s_cache_are_counted(fake_llm, fake_settings, extra):
    from healer.llm.client import LLMClient
    from tests.fakellm import Reply

    fake_llm.enqueue(Reply(body=_body(extra)))
    client = LLMClient(fake_settings.model_copy(update={"cache": False}))
    usage = client.complete([{"role": "user", "content": "hi"}], stage="s").usage
    assert (usage.prompt_tokens, usage.prompt_cached_tokens, usage.prompt_evaluated_tokens) == \
        (1000, 768, 232)
    assert client.ledger.total.prompt_cached_tokens == 768
