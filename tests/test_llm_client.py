"""LLMClient through the real openai SDK against the scripted server."""

from __future__ import annotations

import threading

import pytest

from healer.config import Settings
from healer.errors import ConfigError, ContextOverflowError, EndpointError, ModelOutputError
from healer.llm.client import LLMClient
from healer.llm.continuation import join_continuation
from healer.llm.profile import bundled_profile
from healer.prompts import render
from tests.fakellm import FakeLLM, Reply, error_body

ASK = [{"role": "user", "content": "Write hello world."}]


def varied(size: int) -> str:
    """`size` characters of text that never repeats itself (a loop would be stopped)."""
    return " ".join(f"w{i}" for i in range(size))[:size]


def _client(settings: Settings, **changes: object) -> LLMClient:
    return LLMClient(settings.model_copy(update={"cache": False, **changes}))


@pytest.fixture
def client(fake_settings: Settings, fast_retries: None) -> LLMClient:
    return _client(fake_settings)


def test_plain_answer_sends_settings(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("print('hello')")
    answer = client.complete(ASK, stage="generate")
    assert answer.text == "print('hello')"
    assert answer.finish_reason == "stop" and not answer.cached
    sent = fake_llm.requests[0]
    assert sent["model"] == "test-model" and sent["messages"] == ASK
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 4096
    assert "response_format" not in sent and "seed" not in sent
    assert fake_llm.headers[0]["authorization"] == "Bearer test-key"


def test_call_options_override_settings(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("x")
    client.complete(ASK, stage="s", temperature=0.0, max_tokens=64, seed=7)
    sent = fake_llm.requests[0]
    assert (sent["temperature"], sent["max_tokens"], sent["seed"]) == (0.0, 64, 7)


def test_missing_api_key_sends_placeholder(fake_settings: Settings, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("x")
    _client(fake_settings, api_key=None).complete(ASK, stage="s")
    assert fake_llm.headers[0]["authorization"] == "Bearer none"


def test_no_endpoint_or_model_is_a_config_error(fake_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="endpoint"):
        _client(fake_settings, base_url=None)
    with pytest.raises(ConfigError, match="model"):
        _client(fake_settings, model=None)


def test_rate_limit_then_server_error_then_success(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(Reply(status=429), Reply(status=500), "fine")
    assert client.complete(ASK, stage="s").text == "fine"
    assert fake_llm.count == 3


def test_retries_exhausted_names_endpoint_model_and_last_status(
    client: LLMClient, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(Reply(status=500), Reply(status=502), Reply(status=429), Reply(status=503))
    with pytest.raises(EndpointError) as caught:
        client.complete(ASK, stage="s")
    message = str(caught.value)
    assert fake_llm.url in message and "test-model" in message
    assert "4 attempts" in message and "HTTP 503" in message
    assert fake_llm.count == 4  # max_retries=3 -> 4 attempts


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (400, "context"),
        (401, "API key"),
        (403, "access"),
        (404, "unknown model"),
        (422, "parameter"),
    ],
)
def test_misuse_fails_at_once_with_a_hint(
    client: LLMClient, fake_llm: FakeLLM, status: int, hint: str
) -> None:
    fake_llm.enqueue(Reply(status=status), "never sent")
    with pytest.raises(EndpointError) as caught:
        client.complete(ASK, stage="s")
    assert fake_llm.count == 1
    assert f"HTTP {status}" in str(caught.value) and "test-model" in str(caught.value)
    assert caught.value.hint is not None and hint in caught.value.hint


def test_timeout_is_retried(fake_settings: Settings, fast_retries: None, fake_llm: FakeLLM) -> None:
    client = _client(fake_settings, request_timeout=0.3)
    fake_llm.enqueue(Reply(text="late", delay=1.0), "on time")
    assert client.complete(ASK, stage="s").text == "on time"
    assert fake_llm.count == 2


def test_timeouts_exhausted_say_so(
    fake_settings: Settings, fast_retries: None, fake_llm: FakeLLM
) -> None:
    client = _client(fake_settings, request_timeout=0.2, max_retries=1)
    fake_llm.enqueue(Reply(delay=0.6), Reply(delay=0.6))
    with pytest.raises(EndpointError, match="2 attempts; last error: timed out"):
        client.complete(ASK, stage="s")


def test_dropped_connection_is_retried(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(Reply(drop=True), "back")
    assert client.complete(ASK, stage="s").text == "back"
    assert fake_llm.count == 2


def test_unreachable_endpoint_is_an_endpoint_error(
    fake_settings: Settings, fast_retries: None
) -> None:
    closed = FakeLLM().start()
    url = closed.url
    closed.close()
    client = _client(fake_settings, base_url=url, max_retries=1)
    with pytest.raises(EndpointError, match="connection failed"):
        client.complete(ASK, stage="s")


def test_length_is_continued_and_concatenated(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(
        Reply(text="def add(a, b):\n", finish_reason="length"),
        Reply(text="    return a", finish_reason="length"),
        " + b\n",
    )
    answer = client.complete(ASK, stage="generate")
    assert answer.text == "def add(a, b):\n    return a + b\n"
    assert answer.finish_reason == "stop"
    assert answer.usage.calls == 3
    second, third = fake_llm.requests[1]["messages"], fake_llm.requests[2]["messages"]
    assert second[:1] == ASK
    assert second[1] == {"role": "assistant", "content": "def add(a, b):\n"}
    assert second[2] == {"role": "user", "content": render("continue_answer")}
    assert third[1]["content"] == "def add(a, b):\n    return a"


def test_an_answer_at_its_limit_ends_there_and_is_not_continued(
        client: LLMClient, fake_llm: FakeLLM) -> None:
    rambling = "Diagnosis: the sum is wrong " * 20
    fake_llm.enqueue(Reply(text=rambling, finish_reason="length"), "never asked for")
    answer = client.complete(ASK, stage="debug", at_most=len(rambling.split()))
    assert answer.text == rambling and answer.finish_reason == "length"
    assert fake_llm.count == 1 and fake_llm.requests[0]["max_tokens"] == 100


def test_an_answer_cut_below_its_limit_by_the_endpoint_is_continued_up_to_it(
        client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(Reply(text="one two three ", finish_reason="length"),
                     Reply(text="four five", finish_reason="length"), "never asked for")
    answer = client.complete(ASK, stage="debug", max_tokens=3, at_most=5)
    assert answer.text == "one two three four five" and answer.finish_reason == "length"
    assert [r["max_tokens"] for r in fake_llm.requests] == [3, 2]  # what the answer had left


def test_an_answer_the_endpoint_keeps_cutting_below_its_limit_is_an_error_not_a_stub(
        client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(*[Reply(text=f"part{i} ", finish_reason="length") for i in range(4)])
    with pytest.raises(ModelOutputError, match="still cut off"):
        client.complete(ASK, stage="regenerate", max_tokens=2, at_most=1000)
    assert fake_llm.count == 4


def test_a_continuation_fits_the_builds_token_budget(client: LLMClient,
                                                     fake_llm: FakeLLM) -> None:
    from healer.budget import Budget, CallLimits, Meter
    from healer.errors import BudgetSpentError

    client.limits = CallLimits(Meter(Budget(max_iters=1, max_tokens=60)), lambda: 0)
    fake_llm.enqueue(Reply(text="x" * 240, finish_reason="length"))
    with pytest.raises(BudgetSpentError, match="continued answer"):
        client.complete(ASK, stage="generate")  # the first part took what the budget held
    assert fake_llm.count == 1
    assert client.ledger.by_stage["generate"].completion_tokens == 60  # and is accounted
    client.limits = CallLimits(Meter(Budget(max_iters=1, max_tokens=100)), lambda: 0)
    fake_llm.enqueue(Reply(text="x" * 240, finish_reason="length"), "the rest")
    assert client.complete(ASK, stage="generate").text.endswith("the rest")
    assert 0 < fake_llm.requests[2]["max_tokens"] < 100 - 60  # what the budget had left


def test_repeated_length_is_a_model_output_error(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(*[Reply(text=f"part{i} ", finish_reason="length") for i in range(4)])
    with pytest.raises(ModelOutputError) as caught:
        client.complete(ASK, stage="plan", max_tokens=100)
    message = str(caught.value)
    assert "plan" in message and "test-model" in message and "max_tokens=100" in message
    assert fake_llm.count == 4
    assert client.ledger.by_stage["plan"].calls == 4  # spent tokens are still accounted


@pytest.mark.parametrize(
    "reply",
    [
        Reply(text=None),
        Reply(text="  \n"),
        Reply(
            body={"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
        ),
    ],
)
def test_empty_answer_is_a_model_output_error(
    client: LLMClient, fake_llm: FakeLLM, reply: Reply
) -> None:
    fake_llm.enqueue(reply)
    with pytest.raises(ModelOutputError, match="empty answer"):
        client.complete(ASK, stage="s")


def test_continuation_drops_text_repeated_at_the_seam() -> None:
    partial = "for item in items:\n    total += item.price"
    more = "    total += item.price * item.count\n"
    assert (
        join_continuation(partial, more)
        == "for item in items:\n    total += item.price * item.count\n"
    )
    assert join_continuation("abc", "abc") == "abcabc"  # short overlaps are kept as they are


def test_continuation_drops_a_reopened_code_fence() -> None:
    partial = "```python\ndef add(a, b):\n    return a"
    assert join_continuation(partial, "```python\n + b\n```") == partial + " + b\n```"
    closed = "```python\nx = 1\n```\n"
    assert join_continuation(closed, "```js\ny\n```") == closed + "```js\ny\n```"


def test_continuation_accepts_an_echoed_prefix() -> None:
    partial = "def add(a, b):\n    return a"
    assert join_continuation(partial, partial + " + b\n") == "def add(a, b):\n    return a + b\n"


def test_local_model_is_continued_by_prefill(
    fake_settings: Settings, fast_retries: None, fake_llm: FakeLLM
) -> None:
    client = _client(fake_settings, **bundled_profile(8192))
    assert client.llama_cpp
    partial = "def add(a, b):\n    return a"
    fake_llm.enqueue(Reply(text=partial, finish_reason="length"), partial + " + b\n")
    answer = client.complete(ASK, stage="generate")
    assert answer.text == "def add(a, b):\n    return a + b\n"
    assert fake_llm.requests[1]["messages"] == [*ASK, {"role": "assistant", "content": partial}]
    assert answer.usage.cost_usd == 0.0


SCHEMA = {"title": "File list", "type": "object", "properties": {"files": {"type": "array"}}}


def test_json_schema_is_sent_as_response_format(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue('{"files": []}')
    assert client.complete(ASK, stage="files", json_schema=SCHEMA).text == '{"files": []}'
    sent = fake_llm.requests[0]["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"] == {"name": "File_list", "schema": SCHEMA, "strict": False}


def test_rejected_response_format_falls_back_and_is_remembered(
    client: LLMClient, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(Reply(status=400), '{"files": []}', '{"files": ["a"]}')
    assert client.complete(ASK, stage="files", json_schema=SCHEMA).text == '{"files": []}'
    assert "response_format" in fake_llm.requests[0]
    assert "response_format" not in fake_llm.requests[1]
    client.complete(ASK, stage="files", json_schema=SCHEMA)
    assert "response_format" not in fake_llm.requests[2]
    assert fake_llm.count == 3


def _unsupported(param: str, message: str) -> Reply:
    """The 400 an OpenAI reasoning model sends for a parameter it does not take."""
    error = {"message": message, "type": "invalid_request_error", "param": param,
             "code": "unsupported_parameter"}
    return Reply(status=400, body={"error": error})


MAX_TOKENS_REFUSED = _unsupported(
    "max_tokens",
    "Unsupported parameter: 'max_tokens' is not supported with this model."
    " Use 'max_completion_tokens' instead.",
)
TEMPERATURE_REFUSED = _unsupported(
    "temperature",
    "Unsupported value: 'temperature' does not support 0.2 with this model."
    " Only the default (1) value is supported.",
)


def test_reasoning_model_parameters_are_adapted_and_remembered(
    client: LLMClient, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(MAX_TOKENS_REFUSED, TEMPERATURE_REFUSED, '{"files": []}', "second")
    answer = client.complete(ASK, stage="files", json_schema=SCHEMA)
    assert answer.text == '{"files": []}'
    first, second, third = fake_llm.requests[:3]
    assert first["max_tokens"] == 4096 and "max_completion_tokens" not in first
    assert second["max_completion_tokens"] == 4096 and "max_tokens" not in second
    assert "temperature" not in third and third["max_completion_tokens"] == 4096
    assert all("response_format" in sent for sent in (first, second, third))  # not blamed
    client.complete(ASK, stage="generate")
    fourth = fake_llm.requests[3]
    assert "max_tokens" not in fourth and "temperature" not in fourth
    assert fake_llm.count == 4


def test_other_bad_requests_are_refused_with_the_endpoint_message(
    client: LLMClient, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(_unsupported("messages", "'messages' must contain the word 'json'"))
    with pytest.raises(EndpointError, match="must contain the word 'json'"):
        client.complete(ASK, stage="generate")
    assert fake_llm.count == 1


@pytest.mark.parametrize(
    "message",
    [
        "request (8357 tokens) exceeds the available context size (8192 tokens), try increasing it",
        "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.",
    ],
)
def test_a_prompt_longer_than_the_context_is_its_own_error(
    client: LLMClient, fake_llm: FakeLLM, message: str
) -> None:
    fake_llm.enqueue(Reply(status=400, body=error_body(400, message)))
    with pytest.raises(ContextOverflowError, match="HTTP 400"):
        client.complete(ASK, stage="debug")
    fake_llm.enqueue(_unsupported("messages", "'messages' must contain the word 'json'"))
    with pytest.raises(EndpointError) as caught:
        client.complete(ASK, stage="debug")
    assert not isinstance(caught.value, ContextOverflowError)


def test_a_continuation_past_the_context_still_counts_the_parts_answered(
    client: LLMClient, fake_llm: FakeLLM
) -> None:
    overflow = error_body(400, "request (8357 tokens) exceeds the available context size")
    fake_llm.enqueue(Reply(text="x" * 400, finish_reason="length"), Reply(status=400, body=overflow))
    with pytest.raises(ContextOverflowError):
        client.complete(ASK, stage="debug")
    usage = client.ledger.by_stage["debug"]
    assert usage.calls == 1 and usage.completion_tokens == 100 and usage.seconds > 0


def test_continuation_of_a_schema_answer_drops_response_format(
    client: LLMClient, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(Reply(text='{"files": [', finish_reason="length"), '"a.py"]}')
    assert client.complete(ASK, stage="files", json_schema=SCHEMA).text == '{"files": ["a.py"]}'
    assert "response_format" not in fake_llm.requests[1]


def test_usage_is_recorded_per_stage(client: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("a" * 40, "b" * 80, Reply(text="c" * 400, usage=False))
    client.complete(ASK, stage="plan")
    client.complete(ASK, stage="generate")
    client.complete(ASK, stage="generate")
    stages = client.ledger.by_stage
    assert set(stages) == {"plan", "generate"}
    assert stages["plan"].calls == 1 and stages["plan"].completion_tokens == 10
    assert stages["generate"].calls == 2
    assert stages["generate"].completion_tokens == 20 + 100  # reported 20, estimated 400/4
    assert stages["plan"].seconds > 0 and stages["plan"].cost_usd is None  # unpriced model
    assert client.ledger.total.calls == 3


def test_cost_is_estimated_for_a_priced_model(
    fake_settings: Settings, fast_retries: None, fake_llm: FakeLLM
) -> None:
    client = _client(fake_settings, model="gpt-4o-mini-2024-07-18")
    fake_llm.enqueue(varied(4000))  # 1000 completion tokens
    usage = client.complete(ASK, stage="debug").usage
    expected = (usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.60) / 1e6
    assert usage.completion_tokens == 1000
    assert usage.cost_usd == pytest.approx(expected)
    assert client.ledger.total.cost_usd == pytest.approx(expected)


def test_concurrency_bound_is_respected(
    fake_settings: Settings, fast_retries: None, fake_llm: FakeLLM
) -> None:
    client = _client(fake_settings, concurrency=2)
    fake_llm.responder = lambda request: Reply(text=request["messages"][0]["content"], delay=0.2)
    results: dict[int, str] = {}

    def call(i: int) -> None:
        results[i] = client.complete([{"role": "user", "content": f"n{i}"}], stage="gen").text

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert results == {i: f"n{i}" for i in range(6)}
    assert fake_llm.max_in_flight == 2
    assert client.ledger.by_stage["gen"].calls == 6


def test_retry_after_header_is_read(client: LLMClient, fake_llm: FakeLLM) -> None:
    import openai

    from healer.llm.call_errors import retry_after

    fake_llm.enqueue(Reply(status=429, headers={"retry-after": "0.01"}), "after the wait")
    assert client.complete(ASK, stage="s").text == "after the wait"
    raw = openai.OpenAI(base_url=fake_llm.url, api_key="k", max_retries=0)
    fake_llm.enqueue(Reply(status=429, headers={"retry-after": "7"}))
    with pytest.raises(openai.RateLimitError) as caught:
        raw.chat.completions.create(model="m", messages=[])
    assert retry_after(caught.value) == 7.0
    assert retry_after(None) == 0.0


@pytest.mark.parametrize("body", ["<html><body>Sign in</body></html>", "[1, 2]",
                                  '{"choices": "x"}', '{"choices": [{"message": 5}]}'])
def test_an_answer_that_is_not_a_completion_is_a_clear_error(fake_llm, fake_settings, body):
    from healer.errors import EndpointError
    from healer.llm.client import LLMClient
    from tests.fakellm import Reply

    fake_llm.enqueue(Reply(body=body))
    with pytest.raises(EndpointError, match="not an OpenAI chat completion"):
        LLMClient(fake_settings).complete([{"role": "user", "content": "hi"}], stage="s")


def test_an_oversized_answer_is_refused(fake_llm, fake_settings) -> None:
    from healer.errors import ModelOutputError
    from healer.llm.client import MAX_ANSWER_CHARS, LLMClient

    fake_llm.enqueue(varied(MAX_ANSWER_CHARS + 1))
    with pytest.raises(ModelOutputError, match="longer than"):
        LLMClient(fake_settings).complete([{"role": "user", "content": "plan"}], stage="plan")
