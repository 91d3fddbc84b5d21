"""Reading one HTTP answer of a chat completion endpoint: whole, or streamed chunk by chunk.

A streamed answer shows its tokens as they come (`on_tokens`), is stopped as soon as it loops
(see `repetition`) or outgrows what healer can use, and still holds the request to its time
limit: the SDK's timeout bounds each read, `deadline` bounds the whole answer (its chunks are
read in a thread of their own, so that a read the server keeps waiting ends at the deadline).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from healer.llm.accounting import estimate_tokens
from healer.llm.repetition import LoopGuard
from healer.models import Usage

LOOPED = "repeat"  # the finish reason of an answer healer stopped because it looped
TOO_LONG = "too_long"  # ... and of one it stopped because it outgrew `max_chars`


@dataclass(frozen=True)
class Part:
    """What one HTTP answer carried."""

    text: str | None
    finish_reason: str
    usage: Usage


class NotACompletion(ValueError):
    """The endpoint answered, but not with a chat completion."""


def whole(response: Any, messages: list[dict[str, str]]) -> Part:
    """The part a non-streamed answer carries."""
    try:
        choice = response.choices[0] if response.choices else None
        text = choice.message.content if choice is not None else None
        finish = (choice.finish_reason if choice is not None else None) or "stop"
        if text is not None and not isinstance(text, str):
            raise TypeError(f"content is {type(text).__name__}")
        return Part(text=text, finish_reason=finish, usage=usage_of(response, messages, text))
    except (AttributeError, TypeError, IndexError, KeyError) as exc:
        raise NotACompletion(f"{type(exc).__name__}: {exc}") from exc


def streamed(
    stream: Any,
    messages: list[dict[str, str]],
    *,
    deadline: float,
    max_chars: int,
    on_tokens: Callable[[int], None] | None = None,
) -> Part:
    """The part a streamed answer carries; `stream` is the SDK's `Stream` of chunks.

    An endpoint that ignores `stream` and answers one JSON body is read as a whole answer.
    """
    response = stream.response
    if "text/event-stream" not in response.headers.get("content-type", ""):
        with stream:  # one JSON body, read to the same deadline and a size of its own
            body = bytearray()
            with contextlib.closing(_chunks(response.iter_bytes(), deadline,
                                            response.request)) as pieces:
                for piece in pieces:
                    body += piece
                    if len(body) > 4 * max_chars:
                        raise NotACompletion(f"a body of more than {4 * max_chars:,} bytes")
            return whole(_as_completion(bytes(body)), messages)
    with contextlib.closing(_chunks(stream, deadline, response.request)) as chunks:
        return _read(chunks, messages, max_chars, on_tokens)


def _chunks(source: Any, deadline: float, request: Any) -> Iterator[Any]:
    """The items of `source` (a stream's chunks, a body's bytes) until `deadline`
    (APITimeoutError then). The SDK's timeout bounds each read and starts again at every
    chunk, so they are read in a thread of their own and waited for only until the deadline;
    that thread closes a stream (llama.cpp then stops the task) at its next chunk once nobody
    waits for it."""
    arrived: queue.Queue[tuple[Any, BaseException | None, bool]] = queue.Queue()
    abandoned = threading.Event()

    def pump() -> None:
        try:
            with contextlib.ExitStack() as closing:
                if hasattr(source, "__exit__"):
                    closing.enter_context(source)
                for chunk in source:
                    if abandoned.is_set():
                        return
                    arrived.put((chunk, None, False))
        except BaseException as exc:  # noqa: BLE001  (handed to the waiting thread)
            arrived.put((None, exc, True))
            return
        arrived.put((None, None, True))

    threading.Thread(target=pump, name="llm-stream", daemon=True).start()
    try:
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise queue.Empty
                chunk, error, ended = arrived.get(timeout=left)
            except queue.Empty:
                raise openai.APITimeoutError(request=request) from None
            if error is not None:
                raise error
            if ended:
                return
            yield chunk
    finally:
        abandoned.set()


def _read(chunks: Iterator[Any], messages: list[dict[str, str]], max_chars: int,
          on_tokens: Callable[[int], None] | None) -> Part:
    pieces: list[str] = []
    size = chunks_read = 0
    finish: str | None = None
    last: Any = None
    guard = LoopGuard()
    for chunk in chunks:
        if last is None or getattr(last, "usage", None) is None:
            last = chunk  # the usage chunk, else the latest (llama.cpp's timings)
        choice = chunk.choices[0] if chunk.choices else None
        if choice is not None and choice.delta is not None and choice.delta.content:
            pieces.append(choice.delta.content)
            size += len(choice.delta.content)
            chunks_read += 1
            if on_tokens is not None:
                on_tokens(chunks_read)
        if choice is not None and choice.finish_reason:
            finish = choice.finish_reason
        if finish is None and size > max_chars:
            finish = TOO_LONG
        elif finish is None and (cut := guard.check(pieces, size)) is not None:
            pieces, finish = ["".join(pieces)[:cut]], LOOPED
        if finish in (LOOPED, TOO_LONG):
            break  # the stream is closed at its next chunk; llama.cpp then stops the task
    if last is None:
        raise NotACompletion("the stream held no chunk")
    text = "".join(pieces) if pieces or finish else None
    return Part(text=text, finish_reason=finish or "stop", usage=usage_of(last, messages, text))


def _as_completion(body: bytes) -> ChatCompletion:
    try:
        return ChatCompletion.model_validate_json(body)
    except ValueError as exc:
        raise NotACompletion(f"{type(exc).__name__}: {str(exc)[:200]}") from exc


def usage_of(response: Any, messages: list[dict[str, str]], text: str | None) -> Usage:
    """The usage an answer reports, estimated from the text where it reports none."""
    reported = getattr(response, "usage", None)
    timings = _timings(response)
    if reported is not None and reported.prompt_tokens is not None:
        prompt, completion = reported.prompt_tokens, reported.completion_tokens or 0
    elif {"prompt_n", "cache_n", "predicted_n"} <= timings.keys():  # llama.cpp, per token
        return Usage(calls=1, prompt_tokens=timings["prompt_n"] + timings["cache_n"],
                     prompt_cached_tokens=timings["cache_n"],
                     completion_tokens=timings["predicted_n"])
    else:
        prompt = sum(estimate_tokens(str(m.get("content") or "")) for m in messages)
        completion = estimate_tokens(text or "")
    cached = min(prompt, prompt_cache_hits(response, reported))
    return Usage(calls=1, prompt_tokens=prompt, prompt_cached_tokens=cached,
                 completion_tokens=completion)


def prompt_cache_hits(response: Any, reported: Any) -> int:
    """Prompt tokens the endpoint served from its cache: OpenAI's and vLLM's
    `usage.prompt_tokens_details.cached_tokens`, or llama.cpp's `timings.cache_n`."""
    details = getattr(reported, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    if isinstance(cached, int):
        return max(0, cached)
    value = _timings(response).get("cache_n")
    return max(0, value) if isinstance(value, int) else 0


def _timings(response: Any) -> dict[str, int]:
    """llama.cpp's `timings` counts of an answer or chunk; empty where it sends none."""
    extra = getattr(response, "model_extra", None) or {}
    timings = extra.get("timings") if isinstance(extra, dict) else None
    if not isinstance(timings, dict):
        return {}
    return {k: max(0, v) for k, v in timings.items() if isinstance(v, int)}
