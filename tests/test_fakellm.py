"""The scripted server itself, through the real openai client and plain HTTP."""

from __future__ import annotations

import json
import urllib.request

import openai
import pytest

from tests.fakellm import FakeLLM, Reply


def _client(server: FakeLLM, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="k", max_retries=0, timeout=timeout)


def test_answers_in_queue_order_and_records_requests(fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("one", "two")
    client = _client(fake_llm)
    first = client.chat.completions.create(
        model="test-model", messages=[{"role": "user", "content": "hi"}]
    )
    second = client.chat.completions.create(
        model="test-model", messages=[{"role": "user", "content": "again"}]
    )
    assert [first.choices[0].message.content, second.choices[0].message.content] == ["one", "two"]
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None and first.usage.completion_tokens >= 1
    assert fake_llm.count == 2
    assert fake_llm.requests[1]["messages"] == [{"role": "user", "content": "again"}]
    assert fake_llm.headers[0]["authorization"] == "Bearer k"


def test_unexpected_call_gets_500_naming_the_exhausted_script(fake_llm: FakeLLM) -> None:
    with pytest.raises(openai.InternalServerError, match="script is exhausted"):
        _client(fake_llm).chat.completions.create(model="m", messages=[])


def test_responder_answers_when_queue_is_empty(fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("queued")
    fake_llm.responder = lambda request: "echo " + request["messages"][-1]["content"]
    client = _client(fake_llm)
    texts = [
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": c}])
        .choices[0]
        .message.content
        for c in ("a", "b")
    ]
    assert texts == ["queued", "echo b"]


def test_scripted_statuses_truncation_and_null_content(fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(
        Reply(status=429),
        Reply(status=404),
        Reply(text="par", finish_reason="length", usage=False),
        Reply(text=None),
    )
    client = _client(fake_llm)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=[])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="m", messages=[])
    cut = client.chat.completions.create(model="m", messages=[])
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == ("par", "length")
    assert cut.usage is None
    assert client.chat.completions.create(model="m", messages=[]).choices[0].message.content is None


def test_delay_beyond_timeout_and_dropped_connection(fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(Reply(delay=1.0), Reply(drop=True))
    client = _client(fake_llm, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=[])
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=[])


def test_models_listing_and_raw_body(fake_llm: FakeLLM) -> None:
    with urllib.request.urlopen(fake_llm.url + "/models", timeout=5) as answer:
        listing = json.load(answer)
    assert [m["id"] for m in listing["data"]] == ["test-model"]
    fake_llm.enqueue(
        Reply(
            body={"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
        )
    )
    empty = _client(fake_llm).chat.completions.create(model="m", messages=[])
    assert empty.choices == []
