"""Streamed answers: live token counts, loops stopped early, endpoints that do not stream."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from healer.config import Settings
from healer.errors import EndpointError
from healer.llm.answers import LOOPED, usage_of
from healer.llm.client import LLMClient
from healer.llm.repetition import LoopGuard, loop_start
from tests.fakellm import FakeLLM, Reply, completion_body, error_body

ASK = [{"role": "user", "content": "Write the module."}]
HEAD = '"""Inventory."""\n\n\ndef add(items, name, qty):\n'
LINE = "    items[name] = items.get(name, 0) + qty\n"


def _client(settings: Settings, **changes: object) -> LLMClient:
    return LLMClient(settings.model_copy(update={"cache": False, **changes}))


# ---------------------------------------------------------------- the loop detector


def test_a_looping_tail_is_cut_after_its_first_copy() -> None:
    text = HEAD + LINE * 60
    cut = loop_start(text)
    assert cut is not None and text[:cut] == HEAD + LINE


def test_a_loop_of_a_block_of_lines_is_found() -> None:
    block = "    if x:\n        y += 1\n    else:\n        y -= 1\n"
    text = HEAD + block * 40
    cut = loop_start(text)
    assert cut is not None and text[:cut].endswith(block) and text[:cut].count(block) == 1


def test_code_that_repeats_a_little_or_varies_is_not_a_loop() -> None:
    numbered = "".join(f'    ({i}, "{chr(97 + i % 26)}"),\n' for i in range(300))
    assert loop_start(HEAD + numbered) is None
    assert loop_start(HEAD + LINE * 5) is None  # five identical lines: too few to be a loop
    assert loop_start("short " * 10) is None  # below the length a loop must have


def test_the_guard_reads_only_the_tail_and_agrees_with_the_whole_text() -> None:
    guard = LoopGuard(every=1)
    pieces = [HEAD] + [LINE] * 60
    size = sum(map(len, pieces))
    assert guard.check(pieces, size) == loop_start("".join(pieces))
    assert LoopGuard(every=1).check([HEAD, LINE], len(HEAD + LINE)) is None


# ---------------------------------------------------------------- streaming through the client


def test_answers_are_streamed_with_usage(fake_settings: Settings, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("def add(a, b):\n    return a + b\n")
    seen: list[tuple[str, int]] = []
    client = _client(fake_settings)
    client.on_tokens = lambda stage, n: seen.append((stage, n))
    answer = client.complete(ASK, stage="generate")
    assert answer.text == "def add(a, b):\n    return a + b\n"
    request = fake_llm.requests[0]
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens == 8  # reported
    counts = [n for stage, n in seen]
    assert {stage for stage, _ in seen} == {"generate"}
    assert counts == sorted(counts) and counts[-1] == fake_llm.chunks_sent - 3  # text chunks


def test_a_looping_answer_is_stopped_early_and_kept_up_to_its_first_copy(
    fake_settings: Settings, fake_llm: FakeLLM
) -> None:
    looping = HEAD + LINE * 4000  # 180,000 characters if read to the end
    fake_llm.enqueue(Reply(text=looping, chunk_delay=0.001))
    client = _client(fake_settings)
    answer = client.complete(ASK, stage="repair")
    assert answer.finish_reason == LOOPED
    assert answer.text == HEAD + LINE
    time.sleep(0.2)  # the server notices the closed connection at its next write
    total_chunks = len(looping) // 360 + 3
    assert fake_llm.chunks_sent < total_chunks / 4  # the answer was not read to its end
    assert fake_llm.count == 1  # and not continued


def test_an_endpoint_that_ignores_stream_is_read_whole(
    fake_settings: Settings, fake_llm: FakeLLM
) -> None:
    body = completion_body({"messages": ASK, "model": "test-model"}, Reply(text="whole answer"))
    fake_llm.enqueue(Reply(body=body))
    assert _client(fake_settings).complete(ASK, stage="s").text == "whole answer"


def test_an_endpoint_that_refuses_stream_is_asked_without_it_from_then_on(
    fake_settings: Settings, fake_llm: FakeLLM
) -> None:
    refusal = error_body(400, "stream is not supported by this deployment")
    fake_llm.enqueue(Reply(status=400, body=refusal), "first", "second")
    client = _client(fake_settings)
    assert client.complete(ASK, stage="s").text == "first"
    assert client.complete(ASK, stage="s").text == "second"
    assert [r.get("stream", False) for r in fake_llm.requests] == [True, False, False]


def test_a_trickling_stream_is_held_to_the_request_timeout(
    fake_settings: Settings, fake_llm: FakeLLM, fast_retries: None
) -> None:
    slow = Reply(text="".join(f"step {i}\n" for i in range(200)), chunk_delay=0.05)
    fake_llm.enqueue(slow, slow)
    client = _client(fake_settings, request_timeout=0.5, max_retries=1)
    started = time.monotonic()
    with pytest.raises(EndpointError, match="timed out"):
        client.complete(ASK, stage="s")
    assert time.monotonic() - started < 3  # two attempts of 0.5 s, not 2 x 10 s of chunks


def test_the_builds_deadline_ends_a_stream_between_its_chunks(
    fake_settings: Settings, fake_llm: FakeLLM
) -> None:
    # llama.cpp can go quiet for minutes between two chunks (a prompt processed in batches
    # sends its progress, then nothing until the first token): each read's timeout starts
    # again at every chunk, so the deadline has to end the wait itself. In one benchmark
    # build a chunk came just before the deadline and the call ended 64 s past it.
    from healer.budget import Budget, CallLimits, Meter
    from healer.errors import BudgetSpentError

    fake_llm.enqueue(Reply(text="".join(f"step {i}\n" for i in range(40)), chunk_delay=3.0))
    client = _client(fake_settings)
    client.limits = CallLimits(Meter(Budget(timeout=4.0)), lambda: 0)
    started = time.monotonic()
    with pytest.raises(BudgetSpentError):
        client.complete(ASK, stage="s")
    waited = time.monotonic() - started
    assert fake_llm.chunks_sent == 2 and waited < 5.5  # at 4 s, not at the chunk of 6 s


def test_llama_cpp_timings_on_a_chunk_give_the_usage_and_the_cache_hits() -> None:
    chunk = SimpleNamespace(usage=None, model_extra={
        "timings": {"cache_n": 900, "prompt_n": 100, "predicted_n": 42, "prompt_ms": 1.5}})
    usage = usage_of(chunk, ASK, "partial")
    assert (usage.prompt_tokens, usage.prompt_cached_tokens, usage.completion_tokens) == (
        1000, 900, 42)


def test_the_bundled_model_is_asked_for_timings_on_every_chunk(
    fake_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue("x = 1\n", "y = 2\n")
    _client(fake_settings, model_server="llama.cpp").complete(ASK, stage="s")
    _client(fake_settings).complete(ASK, stage="s")
    assert fake_llm.requests[0].get("timings_per_token") is True
    assert "timings_per_token" not in fake_llm.requests[1]  # hosted APIs refuse unknown fields


def test_streaming_can_be_turned_off(fake_settings: Settings, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("x = 1\n")
    assert _client(fake_settings, stream=False).complete(ASK, stage="s").text == "x = 1\n"
    assert "stream" not in fake_llm.requests[0]


def test_a_stopped_call_is_not_sent(fake_settings: Settings, fake_llm: FakeLLM) -> None:
    import threading

    from healer.errors import CancelledError

    stop = threading.Event()
    stop.set()
    with pytest.raises(CancelledError):
        _client(fake_settings).complete(ASK, stage="generate", stop=stop)
    assert fake_llm.count == 0


def test_a_call_stopped_while_it_streams_ends_at_the_next_token(
    fake_settings: Settings, fake_llm: FakeLLM
) -> None:
    import threading

    from healer.errors import CancelledError

    fake_llm.enqueue(Reply(text="".join(f"line {i}\n" for i in range(2000)), chunk_delay=0.005))
    stop = threading.Event()
    client = _client(fake_settings)
    client.on_tokens = lambda stage, n: stop.set() if n == 20 else None
    with pytest.raises(CancelledError):
        client.complete(ASK, stage="generate", stop=stop)
    assert fake_llm.chunks_sent < 100  # of about 2,000
    time.sleep(1.0)  # and the connection was closed: the server sends no more
    assert fake_llm.chunks_sent < 100


def test_a_json_body_answering_a_stream_is_read_to_a_size_of_its_own(fake_llm, fake_settings):
    from healer.errors import EndpointError
    from healer.llm.client import MAX_ANSWER_CHARS, LLMClient
    from tests.fakellm import Reply

    huge = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [
        {"index": 0, "finish_reason": "stop",
         "message": {"role": "assistant", "content": "x" * (5 * MAX_ANSWER_CHARS)}}]}
    fake_llm.enqueue(Reply(body=huge))
    client = LLMClient(fake_settings.model_copy(update={"stream": True, "max_retries": 0}))
    with pytest.raises(EndpointError, match="more than"):
        client.complete([{"role": "user", "content": "hi"}], stage="generate")
    fake_llm.enqueue(Reply(body={**huge, "choices": [{**huge["choices"][0], "message": {
        "role": "assistant", "content": "small"}}]}))
    assert client.complete([{"role": "user", "content": "again"}], stage="generate",
                           use_cache=False).text == "small"
